#pragma once
/// \file
/// UTF-8 scanning for the tokenizers and the detokenizer: the length of the character at a
/// position, telling a complete character from a truncated one and from invalid bytes.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace reel::text {

/// What the bytes at a position of a UTF-8 string hold.
enum class Utf8Status {
  Complete,    ///< a whole, well-formed character of `length` bytes
  Incomplete,  ///< the start of a well-formed character cut off by the end of the string
  Invalid,     ///< a maximal ill-formed subsequence: a byte that starts no character, or a lead
               ///< byte and the continuation bytes that fit it before one that does not
};

struct Utf8Char {
  Utf8Status status = Utf8Status::Invalid;
  size_t length = 1;  ///< bytes the character (or the incomplete prefix, or the ill-formed bytes) take
};

/// Classifies the character starting at `text[at]` (at < text.size()). Overlong forms,
/// surrogates and code points above U+10FFFF are invalid, as RFC 3629 says.
[[nodiscard]] Utf8Char scanUtf8(std::string_view text, size_t at);

/// The code point of a complete character of `length` bytes at `text[at]` (as scanUtf8 found it).
[[nodiscard]] uint32_t decodeUtf8(std::string_view text, size_t at, size_t length);

/// The UTF-8 encoding of a code point (at most U+10FFFF).
[[nodiscard]] std::string encodeUtf8(uint32_t codePoint);

/// U+FFFD, which stands for bytes that are not UTF-8.
inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

/// `text` with each maximal ill-formed subsequence (and a character cut off by the end)
/// replaced by one U+FFFD: what a decoder that follows the Unicode standard's substitution of
/// maximal subparts (the WHATWG Encoding Standard's UTF-8 decoder among them) reads.
[[nodiscard]] std::string replaceIllFormed(std::string_view text);

}  // namespace reel::text
