#include "runtime/gguf/GgufMetadata.h"

#include "support/Diagnostics.h"

#include <limits>

namespace reel {

void GgufMetadata::set(std::string key, GgufValue value) {
  if (auto found = index_.find(key); found != index_.end()) {
    entries_[found->second].value = std::move(value);
    return;
  }
  index_.emplace(key, entries_.size());
  entries_.push_back({std::move(key), std::move(value)});
}

bool GgufMetadata::erase(std::string_view key) {
  auto found = index_.find(key);
  if (found == index_.end()) return false;
  entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(found->second));
  index_.clear();
  for (size_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].key, i);
  return true;
}

const GgufValue* GgufMetadata::find(std::string_view key) const {
  auto found = index_.find(key);
  return found == index_.end() ? nullptr : &entries_[found->second].value;
}

const GgufValue& GgufMetadata::get(std::string_view key) const {
  if (const GgufValue* value = find(key)) return *value;
  failPlain("{}: metadata key {} is missing", source_, quoteForMessage(key));
}

int64_t GgufMetadata::getInteger(std::string_view key) const {
  const GgufValue& value = get(key);
  return std::visit(
      [&](const auto& scalar) -> int64_t {
        using T = std::decay_t<decltype(scalar)>;
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          if constexpr (std::is_same_v<T, uint64_t>) {
            if (scalar > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
              failPlain("{}: metadata key {}: u64 value {} is out of range", source_, quoteForMessage(key), scalar);
            }
          }
          return static_cast<int64_t>(scalar);
        } else {
          failWrongType(key, value, "an integer");
        }
      },
      value.storage());
}

double GgufMetadata::getFloat(std::string_view key) const {
  const GgufValue& value = get(key);
  if (auto f32 = value.get<float>()) return *f32;
  if (auto f64 = value.get<double>()) return *f64;
  failWrongType(key, value, "f32 or f64");
}

const std::string& GgufMetadata::getString(std::string_view key) const {
  const GgufValue& value = get(key);
  if (const std::string* text = value.string()) return *text;
  failWrongType(key, value, "string");
}

const GgufArray& GgufMetadata::getArray(std::string_view key) const {
  const GgufValue& value = get(key);
  if (const GgufArray* array = value.array()) return *array;
  failWrongType(key, value, "array");
}

const std::vector<std::string>& GgufMetadata::getStringArray(std::string_view key) const {
  const GgufArray& array = getArray(key);
  if (array.elementType() != GgufValueType::String) failWrongElementType(key, array, "string");
  return array.strings();
}

void GgufMetadata::failWrongType(std::string_view key, const GgufValue& value, std::string_view expected) const {
  failPlain("{}: metadata key {} is {}, expected {}", source_, quoteForMessage(key), ggufValueTypeName(value.type()),
            expected);
}

void GgufMetadata::failWrongElementType(std::string_view key, const GgufArray& array, std::string_view expected) const {
  failPlain("{}: metadata key {} is array<{}>, expected array<{}>", source_, quoteForMessage(key),
            ggufValueTypeName(array.elementType()), expected);
}

}  // namespace reel
