#pragma once
/// \file
/// Appends GGUF encodings (little-endian scalars, strings, metadata values, arrays) to a
/// byte buffer: the building blocks of the writer's header.

#include "runtime/gguf/GgufValue.h"

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace reel::gguf_encoding {

/// Appends one scalar as its little-endian bytes.
template <GgufScalar T>
void appendScalar(std::vector<uint8_t>& out, T value) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &value, sizeof(T));
}

/// Appends a GGUF string: u64 length, then the bytes.
void appendString(std::vector<uint8_t>& out, std::string_view text);

/// Appends an array: u32 element type, u64 count, elements.
void appendArray(std::vector<uint8_t>& out, const GgufArray& array);

/// Appends a value without its type tag (the caller writes the tag first).
void appendValue(std::vector<uint8_t>& out, const GgufValue& value);

/// Depth of array nesting of a value: 0 for scalars and strings, 1 for a flat array.
[[nodiscard]] unsigned arrayDepth(const GgufValue& value);

}  // namespace reel::gguf_encoding
