// Reading a vocabulary from GGUF metadata: the fields, their defaults, and a one-line
// error naming the key for each malformed one.
#include "TextTestSupport.h"

#include <catch2/catch.hpp>

using namespace reel;
using namespace reel::test;
using reel::text::PreTokenizer;
using reel::text::TokenizerModel;
using reel::text::TokenType;
using reel::text::Vocabulary;

TEST_CASE("a vocabulary reads the tokenizer.ggml keys", "[text][vocab]") {
  const Vocabulary spm = loadVocabulary(spmMetadata());
  CHECK(spm.model == TokenizerModel::SentencePiece);
  CHECK(spm.size() == 270);
  CHECK(spm.find("\xE2\x96\x81he") == kSpmSpaceHe);
  CHECK(spm.scores[kSpmLo] == -0.5f);
  CHECK(spm.type(1) == TokenType::Control);
  CHECK(spm.type(kSpmByte0) == TokenType::Byte);
  CHECK((spm.bos == 1 && spm.eos == 2 && spm.unk == 0 && !spm.eot && !spm.padding));
  // SentencePiece defaults: BOS added, the space prefix on.
  CHECK((spm.addBos && !spm.addEos && spm.addSpacePrefix));

  GgufMetadata flags = spmMetadata();
  flags.set("tokenizer.ggml.add_bos_token", false);
  flags.set("tokenizer.ggml.add_space_prefix", false);
  flags.set("tokenizer.ggml.padding_token_id", uint32_t{0});
  const Vocabulary changed = loadVocabulary(flags);
  CHECK((!changed.addBos && !changed.addSpacePrefix && changed.padding == 0));
  // -1 (or its u32 form) is how converters write "no such token".
  GgufMetadata none = spmMetadata();
  none.set("tokenizer.ggml.eos_token_id", int32_t{-1});
  none.set("tokenizer.ggml.unknown_token_id", uint32_t{0xFFFFFFFF});
  const Vocabulary noneSet = loadVocabulary(none);
  CHECK((!noneSet.eos && !noneSet.unk && noneSet.bos == 1));

  const Vocabulary bpe = loadVocabulary(bpeMetadata("qwen2"));
  CHECK(bpe.model == TokenizerModel::ByteLevelBpe);
  CHECK(bpe.pre == PreTokenizer::Qwen2);
  CHECK(!bpe.ignoreMerges);
  CHECK(bpe.mergeRank("he", "ll") == 2);
  CHECK(!bpe.mergeRank("ll", "he"));
  CHECK(bpe.scores[kBpeHello] == 0.0f);  // no scores in the file: all 0
  CHECK((bpe.bos == kBpeBos && bpe.eot == kBpeEot && !bpe.eos && !bpe.unk));
  CHECK((bpe.addBos && !bpe.addSpacePrefix));
  CHECK(loadVocabulary(bpeMetadata("llama-bpe")).pre == PreTokenizer::Llama3);
  CHECK(loadVocabulary(bpeMetadata("llama-bpe")).ignoreMerges);
  GgufMetadata noPre = bpeMetadata("gpt2");
  noPre.erase("tokenizer.ggml.pre");
  CHECK(loadVocabulary(noPre).pre == PreTokenizer::Gpt2);
}

