#pragma once
/// \file
/// GPT-2's byte-to-unicode map, which byte-level BPE vocabularies are written in: the
/// printable bytes '!'..'~', U+00A1..U+00AC and U+00AE..U+00FF stand for themselves, the
/// other 68 bytes for U+0100 onwards in byte order, so every piece is printable text.

#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace reel::text {

/// The character (UTF-8) each byte is written as.
[[nodiscard]] const std::array<std::string, 256>& bpeByteChars();

/// The byte a character of the map stands for, or nullopt for other code points.
[[nodiscard]] std::optional<uint8_t> bpeCharByte(uint32_t codePoint);

}  // namespace reel::text
