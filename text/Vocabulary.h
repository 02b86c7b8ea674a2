#pragma once
/// \file
/// A tokenizer's vocabulary as a GGUF file's metadata carries it (`tokenizer.ggml.*`): the
/// tokens with their scores and types, the BPE merges, the special token ids and the
/// flags that say how text is prepared. Reading it validates every field; a defect is a
/// one-line reel::Error naming the file and the key, e.g.
///   "model.gguf: metadata key 'tokenizer.ggml.scores': 3 scores for 5 tokens".
///
/// Usage:
///   Vocabulary vocab = Vocabulary::fromMetadata(GgufFile::open("m.gguf").metadata());
///   std::optional<int32_t> id = vocab.find("<s>");

#include "runtime/gguf/GgufMetadata.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace reel::text {

/// `tokenizer.ggml.model`: which algorithm turns text into ids.
enum class TokenizerModel {
  SentencePiece,  ///< "llama": Llama 2, TinyLlama, Mistral
  ByteLevelBpe,   ///< "gpt2": Llama 3, Qwen2.5
};

/// `tokenizer.ggml.token_type`, as llama.cpp numbers it.
enum class TokenType : int32_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

/// `tokenizer.ggml.pre`: how byte-level BPE splits text into words before merging.
enum class PreTokenizer {
  Gpt2,    ///< "default", "gpt2", "gpt-2": the GPT-2 regex
  Llama3,  ///< "llama-bpe", "llama3", "llama-v3": digits in runs of up to three
  Qwen2,   ///< "qwen2": the Llama-3 regex with single digits
};

/// The `tokenizer.ggml.pre` values reel knows, for messages: "default, gpt2, ...".
[[nodiscard]] std::string knownPreTokenizers();

/// A special token id: absent, or an index into the tokens.
using TokenId = int32_t;

struct Vocabulary {
  TokenizerModel model = TokenizerModel::SentencePiece;
  PreTokenizer pre = PreTokenizer::Gpt2;
  std::vector<std::string> tokens;
  std::vector<float> scores;     ///< one per token (0 where the file has none)
  std::vector<TokenType> types;  ///< one per token (Normal where the file has none)
  /// BPE: the rank of each merge, keyed by "left right" exactly as the file writes it.
  std::unordered_map<std::string, int32_t> mergeRanks;
  std::optional<TokenId> bos, eos, unk, eot, padding;
  bool addBos = false;
  bool addEos = false;
  bool addSpacePrefix = false;
  /// Byte-level BPE: a word that is a token as a whole is that token, merges or not (Llama 3).
  bool ignoreMerges = false;

  /// Reads and validates the `tokenizer.ggml.*` keys; throws a reel::Error naming the key.
  [[nodiscard]] static Vocabulary fromMetadata(const GgufMetadata& metadata);

  [[nodiscard]] size_t size() const { return tokens.size(); }
  /// The id of the token with exactly this text.
  [[nodiscard]] std::optional<TokenId> find(std::string_view text) const;
  /// The rank of merging `left` and `right`, or nullopt where there is no such merge.
  [[nodiscard]] std::optional<int32_t> mergeRank(std::string_view left, std::string_view right) const;
  [[nodiscard]] TokenType type(TokenId id) const { return types[static_cast<size_t>(id)]; }
  /// Whether generating `id` ends a generation, as llama.cpp decides: EOS, EOT, and the
  /// control or user-defined tokens of the end markers chat models use (`<|eot_id|>`,
  /// `<|im_end|>`, `<|end_of_text|>`, `<|endoftext|>`, `<|eom_id|>`, `<|end|>`,
  /// `<end_of_turn>`, `</s>`, ...). False for an id out of range.
  [[nodiscard]] bool isEndOfGeneration(TokenId id) const;
  /// Every end-of-generation token of the vocabulary, in id order.
  [[nodiscard]] std::vector<TokenId> endOfGenerationTokens() const;

 private:
  std::unordered_map<std::string, TokenId> index_;
};

}  // namespace reel::text
