#pragma once
/// \file
/// Hand-made vocabularies for the tokenizer tests, carried through a GGUF file in memory
/// (written by GgufWriter, read back by GgufFile) as a model file would carry them.

#include "runtime/gguf/GgufFile.h"
#include "runtime/gguf/GgufWriter.h"
#include "text/ByteMap.h"
#include "text/Tokenizer.h"

#include <fmt/format.h>

#include <string>
#include <vector>

namespace reel::test {

/// One token of a hand-made vocabulary.
struct TestToken {
  std::string text;
  float score = 0;
  int32_t type = 1;  ///< 1 normal, 2 unknown, 3 control, 4 user-defined, 6 byte
};

/// The metadata of a vocabulary: model, tokens, scores and types (other keys added by the test).
inline GgufMetadata vocabularyMetadata(const std::string& model, const std::vector<TestToken>& tokens) {
  GgufMetadata metadata("vocab.gguf");
  std::vector<std::string> texts;
  std::vector<float> scores;
  std::vector<int32_t> types;
  for (const TestToken& token : tokens) {
    texts.push_back(token.text);
    scores.push_back(token.score);
    types.push_back(token.type);
  }
  metadata.set("general.architecture", "llama");
  metadata.set("tokenizer.ggml.model", model);
  metadata.set("tokenizer.ggml.tokens", GgufArray::ofStrings(texts));
  metadata.set("tokenizer.ggml.scores", GgufArray::of(scores));
  metadata.set("tokenizer.ggml.token_type", GgufArray::of(types));
  return metadata;
}

/// The vocabulary of `metadata` after a trip through GGUF bytes and the reader.
inline text::Vocabulary loadVocabulary(const GgufMetadata& metadata) {
  const std::vector<uint8_t> bytes = serializeGguf(metadata, {});
  const GgufFile file = GgufFile::fromMemory(bytes, "vocab.gguf");
  return text::Vocabulary::fromMetadata(file.metadata());
}

/// The message of the reel::Error that reading `metadata` as a vocabulary throws ("" if none).
inline std::string vocabularyError(const GgufMetadata& metadata) {
  try {
    (void)loadVocabulary(metadata);
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

/// A SentencePiece vocabulary: <unk>, <s>, </s>, the 256 byte tokens <0x00>..<0xFF> (id
/// 3 + byte), then "▁", "h", "e", "l", "o" (ids 259..263) and the merged pieces with their
/// scores: "he" -1 (264), "ll" -2 (265), "lo" -0.5 (266), "▁he" -3 (267), "▁h" -4 (268),
/// "▁▁" -6 (269).
inline constexpr int32_t kSpmByte0 = 3;
inline constexpr int32_t kSpmSpace = 259, kSpmH = 260, kSpmE = 261, kSpmL = 262, kSpmO = 263;
inline constexpr int32_t kSpmHe = 264, kSpmLl = 265, kSpmLo = 266, kSpmSpaceHe = 267, kSpmSpaceH = 268;
inline constexpr int32_t kSpmSpaceSpace = 269;

inline std::vector<TestToken> spmTokens(bool withBytes = true) {
  std::vector<TestToken> tokens{{"<unk>", 0, 2}, {"<s>", 0, 3}, {"</s>", 0, 3}};
  for (int byte = 0; byte < 256; ++byte)
    tokens.push_back({withBytes ? fmt::format("<0x{:02X}>", byte) : fmt::format("unused{}", byte), 0, 6});
  const std::vector<TestToken> pieces{{"\xE2\x96\x81", -10},
                                      {"h", -10},
                                      {"e", -10},
                                      {"l", -10},
                                      {"o", -10},
                                      {"he", -1},
                                      {"ll", -2},
                                      {"lo", -0.5},
                                      {"\xE2\x96\x81he", -3},
                                      {"\xE2\x96\x81h", -4},
                                      {"\xE2\x96\x81\xE2\x96\x81", -6}};
  tokens.insert(tokens.end(), pieces.begin(), pieces.end());
  return tokens;
}

inline GgufMetadata spmMetadata(bool withBytes = true) {
  GgufMetadata metadata = vocabularyMetadata("llama", spmTokens(withBytes));
  metadata.set("tokenizer.ggml.bos_token_id", uint32_t{1});
  metadata.set("tokenizer.ggml.eos_token_id", uint32_t{2});
  metadata.set("tokenizer.ggml.unknown_token_id", uint32_t{0});
  return metadata;
}

/// A byte-level BPE vocabulary: token b (0..255) is byte b's character of the byte map, so
/// a single byte's id is the byte; then the merges and their tokens:
///   rank 0 "h e" -> "he" (256), 1 "l l" -> "ll" (257), 2 "he ll" -> "hell" (258),
///   3 "Ġ w" -> "Ġw" (259), 4 "hell o" -> "hello" (260), 5 "e l" -> "el" (261);
/// then "<|begin_of_text|>" (262, control, BOS), "<|eot|>" (263, control, EOT),
/// "<|im|>" (264, control), "<|im|>!" (265, user-defined), and "xyz" (266), a token no merge
/// makes.
inline constexpr int32_t kBpeHe = 256, kBpeLl = 257, kBpeHell = 258, kBpeSpaceW = 259, kBpeHello = 260, kBpeEl = 261,
                         kBpeBos = 262, kBpeEot = 263, kBpeIm = 264, kBpeImBang = 265, kBpeXyz = 266;

inline GgufMetadata bpeMetadata(const std::string& pre) {
  std::vector<TestToken> tokens;
  for (const std::string& character : text::bpeByteChars()) tokens.push_back({character});
  const std::string spaceChar = text::bpeByteChars()[' '];  // "Ġ", U+0120
  for (const std::string& piece : std::vector<std::string>{"he", "ll", "hell", spaceChar + "w", "hello", "el"})
    tokens.push_back({piece});
  tokens.push_back({"<|begin_of_text|>", 0, 3});
  tokens.push_back({"<|eot|>", 0, 3});
  tokens.push_back({"<|im|>", 0, 3});
  tokens.push_back({"<|im|>!", 0, 4});
  tokens.push_back({"xyz"});
  GgufMetadata metadata = vocabularyMetadata("gpt2", tokens);
  metadata.erase("tokenizer.ggml.scores");  // byte-level BPE files carry none
  metadata.set("tokenizer.ggml.merges",
               GgufArray::ofStrings({"h e", "l l", "he ll", spaceChar + " w", "hell o", "e l"}));
  metadata.set("tokenizer.ggml.pre", pre);
  metadata.set("tokenizer.ggml.bos_token_id", uint32_t{kBpeBos});
  metadata.set("tokenizer.ggml.eot_token_id", uint32_t{kBpeEot});
  metadata.set("tokenizer.ggml.add_bos_token", true);
  return metadata;
}

/// Texts every tokenizer must give back exactly: ASCII, accents, CJK, emoji (with a
/// modifier), whitespace runs, code, nothing; and bytes that are not UTF-8, which come back as
/// the U+FFFD they are read as.
inline std::vector<std::string> roundTripCorpus() {
  return {"hello",
          " hello world",
          "héllo wörld, ça va?",
          "日本語のテキスト",
          "emoji 🙂👍🏽!",
          "a  \t\n   b    ",
          "\xFF\xFE invalid \xC3",
          "",
          "   ",
          "hello\n\nhello",
          "x = f(12345);\n\treturn x;",
          "I'm here, they'LL see"};
}

}  // namespace reel::test
