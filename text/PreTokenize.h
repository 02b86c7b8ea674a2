#pragma once
/// \file
/// The byte-level BPE pre-tokenizer: the regex that splits text into words before the
/// merges, one per `tokenizer.ggml.pre` family, run with PCRE2 (UTF and Unicode
/// properties on, so \p{L}, \p{N} and \s mean what they mean in the reference tokenizers).

#include "text/Vocabulary.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace reel::text {

/// A compiled pre-tokenizer regex (move-only; owns the PCRE2 code).
class WordSplitter {
 public:
  explicit WordSplitter(PreTokenizer pre);
  WordSplitter(WordSplitter&&) noexcept;
  WordSplitter& operator=(WordSplitter&&) noexcept;
  ~WordSplitter();

  /// The words of `text`, in order; together they are exactly `text`. Bytes that are not
  /// UTF-8 match no pattern; each run of them between matches is a word of its own.
  [[nodiscard]] std::vector<std::string_view> split(std::string_view text) const;

  /// The pattern of a pre-tokenizer, as the reference tokenizer publishes it.
  [[nodiscard]] static std::string_view pattern(PreTokenizer pre);

 private:
  struct Compiled;
  std::unique_ptr<Compiled> compiled_;
};

}  // namespace reel::text
