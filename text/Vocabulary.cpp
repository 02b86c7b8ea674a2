#include "text/Vocabulary.h"

#include "support/Diagnostics.h"

#include <algorithm>
#include <array>

namespace reel::text {
namespace {

constexpr std::string_view kModelKey = "tokenizer.ggml.model";
constexpr std::string_view kTokensKey = "tokenizer.ggml.tokens";
constexpr std::string_view kScoresKey = "tokenizer.ggml.scores";
constexpr std::string_view kTypesKey = "tokenizer.ggml.token_type";
constexpr std::string_view kMergesKey = "tokenizer.ggml.merges";
constexpr std::string_view kPreKey = "tokenizer.ggml.pre";

struct PreTokenizerName {
  std::string_view name;
  PreTokenizer pre;
  bool ignoreMerges;
};

// The names llama.cpp's converter writes for the pre-tokenizers reel implements.
constexpr std::array<PreTokenizerName, 7> kPreTokenizers{{
    {"default", PreTokenizer::Gpt2, false},
    {"gpt2", PreTokenizer::Gpt2, false},
    {"gpt-2", PreTokenizer::Gpt2, false},
    {"llama-bpe", PreTokenizer::Llama3, true},
    {"llama3", PreTokenizer::Llama3, true},
    {"llama-v3", PreTokenizer::Llama3, true},
    {"qwen2", PreTokenizer::Qwen2, false},
}};

class Reader {
 public:
  explicit Reader(const GgufMetadata& metadata) : metadata_(metadata) {}

  template <typename... Args>
  [[noreturn]] void fail(std::string_view key, fmt::format_string<Args...> format, Args&&... args) const {
    failPlain("{}: metadata key {}: {}", metadata_.source(), quoteForMessage(key),
              fmt::format(format, std::forward<Args>(args)...));
  }

  /// An array of one value per token, or `fallback` for each token where the key is absent.
  template <typename T>
  std::vector<T> perToken(std::string_view key, size_t count, T fallback, std::string_view what) const {
    if (!metadata_.contains(key)) return std::vector<T>(count, fallback);
    std::vector<T> values = metadata_.getArrayOf<T>(key);
    if (values.size() != count) fail(key, "{} {} for {} tokens", values.size(), what, count);
    return values;
  }

  std::optional<TokenId> tokenId(std::string_view key, size_t count, std::optional<TokenId> fallback) const {
    if (!metadata_.contains(key)) {
      if (fallback && static_cast<size_t>(*fallback) < count) return fallback;
      return std::nullopt;
    }
    const int64_t id = metadata_.getInteger(key);
    // llama.cpp writes -1 (or its u32 form) for "none".
    if (id == -1 || id == 0xFFFFFFFFLL) return std::nullopt;
    if (id < 0 || static_cast<uint64_t>(id) >= count) fail(key, "token id {} is out of range (0..{})", id, count - 1);
    return static_cast<TokenId>(id);
  }

  bool flag(std::string_view key, bool fallback) const {
    return metadata_.contains(key) ? metadata_.getBool(key) : fallback;
  }

  const GgufMetadata& metadata() const { return metadata_; }

 private:
  const GgufMetadata& metadata_;
};

std::vector<TokenType> readTypes(const Reader& reader, size_t count) {
  const std::vector<int32_t> raw = reader.perToken<int32_t>(kTypesKey, count, 1, "token types");
  std::vector<TokenType> types(count);
  for (size_t i = 0; i < count; ++i) {
    if (raw[i] < 0 || raw[i] > static_cast<int32_t>(TokenType::Byte))
      reader.fail(kTypesKey, "token {} has type {} (expected 0..6)", i, raw[i]);
    types[i] = static_cast<TokenType>(raw[i]);
  }
  return types;
}

void readMerges(const Reader& reader, Vocabulary& vocab) {
  const std::vector<std::string>& merges = reader.metadata().getStringArray(kMergesKey);
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string& merge = merges[i];
    // "left right": the split is the first space after the first byte (a piece may itself
    // be a space only in a vocabulary without the byte map, where it would be the first byte).
    const size_t space = merge.find(' ', 1);
    if (space == std::string::npos || space + 1 >= merge.size())
      reader.fail(kMergesKey, "merge {} {} is not two pieces separated by a space", i, quoteForMessage(merge));
    vocab.mergeRanks.emplace(merge, static_cast<int32_t>(i));
  }
}

void readPre(const Reader& reader, Vocabulary& vocab) {
  const std::string name = reader.metadata().contains(kPreKey) ? reader.metadata().getString(kPreKey) : "default";
  for (const PreTokenizerName& known : kPreTokenizers) {
    if (known.name != name) continue;
    vocab.pre = known.pre;
    vocab.ignoreMerges = known.ignoreMerges;
    return;
  }
  reader.fail(kPreKey, "unknown pre-tokenizer {} (known: {})", quoteForMessage(name), knownPreTokenizers());
}

}  // namespace

