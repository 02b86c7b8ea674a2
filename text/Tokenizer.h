#pragma once
/// \file
/// Text to token ids and back, for the two tokenizer models of GGUF files.
///
/// Encoding first cuts the text at special tokens (control and user-defined tokens,
/// leftmost first and at one place the longest), then tokenizes each piece of plain text:
///  - SentencePiece ("llama"): spaces become U+2581, a space is put before text that starts
///    the input or follows a special token (add_space_prefix), the characters are merged
///    pairwise, always the adjacent pair whose merged piece is a token of the highest score
///    (leftmost on ties), as llama.cpp's SPM tokenizer does; a symbol that is no token
///    becomes its bytes' `<0xNN>` tokens, or the unknown token where those are missing.
///  - byte-level BPE ("gpt2"): the pre-tokenizer regex splits the text into words, each
///    word's bytes are mapped to characters by GPT-2's byte-to-unicode table and merged
///    pairwise by merge rank (lowest first, leftmost on ties).
/// BOS goes first where the vocabulary says add_bos_token, EOS last for add_eos_token.
///
/// Usage:
///   Tokenizer tokenizer(Vocabulary::fromMetadata(file.metadata()));
///   std::vector<TokenId> ids = tokenizer.encode("Hello world");
///   std::string text = tokenizer.decode(ids);

#include "text/PreTokenize.h"
#include "text/Vocabulary.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace reel::text {

struct EncodeOptions {
  bool addSpecial = true;    ///< BOS / EOS as the vocabulary's add_bos_token / add_eos_token say
  bool parseSpecial = true;  ///< control tokens written in the text are those tokens (else only user-defined ones)
};

class Tokenizer {
 public:
  explicit Tokenizer(Vocabulary vocab);

  /// The ids of `text`. Bytes that are not UTF-8 are read as U+FFFD, one per maximal
  /// ill-formed subsequence (replaceIllFormed), as the reference tokenizers read them.
  [[nodiscard]] std::vector<TokenId> encode(std::string_view text, const EncodeOptions& options = {}) const;

  /// The bytes a token stands for: U+2581 as a space, `<0xNN>` as the byte, the byte-level
  /// characters as their bytes. Control tokens (BOS, EOS, ...) give nothing unless
  /// `renderSpecial`, then their text. Throws a reel::Error for an id out of range.
  [[nodiscard]] std::string piece(TokenId id, bool renderSpecial = false) const;

  /// The text of a sequence of ids: the pieces concatenated, less the space the
  /// SentencePiece leading-space rule put before the first word. May hold bytes that are
  /// not UTF-8 where the ids do (StreamDecoder replaces them).
  [[nodiscard]] std::string decode(const std::vector<TokenId>& ids, bool renderSpecial = false) const;

  [[nodiscard]] const Vocabulary& vocabulary() const { return vocab_; }

 private:
  void encodeSentencePiece(std::string_view text, bool afterSpecial, std::vector<TokenId>& out) const;
  void encodeBpe(std::string_view text, std::vector<TokenId>& out) const;
  void encodeBpeWord(std::string_view word, std::vector<TokenId>& out) const;
  void pushBytes(std::string_view bytes, std::vector<TokenId>& out) const;

  Vocabulary vocab_;
  std::vector<TokenId> specials_;    ///< control and user-defined tokens, longest text first
  std::vector<TokenId> byteTokens_;  ///< SentencePiece: the `<0xNN>` token of each byte, or -1
  std::optional<WordSplitter> splitter_;
};

/// Turns ids into text as they are generated, printing only whole UTF-8 characters: the
/// bytes of a character cut between tokens wait for the token that completes it. Bytes that
/// can never be UTF-8 come out as U+FFFD at once; an incomplete character still waiting
/// when the stream ends comes out as U+FFFD from finish().
class StreamDecoder {
 public:
  /// `continuesText`: the ids continue a text (a prompt's generation), so the first piece
  /// keeps its leading space, as llama.cpp prints generated pieces; otherwise the stream is a
  /// whole text and drops it as Tokenizer::decode does.
  explicit StreamDecoder(const Tokenizer& tokenizer, bool continuesText = false)
      : tokenizer_(tokenizer), first_(!continuesText) {}

  /// The text that `id` completes (possibly empty).
  [[nodiscard]] std::string push(TokenId id);
  /// What is still held back, as U+FFFD per incomplete character.
  [[nodiscard]] std::string finish();
  /// The bytes of `id` as they are, whole characters or not (less the leading space of the
  /// first text, as Tokenizer::decode drops it, unless the stream continues a text).
  [[nodiscard]] std::string pushRaw(TokenId id, bool renderSpecial);

 private:
  const Tokenizer& tokenizer_;
  std::string pending_;
  bool first_ = true;
};

}  // namespace reel::text
