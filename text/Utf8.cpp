#include "text/Utf8.h"

namespace reel::text {

Utf8Char scanUtf8(std::string_view text, size_t at) {
  const auto byteAt = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byteAt(at);
  if (lead < 0x80) return {Utf8Status::Complete, 1};
  size_t length = 0;
  // The range the second byte must lie in: narrower than 80..BF after the lead bytes that
  // would otherwise allow overlong forms (E0, F0), surrogates (ED) or code points above
  // U+10FFFF (F4).
  uint8_t low = 0x80;
  uint8_t high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return {Utf8Status::Invalid, 1};
  }
  for (size_t i = 1; i < length; ++i) {
    if (at + i >= text.size()) return {Utf8Status::Incomplete, i};
    const uint8_t byte = byteAt(at + i);
    const uint8_t min = i == 1 ? low : uint8_t{0x80};
    const uint8_t max = i == 1 ? high : uint8_t{0xBF};
    if (byte < min || byte > max) return {Utf8Status::Invalid, i};
  }
  return {Utf8Status::Complete, length};
}

uint32_t decodeUtf8(std::string_view text, size_t at, size_t length) {
  const auto byteAt = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(text[at + i])); };
  if (length == 1) return byteAt(0);
  // The lead byte keeps 7 - length payload bits; each continuation byte 6.
  uint32_t point = byteAt(0) & (0x7Fu >> length);
  for (size_t i = 1; i < length; ++i) point = (point << 6) | (byteAt(i) & 0x3F);
  return point;
}

std::string replaceIllFormed(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t at = 0; at < text.size();) {
    const Utf8Char c = scanUtf8(text, at);
    if (c.status == Utf8Status::Complete) {
      out.append(text, at, c.length);
    } else {
      out += kReplacementChar;
    }
    at += c.length;
  }
  return out;
}

std::string encodeUtf8(uint32_t codePoint) {
  std::string out;
  if (codePoint < 0x80) {
    out += static_cast<char>(codePoint);
  } else if (codePoint < 0x800) {
    out += static_cast<char>(0xC0 | (codePoint >> 6));
    out += static_cast<char>(0x80 | (codePoint & 0x3F));
  } else if (codePoint < 0x10000) {
    out += static_cast<char>(0xE0 | (codePoint >> 12));
    out += static_cast<char>(0x80 | ((codePoint >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (codePoint & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (codePoint >> 18));
    out += static_cast<char>(0x80 | ((codePoint >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((codePoint >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (codePoint & 0x3F));
  }
  return out;
}

}  // namespace reel::text
