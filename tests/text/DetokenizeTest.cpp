// Pieces back to bytes, and the streaming decoder that prints only whole UTF-8 characters.
#include "TextTestSupport.h"

#include "text/Utf8.h"

#include <catch2/catch.hpp>

using namespace reel;
using namespace reel::test;
using reel::text::StreamDecoder;
using reel::text::TokenId;
using reel::text::Tokenizer;

namespace {

/// True if `text` is whole, well-formed UTF-8 characters.
bool wholeCharacters(std::string_view text) {
  for (size_t at = 0; at < text.size();) {
    const reel::text::Utf8Char c = reel::text::scanUtf8(text, at);
    if (c.status != reel::text::Utf8Status::Complete) return false;
    at += c.length;
  }
  return true;
}

}  // namespace

TEST_CASE("pieces are the bytes tokens stand for", "[text][detok]") {
  const Tokenizer spm(loadVocabulary(spmMetadata()));
  CHECK(spm.piece(kSpmSpaceHe) == " he");     // U+2581 is a space
  CHECK(spm.piece(kSpmByte0 + 0x41) == "A");  // <0x41>
  CHECK(spm.piece(1).empty());                // BOS, a control token, prints nothing ...
  CHECK(spm.piece(1, true) == "<s>");         // ... unless asked to
  // The leading-space rule's space is dropped from the first word only.
  CHECK(spm.decode({1, kSpmSpaceHe, kSpmSpaceHe}) == "he he");
  CHECK_THROWS_WITH(spm.piece(270), "token id 270 is out of range (the vocabulary has 270 tokens)");
  CHECK_THROWS_WITH(spm.piece(-1), "token id -1 is out of range (the vocabulary has 270 tokens)");

  const Tokenizer bpe(loadVocabulary(bpeMetadata("gpt2")));
  CHECK(bpe.piece(kBpeSpaceW) == " w");       // Ġ is byte 0x20
  CHECK(bpe.piece(0x0A) == "\n");             // Ċ is byte 0x0A
  CHECK(bpe.piece(0xFF) == "\xFF");           // ÿ is byte 0xFF
  CHECK(bpe.piece(kBpeImBang) == "<|im|>!");  // user-defined tokens print as they are
}

TEST_CASE("the stream decoder holds back a character split across tokens", "[text][detok]") {
  const Tokenizer bpe(loadVocabulary(bpeMetadata("gpt2")));
  // U+1F642 is F0 9F 99 82: four single-byte tokens, one character.
  StreamDecoder stream(bpe);
  CHECK(stream.push('a') == "a");
  CHECK(stream.push(0xF0).empty());
  CHECK(stream.push(0x9F).empty());
  CHECK(stream.push(0x99).empty());
  CHECK(stream.push(0x82) == "🙂");
  CHECK(stream.finish().empty());

  // SentencePiece byte tokens: é is <0xC3><0xA9>.
  const Tokenizer spm(loadVocabulary(spmMetadata()));
  StreamDecoder spmStream(spm);
  CHECK(spmStream.push(kSpmByte0 + 0xC3).empty());
  CHECK(spmStream.push(kSpmByte0 + 0xA9) == "é");
  // The stream drops the leading-space rule's space as decode does.
  StreamDecoder words(spm);
  CHECK(words.push(1).empty());
  CHECK(words.push(kSpmSpaceHe) == "he");
  CHECK(words.push(kSpmSpaceHe) == " he");
  // A stream that continues a text (a generation after its prompt) keeps the first space.
  StreamDecoder continued(spm, true);
  CHECK(continued.push(kSpmSpaceHe) == " he");
  CHECK(continued.push(kSpmSpaceHe) == " he");
}

TEST_CASE("the stream decoder replaces bytes that cannot become UTF-8", "[text][detok]") {
  const Tokenizer bpe(loadVocabulary(bpeMetadata("gpt2")));
  // F0 then 'a': no continuation can complete F0 any more, so U+FFFD at once.
  StreamDecoder broken(bpe);
  CHECK(broken.push(0xF0).empty());
  CHECK(broken.push('a') ==
        "\xEF\xBF\xBD"
        "a");
  CHECK(broken.push(0xFF) == "\xEF\xBF\xBD");  // never UTF-8
  // A character cut off by the end of the stream: U+FFFD from finish().
  StreamDecoder cut(bpe);
  CHECK(cut.push(0xE6).empty());
  CHECK(cut.push(0x97).empty());
  CHECK(cut.finish() == "\xEF\xBF\xBD");
  CHECK(cut.finish().empty());
}

TEST_CASE("streaming a text's ids gives the text", "[text][detok]") {
  const Tokenizer bpe(loadVocabulary(bpeMetadata("qwen2")));
  const std::string text = "héllo 日本語 🙂👍🏽\n\tworld";
  StreamDecoder stream(bpe);
  std::string out;
  for (TokenId id : bpe.encode(text)) {
    const std::string part = stream.push(id);
    CHECK(wholeCharacters(part));
    out += part;
  }
  out += stream.finish();
  CHECK(out == text);
}

TEST_CASE("ill-formed UTF-8 becomes one U+FFFD per maximal subpart", "[text][utf8]") {
  using reel::text::replaceIllFormed;
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(replaceIllFormed("h\xC3\xA9llo") == "h\xC3\xA9llo");  // well-formed: kept
  CHECK(replaceIllFormed("\x80\xBF") == fffd + fffd);         // lone continuations
  CHECK(replaceIllFormed("\xE2\x82"
                         "A") == fffd + "A");                                // cut before A: one
  CHECK(replaceIllFormed("\xF0\x9F\x98") == fffd);                           // cut by the end: one
  CHECK(replaceIllFormed("\xC0\xAF") == fffd + fffd);                        // overlong lead
  CHECK(replaceIllFormed("\xED\xA0\x80") == fffd + fffd + fffd);             // a surrogate
  CHECK(replaceIllFormed("\xF4\x90\x80\x80") == fffd + fffd + fffd + fffd);  // above U+10FFFF
  CHECK(replaceIllFormed("\xF0\x9F\x98\x80") == "\xF0\x9F\x98\x80");         // U+1F600 itself
}
