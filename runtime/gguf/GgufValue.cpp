#include "runtime/gguf/GgufValue.h"

#include <fmt/format.h>

#include <stdexcept>

namespace reel {

GgufArray GgufArray::ofStrings(std::vector<std::string> values) {
  GgufArray array(GgufValueType::String);
  array.count_ = values.size();
  array.strings_ = std::move(values);
  return array;
}

GgufArray GgufArray::ofArrays(std::vector<GgufArray> values) {
  GgufArray array(GgufValueType::Array);
  array.count_ = values.size();
  array.arrays_ = std::move(values);
  return array;
}

GgufArray GgufArray::fromPackedScalars(GgufValueType elementType, std::vector<uint8_t> bytes) {
  const size_t elementSize = ggufScalarSize(elementType);
  if (elementSize == 0 || bytes.size() % elementSize != 0) {
    throw std::invalid_argument("GgufArray::fromPackedScalars: not a whole number of scalars");
  }
  if (elementType == GgufValueType::Bool) {
    for (uint8_t byte : bytes) {
      if (byte > 1) throw std::invalid_argument("GgufArray::fromPackedScalars: a bool is neither 0 nor 1");
    }
  }
  GgufArray array(elementType);
  array.count_ = bytes.size() / elementSize;
  array.scalars_ = std::move(bytes);
  return array;
}

namespace {

/// The text form of a scalar alternative.
template <typename T>
std::string scalarText(const T& value) {
  if constexpr (std::is_same_v<T, uint8_t> || std::is_same_v<T, int8_t>) {
    return fmt::format("{}", static_cast<int>(value));
  } else {
    return fmt::format("{}", value);
  }
}

}  // namespace

std::string GgufValue::str() const {
  const std::string_view typeName = ggufValueTypeName(type());
  if (const std::string* text = string()) return fmt::format("string {}", quoteForMessage(*text));
  if (const GgufArray* values = array()) {
    return fmt::format("array<{}>[{}]", ggufValueTypeName(values->elementType()), values->size());
  }
  return std::visit(
      [&](const auto& value) -> std::string {
        using T = std::decay_t<decltype(value)>;
        if constexpr (GgufScalar<T>) {
          return fmt::format("{} {}", typeName, scalarText(value));
        } else {
          return std::string(typeName);
        }
      },
      storage_);
}

}  // namespace reel
