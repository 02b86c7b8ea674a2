#include "runtime/gguf/GgufEncoding.h"

#include <algorithm>

namespace reel::gguf_encoding {

void appendString(std::vector<uint8_t>& out, std::string_view text) {
  appendScalar<uint64_t>(out, text.size());
  out.insert(out.end(), text.begin(), text.end());
}

void appendArray(std::vector<uint8_t>& out, const GgufArray& array) {
  appendScalar<uint32_t>(out, static_cast<uint32_t>(array.elementType()));
  appendScalar<uint64_t>(out, array.size());
  switch (array.elementType()) {
    case GgufValueType::String:
      for (const std::string& text : array.strings()) appendString(out, text);
      break;
    case GgufValueType::Array:
      for (const GgufArray& inner : array.arrays()) appendArray(out, inner);
      break;
    default:
      out.insert(out.end(), array.packedScalars().begin(), array.packedScalars().end());
      break;
  }
}

void appendValue(std::vector<uint8_t>& out, const GgufValue& value) {
  std::visit(
      [&](const auto& alternative) {
        using T = std::decay_t<decltype(alternative)>;
        if constexpr (GgufScalar<T>) {
          appendScalar<T>(out, alternative);
        } else if constexpr (std::is_same_v<T, std::string>) {
          appendString(out, alternative);
        } else {
          appendArray(out, alternative);
        }
      },
      value.storage());
}

namespace {

unsigned arrayDepth(const GgufArray& array) {
  unsigned innerDepth = 0;
  for (const GgufArray& inner : array.arrays()) innerDepth = std::max(innerDepth, arrayDepth(inner));
  return 1 + innerDepth;
}

}  // namespace

unsigned arrayDepth(const GgufValue& value) {
  const GgufArray* array = value.array();
  return array == nullptr ? 0 : arrayDepth(*array);
}

}  // namespace reel::gguf_encoding
