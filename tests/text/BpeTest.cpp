// Byte-level BPE ("gpt2") on the hand-made vocabulary of TextTestSupport.h, and the
// pre-tokenizer regexes of each `tokenizer.ggml.pre` family.
#include "TextTestSupport.h"

#include "text/PreTokenize.h"

#include "text/Utf8.h"

#include <catch2/catch.hpp>

using namespace reel;
using namespace reel::test;
using reel::text::PreTokenizer;
using reel::text::TokenId;
using reel::text::Tokenizer;
using reel::text::WordSplitter;
using Ids = std::vector<TokenId>;
using Words = std::vector<std::string_view>;

namespace {

Tokenizer bpeTokenizer(const std::string& pre) {
  return Tokenizer(loadVocabulary(bpeMetadata(pre)));
}

constexpr reel::text::EncodeOptions kNoBos{.addSpecial = false};

}  // namespace

TEST_CASE("byte-level BPE merges by rank, lowest first", "[text][bpe]") {
  const Tokenizer tokenizer = bpeTokenizer("gpt2");
  // "hello": h e l l o; he (rank 0), then ll (1), then he+ll (2), then hell+o (4).
  CHECK(tokenizer.encode("hello") == Ids{kBpeBos, kBpeHello});
  // "hel": he (rank 0) and el (rank 5) overlap; he wins, and "he l" is no merge.
  CHECK(tokenizer.encode("hel", kNoBos) == Ids{kBpeHe, 'l'});
  // " world" is one word (" ?\p{L}+"), written "Ġworld"; only Ġ+w merges (rank 3); the
  // other bytes are their own single-byte tokens, whose id is the byte.
  CHECK(tokenizer.encode(" world", kNoBos) == Ids{kBpeSpaceW, 'o', 'r', 'l', 'd'});
  // A byte that is not UTF-8 reads as U+FFFD, a word of its own: its bytes' tokens EF BF BD.
  CHECK(tokenizer.encode("a\xFF"
                         "b",
                         kNoBos) == Ids{'a', 0xEF, 0xBF, 0xBD, 'b'});
}

TEST_CASE("the Llama 3 pre-tokenizer takes a whole-word token without merges", "[text][bpe]") {
  // "xyz" is a token but no merge makes it: Llama 3 (ignore_merges) finds it whole, GPT-2 not.
  CHECK(bpeTokenizer("llama-bpe").encode("xyz", kNoBos) == Ids{kBpeXyz});
  CHECK(bpeTokenizer("gpt2").encode("xyz", kNoBos) == Ids{'x', 'y', 'z'});
}

TEST_CASE("the pre-tokenizer regexes split as the reference tokenizers do", "[text][bpe]") {
  const std::string text = "Hello, world! 12345\n\n  x I'M";
  // Llama 3: digits in runs of at most three; a space before digits is a word of its own;
  // "\s*[\r\n]+" takes the newlines, "\s+(?!\S)" the first of the two spaces; contractions
  // in any case.
  CHECK(WordSplitter(PreTokenizer::Llama3).split(text) ==
        Words{"Hello", ",", " world", "!", " ", "123", "45", "\n\n", " ", " x", " I", "'M"});
  // Qwen2: the same with single digits.
  CHECK(WordSplitter(PreTokenizer::Qwen2).split(text) ==
        Words{"Hello", ",", " world", "!", " ", "1", "2", "3", "4", "5", "\n\n", " ", " x", " I", "'M"});
  // GPT-2: " ?\p{N}+" keeps the space and all digits; whitespace before a word is one word
  // less its last space; contractions in lower case only.
  CHECK(WordSplitter(PreTokenizer::Gpt2).split(text) ==
        Words{"Hello", ",", " world", "!", " 12345", "\n\n ", " x", " I", "'", "M"});
  // Letters of any script are \p{L}; an emoji is neither letter nor digit.
  CHECK(WordSplitter(PreTokenizer::Llama3).split("日本語🙂 é") == Words{"日本語", "🙂", " é"});
}