TEST_CASE("each malformed tokenizer field is a one-line error naming the key", "[text][vocab]") {
  const auto errorWith = [](const std::string& key, GgufValue value, const GgufMetadata& base = spmMetadata()) {
    GgufMetadata metadata = base;
    metadata.set(key, std::move(value));
    return vocabularyError(metadata);
  };
  const auto errorWithout = [](const std::string& key, const GgufMetadata& base = spmMetadata()) {
    GgufMetadata metadata = base;
    metadata.erase(key);
    return vocabularyError(metadata);
  };
  using Catch::Matchers::Contains;
  using Catch::Matchers::StartsWith;
  const std::string prefix = "vocab.gguf: metadata key ";

  CHECK_THAT(errorWithout("tokenizer.ggml.model"), StartsWith(prefix + "'tokenizer.ggml.model' is missing"));
  CHECK(errorWith("tokenizer.ggml.model", "bert") ==
        prefix + "'tokenizer.ggml.model': unknown tokenizer model 'bert' (known: llama, gpt2)");
  CHECK_THAT(errorWithout("tokenizer.ggml.tokens"), StartsWith(prefix + "'tokenizer.ggml.tokens' is missing"));
  CHECK(errorWith("tokenizer.ggml.tokens", GgufArray::ofStrings({})) ==
        prefix + "'tokenizer.ggml.tokens': the vocabulary is empty");
  CHECK_THAT(errorWith("tokenizer.ggml.tokens", uint32_t{3}), StartsWith(prefix + "'tokenizer.ggml.tokens' is u32"));
  CHECK(errorWith("tokenizer.ggml.scores", GgufArray::of(std::vector<float>{1, 2, 3})) ==
        prefix + "'tokenizer.ggml.scores': 3 scores for 270 tokens");
  CHECK_THAT(errorWith("tokenizer.ggml.scores", GgufArray::of(std::vector<int32_t>{1})),
             StartsWith(prefix + "'tokenizer.ggml.scores'"));
  CHECK(errorWith("tokenizer.ggml.token_type", GgufArray::of(std::vector<int32_t>{1, 1})) ==
        prefix + "'tokenizer.ggml.token_type': 2 token types for 270 tokens");
  std::vector<int32_t> types(270, 1);
  types[7] = 9;
  CHECK(errorWith("tokenizer.ggml.token_type", GgufArray::of(types)) ==
        prefix + "'tokenizer.ggml.token_type': token 7 has type 9 (expected 0..6)");
  CHECK(errorWith("tokenizer.ggml.bos_token_id", uint32_t{270}) ==
        prefix + "'tokenizer.ggml.bos_token_id': token id 270 is out of range (0..269)");
  CHECK(errorWith("tokenizer.ggml.eos_token_id", int32_t{-5}) ==
        prefix + "'tokenizer.ggml.eos_token_id': token id -5 is out of range (0..269)");
  CHECK(errorWith("tokenizer.ggml.unknown_token_id", uint64_t{1} << 40) ==
        prefix + "'tokenizer.ggml.unknown_token_id': token id 1099511627776 is out of range (0..269)");
  CHECK(errorWith("tokenizer.ggml.eot_token_id", uint32_t{999}) ==
        prefix + "'tokenizer.ggml.eot_token_id': token id 999 is out of range (0..269)");
  CHECK(errorWith("tokenizer.ggml.padding_token_id", uint32_t{999}) ==
        prefix + "'tokenizer.ggml.padding_token_id': token id 999 is out of range (0..269)");
  CHECK_THAT(errorWith("tokenizer.ggml.add_bos_token", uint32_t{1}),
             StartsWith(prefix + "'tokenizer.ggml.add_bos_token' is u32"));

  const GgufMetadata bpe = bpeMetadata("gpt2");
  CHECK_THAT(errorWithout("tokenizer.ggml.merges", bpe), StartsWith(prefix + "'tokenizer.ggml.merges' is missing"));
  CHECK(errorWith("tokenizer.ggml.merges", GgufArray::ofStrings({"h e", "ll"}), bpe) ==
        prefix + "'tokenizer.ggml.merges': merge 1 'll' is not two pieces separated by a space");
  CHECK(errorWith("tokenizer.ggml.pre", "falcon", bpe) ==
        prefix + "'tokenizer.ggml.pre': unknown pre-tokenizer 'falcon' (known: " + reel::text::knownPreTokenizers() +
            ")");
  CHECK_THAT(reel::text::knownPreTokenizers(), Contains("llama-bpe") && Contains("qwen2") && Contains("default"));
  CHECK(errorWithout("tokenizer.ggml.bos_token_id", bpe) ==
        prefix + "'tokenizer.ggml.add_bos_token': is true but the file names no BOS token");
}
