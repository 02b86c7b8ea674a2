#include "text/PreTokenize.h"

#include "support/Diagnostics.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace reel::text {

struct WordSplitter::Compiled {
  pcre2_code* code = nullptr;
  ~Compiled() { pcre2_code_free(code); }
};

std::string_view WordSplitter::pattern(PreTokenizer pre) {
  switch (pre) {
    case PreTokenizer::Gpt2:
      return R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
    case PreTokenizer::Llama3:
      return R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
    case PreTokenizer::Qwen2:
      return R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  }
  return {};
}

WordSplitter::WordSplitter(PreTokenizer pre) : compiled_(std::make_unique<Compiled>()) {
  const std::string_view source = pattern(pre);
  int errorCode = 0;
  PCRE2_SIZE errorOffset = 0;
  // UCP: \s, \d and \w follow Unicode properties too. MATCH_INVALID_UTF: invalid bytes in
  // the subject are allowed and simply never match.
  compiled_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(source.data()), source.size(),
                                  PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &errorCode, &errorOffset, nullptr);
  if (!compiled_->code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(errorCode, message, sizeof message);
    failPlain("pre-tokenizer regex: {} at offset {}", reinterpret_cast<const char*>(message), errorOffset);
  }
}

WordSplitter::WordSplitter(WordSplitter&&) noexcept = default;
WordSplitter& WordSplitter::operator=(WordSplitter&&) noexcept = default;
WordSplitter::~WordSplitter() = default;

std::vector<std::string_view> WordSplitter::split(std::string_view text) const {
  std::vector<std::string_view> words;
  pcre2_match_data* match = pcre2_match_data_create_from_pattern(compiled_->code, nullptr);
  if (!match) failPlain("pre-tokenizer: out of memory");
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t at = 0;
  size_t gapStart = 0;
  while (at < text.size()) {
    const int rc = pcre2_match(compiled_->code, subject, text.size(), at, 0, match, nullptr);
    if (rc < 0) break;  // PCRE2_ERROR_NOMATCH: the rest is one gap
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match);
    const size_t start = ovector[0];
    const size_t end = ovector[1];
    if (start > gapStart) words.push_back(text.substr(gapStart, start - gapStart));
    if (end == start) {  // the patterns match no empty word; step on to be safe
      at = start + 1;
      gapStart = start;
      continue;
    }
    words.push_back(text.substr(start, end - start));
    at = end;
    gapStart = end;
  }
  if (gapStart < text.size()) words.push_back(text.substr(gapStart));
  pcre2_match_data_free(match);
  return words;
}

}  // namespace reel::text
