// The SentencePiece tokenizer ("llama") on the hand-made vocabulary of TextTestSupport.h:
// exact ids derived by hand from the merge rule, and round trips.
#include "TextTestSupport.h"

#include "text/Utf8.h"

#include <catch2/catch.hpp>

using namespace reel;
using namespace reel::test;
using reel::text::EncodeOptions;
using reel::text::TokenId;
using reel::text::Tokenizer;
using Ids = std::vector<TokenId>;

namespace {

Tokenizer spmTokenizer(GgufMetadata metadata = spmMetadata()) {
  return Tokenizer(loadVocabulary(metadata));
}

constexpr TokenId byteToken(unsigned byte) {
  return kSpmByte0 + static_cast<TokenId>(byte);
}

}  // namespace

TEST_CASE("SentencePiece merges the adjacent pair of the highest score first", "[text][spm]") {
  // "hello" becomes "▁hello" (leading-space rule); symbols ▁ h e l l o. Mergeable pairs:
  // ▁h (-4), he (-1), ll (-2), lo (-0.5). lo goes first (highest), leaving ▁ h e l lo; then
  // he, leaving ▁ he l lo, which makes ▁he (-3) possible; ll no longer exists (its right l
  // is inside lo); ▁he merges; ▁h is stale. Result ▁he l lo, after BOS. Merging leftmost
  // first, or by the shortest pieces, would give ▁he ll o instead.
  const Tokenizer tokenizer = spmTokenizer();
  CHECK(tokenizer.encode("hello") == Ids{1, kSpmSpaceHe, kSpmL, kSpmLo});
  CHECK(tokenizer.encode("hello", {.addSpecial = false}) == Ids{kSpmSpaceHe, kSpmL, kSpmLo});

  // Without the space prefix: h e l l o; lo, then he; he+l is no token: he l lo.
  GgufMetadata metadata = spmMetadata();
  metadata.set("tokenizer.ggml.add_space_prefix", false);
  CHECK(spmTokenizer(metadata).encode("hello") == Ids{1, kSpmHe, kSpmL, kSpmLo});

  // EOS at the end where add_eos_token says so.
  metadata.set("tokenizer.ggml.add_eos_token", true);
  CHECK(spmTokenizer(metadata).encode("hello") == Ids{1, kSpmHe, kSpmL, kSpmLo, 2});
}

TEST_CASE("SentencePiece falls back to byte tokens, else to the unknown token", "[text][spm]") {
  // "▁hé": ▁h merges; é (C3 A9) is no token, so its two bytes' <0xNN> tokens.
  CHECK(spmTokenizer().encode("hé", {.addSpecial = false}) == Ids{kSpmSpaceH, byteToken(0xC3), byteToken(0xA9)});
  // Without <0xNN> tokens every byte of it is the unknown token (id 0).
  CHECK(spmTokenizer(spmMetadata(false)).encode("hé", {.addSpecial = false}) == Ids{kSpmSpaceH, 0, 0});
  // A byte that is not UTF-8 reads as U+FFFD (EF BF BD), which falls back to its byte tokens.
  CHECK(spmTokenizer().encode("h\xFF", {.addSpecial = false}) ==
        Ids{kSpmSpaceH, byteToken(0xEF), byteToken(0xBF), byteToken(0xBD)});
}

TEST_CASE("SentencePiece turns every space into U+2581, runs included", "[text][spm]") {
  // "a  b" -> "▁a▁▁b": a and b are bytes, the two inner ▁ merge into ▁▁ (-6), the first ▁
  // stays alone (▁a is no token).
  CHECK(spmTokenizer().encode("a  b", {.addSpecial = false}) ==
        Ids{kSpmSpace, byteToken('a'), kSpmSpaceSpace, byteToken('b')});
}

TEST_CASE("SentencePiece matches special tokens before tokenizing", "[text][spm]") {
  const Tokenizer tokenizer = spmTokenizer();
  // BOS added, then <s> from the text; the text after a special token gets the space prefix.
  CHECK(tokenizer.encode("<s>hello</s>") == Ids{1, 1, kSpmSpaceHe, kSpmL, kSpmLo, 2});
  // Without parseSpecial the control tokens are text: "▁<s>" in bytes after ▁.
  CHECK(tokenizer.encode("<s>", {.addSpecial = false, .parseSpecial = false}) ==
        Ids{kSpmSpace, byteToken('<'), byteToken('s'), byteToken('>')});
}

TEST_CASE("SentencePiece round trips text through ids", "[text][spm]") {
  const Tokenizer tokenizer = spmTokenizer();
  const std::vector<std::string> corpus = roundTripCorpus();
  for (const std::string& text : corpus) {
    INFO(text);
    CHECK(tokenizer.decode(tokenizer.encode(text)) == text::replaceIllFormed(text));
    CHECK(tokenizer.decode(tokenizer.encode(text, {.addSpecial = false})) == text::replaceIllFormed(text));
  }
}