std::string knownPreTokenizers() {
  std::string text;
  for (const PreTokenizerName& known : kPreTokenizers) {
    if (!text.empty()) text += ", ";
    text += known.name;
  }
  return text;
}

Vocabulary Vocabulary::fromMetadata(const GgufMetadata& metadata) {
  const Reader reader(metadata);
  Vocabulary vocab;
  const std::string& model = metadata.getString(kModelKey);
  if (model == "llama") {
    vocab.model = TokenizerModel::SentencePiece;
  } else if (model == "gpt2") {
    vocab.model = TokenizerModel::ByteLevelBpe;
  } else {
    reader.fail(kModelKey, "unknown tokenizer model {} (known: llama, gpt2)", quoteForMessage(model));
  }
  const bool spm = vocab.model == TokenizerModel::SentencePiece;

  vocab.tokens = metadata.getStringArray(kTokensKey);
  const size_t count = vocab.tokens.size();
  if (count == 0) reader.fail(kTokensKey, "the vocabulary is empty");
  if (count > static_cast<size_t>(INT32_MAX)) reader.fail(kTokensKey, "{} tokens is more than ids can number", count);
  vocab.scores = reader.perToken<float>(kScoresKey, count, 0.0f, "scores");
  vocab.types = readTypes(reader, count);
  for (size_t i = 0; i < count; ++i) vocab.index_.emplace(vocab.tokens[i], static_cast<TokenId>(i));

  if (spm) {
    vocab.bos = reader.tokenId("tokenizer.ggml.bos_token_id", count, 1);
    vocab.eos = reader.tokenId("tokenizer.ggml.eos_token_id", count, 2);
    vocab.unk = reader.tokenId("tokenizer.ggml.unknown_token_id", count, 0);
  } else {
    readMerges(reader, vocab);
    readPre(reader, vocab);
    vocab.bos = reader.tokenId("tokenizer.ggml.bos_token_id", count, std::nullopt);
    vocab.eos = reader.tokenId("tokenizer.ggml.eos_token_id", count, std::nullopt);
    vocab.unk = reader.tokenId("tokenizer.ggml.unknown_token_id", count, std::nullopt);
  }
  vocab.eot = reader.tokenId("tokenizer.ggml.eot_token_id", count, std::nullopt);
  vocab.padding = reader.tokenId("tokenizer.ggml.padding_token_id", count, std::nullopt);
  vocab.addBos = reader.flag("tokenizer.ggml.add_bos_token", spm);
  vocab.addEos = reader.flag("tokenizer.ggml.add_eos_token", false);
  vocab.addSpacePrefix = reader.flag("tokenizer.ggml.add_space_prefix", spm);
  if (vocab.addBos && !vocab.bos)
    reader.fail("tokenizer.ggml.add_bos_token", "is true but the file names no BOS token");
  if (vocab.addEos && !vocab.eos)
    reader.fail("tokenizer.ggml.add_eos_token", "is true but the file names no EOS token");
  return vocab;
}

std::optional<TokenId> Vocabulary::find(std::string_view text) const {
  const auto it = index_.find(std::string(text));
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

namespace {

/// The texts of the end markers llama.cpp treats as end of generation when they are
/// control or user-defined tokens.
constexpr std::array<std::string_view, 12> kEndOfGenerationTexts = {
    "</s>",    "<|eot_id|>",    "<|im_end|>", "<|end_of_text|>", "<|endoftext|>", "<|eom_id|>",
    "<|end|>", "<end_of_turn>", "<EOT>",      "_<EOT>",          "<|return|>",    "<｜end▁of▁sentence｜>"};

}  // namespace

bool Vocabulary::isEndOfGeneration(TokenId id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens.size()) return false;
  if (id == eos || id == eot) return true;
  const TokenType kind = type(id);
  if (kind != TokenType::Control && kind != TokenType::UserDefined) return false;
  const std::string& text = tokens[static_cast<size_t>(id)];
  return std::find(kEndOfGenerationTexts.begin(), kEndOfGenerationTexts.end(), text) != kEndOfGenerationTexts.end();
}

std::vector<TokenId> Vocabulary::endOfGenerationTokens() const {
  std::vector<TokenId> ids;
  if (eos) ids.push_back(*eos);
  if (eot) ids.push_back(*eot);
  for (std::string_view text : kEndOfGenerationTexts)
    if (std::optional<TokenId> id = find(text); id && isEndOfGeneration(*id)) ids.push_back(*id);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

std::optional<int32_t> Vocabulary::mergeRank(std::string_view left, std::string_view right) const {
  std::string key;
  key.reserve(left.size() + right.size() + 1);
  key.append(left).append(" ").append(right);
  const auto it = mergeRanks.find(key);
  if (it == mergeRanks.end()) return std::nullopt;
  return it->second;
}

}  // namespace reel::text
