#include "text/ByteMap.h"

#include "text/Utf8.h"

namespace reel::text {
namespace {

bool standsForItself(uint32_t byte) {
  return (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || (byte >= 0xAE && byte <= 0xFF);
}

/// The code point of each byte.
std::array<uint32_t, 256> byteCodePoints() {
  std::array<uint32_t, 256> points{};
  uint32_t next = 256;
  for (uint32_t byte = 0; byte < 256; ++byte) points[byte] = standsForItself(byte) ? byte : next++;
  return points;
}

}  // namespace

const std::array<std::string, 256>& bpeByteChars() {
  static const std::array<std::string, 256> chars = [] {
    std::array<std::string, 256> table;
    const std::array<uint32_t, 256> points = byteCodePoints();
    for (size_t byte = 0; byte < 256; ++byte) table[byte] = encodeUtf8(points[byte]);
    return table;
  }();
  return chars;
}

std::optional<uint8_t> bpeCharByte(uint32_t codePoint) {
  // Bytes standing for themselves, then U+0100.. for the rest in byte order (68 of them).
  static const std::array<int16_t, 256 + 68> bytes = [] {
    std::array<int16_t, 256 + 68> table{};
    table.fill(-1);
    const std::array<uint32_t, 256> points = byteCodePoints();
    for (size_t byte = 0; byte < 256; ++byte) table[points[byte]] = static_cast<int16_t>(byte);
    return table;
  }();
  if (codePoint >= bytes.size() || bytes[codePoint] < 0) return std::nullopt;
  return static_cast<uint8_t>(bytes[codePoint]);
}

}  // namespace reel::text