TEST_CASE("the pre-tokenizer's \\s is Unicode White_Space", "[text][bpe]") {
  // As in Hugging Face's tokenizers (Oniguruma) and llama.cpp: NEL (U+0085) is whitespace, so
  // it is not part of the punctuation run; the byte order mark (U+FEFF, a format character) is
  // not whitespace, so it is. JavaScript's \s has these two the other way round, which is why
  // tests/text/reference/corpus.txt leaves them out.
  CHECK(WordSplitter(PreTokenizer::Llama3).split("!\u0085") == Words{"!", "\u0085"});
  CHECK(WordSplitter(PreTokenizer::Llama3).split("!\uFEFF") == Words{"!\uFEFF"});
}

TEST_CASE("byte-level BPE leaves the text unnormalized", "[text][bpe]") {
  // As llama.cpp: a GGUF file carries no normalizer, so Qwen2's NFC (in its tokenizer.json) is
  // not applied and "e" with a combining acute (U+0301) stays two characters, not "\u00E9".
  // tests/text/reference/dump.mjs leaves the corpus lines that NFC changes out of Qwen's.
  const Tokenizer tokenizer = bpeTokenizer("qwen2");
  CHECK(tokenizer.encode("e\u0301", kNoBos) == Ids{'e', 0xCC, 0x81});
  CHECK(tokenizer.encode("\u00E9", kNoBos) == Ids{0xC3, 0xA9});
}

TEST_CASE("byte-level BPE matches special tokens, the longest first", "[text][bpe]") {
  const Tokenizer tokenizer = bpeTokenizer("llama-bpe");
  // "<|im|>!" (user-defined) is longer than "<|im|>" (control) and wins where both match.
  CHECK(tokenizer.encode("<|im|>!hi<|im|><|eot|>") == Ids{kBpeBos, kBpeImBang, 'h', 'i', kBpeIm, kBpeEot});
  // Without parseSpecial only user-defined tokens are matched; "<|im|>" is text, split by
  // the regex into "<|", "im", "|>".
  CHECK(tokenizer.encode("<|im|>!hi<|im|>", {.addSpecial = false, .parseSpecial = false}) ==
        Ids{kBpeImBang, 'h', 'i', '<', '|', 'i', 'm', '|', '>'});
}

TEST_CASE("byte-level BPE round trips text through ids", "[text][bpe]") {
  const std::vector<std::string> corpus = roundTripCorpus();
  for (const std::string& pre : std::vector<std::string>{"default", "llama-bpe", "qwen2"}) {
    const Tokenizer tokenizer = bpeTokenizer(pre);
    for (const std::string& text : corpus) {
      INFO(pre << ": " << text);
      CHECK(tokenizer.decode(tokenizer.encode(text)) == text::replaceIllFormed(text));
    }
  }
}

TEST_CASE("byte-level BPE reads bytes that are not UTF-8 as U+FFFD, one per maximal subpart", "[text][bpe]") {
  const Tokenizer tokenizer = bpeTokenizer("llama-bpe");
  const std::string fffd = "\xEF\xBF\xBD";
  // A lone continuation byte, a byte that starts nothing, a surrogate's encoding (three
  // subparts: ED cannot take A0) and a cut 3-byte character (one subpart: E2 82).
  CHECK(tokenizer.encode("a\x80 b\xFF") == tokenizer.encode("a" + fffd + " b" + fffd));
  CHECK(tokenizer.encode("x\xED\xA0\x80y") == tokenizer.encode("x" + fffd + fffd + fffd + "y"));
  CHECK(tokenizer.encode("\xE2\x82 euro") == tokenizer.encode(fffd + " euro"));
  CHECK(tokenizer.encode("\xE2\x82") == tokenizer.encode(fffd));
}
