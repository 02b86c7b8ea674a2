// Stop strings over streamed text (the hold-back of a tail that may become one), and the
// end-of-generation tokens of a vocabulary.
#include "TextTestSupport.h"

#include "text/StopStrings.h"

#include <catch2/catch.hpp>

using namespace reel;
using namespace reel::test;
using reel::text::StopStringFilter;

namespace {

/// What goes out when `pieces` are pushed one by one, then finish() where no stop came.
std::string streamed(StopStringFilter& filter, const std::vector<std::string>& pieces) {
  std::string out;
  for (const std::string& piece : pieces) out += filter.push(piece);
  return out + filter.finish();
}

}  // namespace

TEST_CASE("text goes out at once unless its tail may start a stop string", "[text][stop]") {
  StopStringFilter filter({"User:"});
  CHECK(filter.push("Hello") == "Hello");
  CHECK(filter.push(" Us") == " ");         // "Us" may become "User:"
  CHECK(filter.push("e") == "");            // "Use" still may
  CHECK(filter.push("d it") == "Used it");  // "Used" cannot
  CHECK_FALSE(filter.stopped());
  CHECK(filter.push(" U") == " ");
  CHECK(filter.finish() == "U");  // the end: what was held back goes out
}

TEST_CASE("a stop string cuts the text before it, across pieces, and nothing goes out after", "[text][stop]") {
  StopStringFilter filter({"\n\n", "END"});
  CHECK(filter.push("one E") == "one ");
  CHECK(filter.push("N") == "");
  CHECK(filter.push("D and more") == "");
  CHECK(filter.stopped());
  CHECK(filter.matched() == "END");
  CHECK(filter.push("later") == "");
  CHECK(filter.finish() == "");

  // Within one piece, the earliest stop wins; where two start at one place, the longest.
  StopStringFilter earliest({"b", "ab", "abc"});
  CHECK(earliest.push("xxabcb") == "xx");
  CHECK(earliest.matched() == "abc");
}

TEST_CASE("the streamed text equals the whole text cut at its first stop string", "[text][stop]") {
  const std::string text = "The answer is 42.\nUser: and then\nUser: more";
  for (const std::vector<std::string>& stops : std::vector<std::vector<std::string>>{
           {"\nUser:"}, {"User", "42"}, {"nothing like it"}, {}, {"", "more"}, {"e", "The"}}) {
    std::string expected = text;
    for (const std::string& stop : stops)
      if (!stop.empty()) expected = expected.substr(0, std::min(expected.size(), text.find(stop)));
    for (size_t width = 1; width <= 5; ++width) {
      INFO("stops " << stops.size() << ", pieces of " << width << " bytes");
      std::vector<std::string> pieces;
      for (size_t at = 0; at < text.size(); at += width) pieces.push_back(text.substr(at, width));
      StopStringFilter filter(stops);
      CHECK(streamed(filter, pieces) == expected);
    }
  }
}

TEST_CASE("end-of-generation tokens: EOS, EOT and control tokens of the known end markers", "[text][stop]") {
  const text::Vocabulary spm = loadVocabulary(spmMetadata());
  CHECK(spm.isEndOfGeneration(2));        // </s>, EOS
  CHECK_FALSE(spm.isEndOfGeneration(1));  // <s>
  CHECK_FALSE(spm.isEndOfGeneration(kSpmSpaceHe));
  CHECK_FALSE(spm.isEndOfGeneration(-1));
  CHECK_FALSE(spm.isEndOfGeneration(100000));
  CHECK(spm.endOfGenerationTokens() == std::vector<text::TokenId>{2});

  std::vector<TestToken> tokens{
      {"a"}, {"<|im_end|>", 0, 3}, {"<|eot_id|>", 0, 4}, {"<|end_of_text|>"}, {"<|x|>", 0, 3}};
  const text::Vocabulary chat = loadVocabulary(vocabularyMetadata("llama", tokens));
  CHECK(chat.isEndOfGeneration(1));        // control
  CHECK(chat.isEndOfGeneration(2));        // user-defined
  CHECK_FALSE(chat.isEndOfGeneration(3));  // a normal token that only reads like one
  CHECK_FALSE(chat.isEndOfGeneration(4));  // a control token of another text
  CHECK(chat.endOfGenerationTokens() == std::vector<text::TokenId>{1, 2});

  const text::Vocabulary bpe = loadVocabulary(bpeMetadata("gpt2"));
  CHECK(bpe.isEndOfGeneration(kBpeEot));  // the file's EOT id
  CHECK(bpe.endOfGenerationTokens() == std::vector<text::TokenId>{kBpeEot});
}
