// The fuzz seed corpus (tests/fuzz/corpus/gguf) replayed as a unit test: "valid-*" files
// parse, "invalid-*" files give a clean error, and "regression-*" files (inputs that once
// crashed the fuzz target) do either without a fault.

#include "tests/runtime/gguf/GgufTestSupport.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>

using namespace reel;
using namespace reel::test;
using Catch::Matchers::StartsWith;

TEST_CASE("the GGUF fuzz seed corpus parses as the file names say", "[gguf]") {
  const std::filesystem::path corpus = std::filesystem::path(REEL_SOURCE_DIR) / "tests/fuzz/corpus/gguf";
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
    const std::string name = entry.path().filename().string();
    INFO(name);
    std::ifstream in(entry.path(), std::ios::binary);
    const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    const std::string message = parseError(bytes);
    if (name.starts_with("valid-")) {
      CHECK(message == "<parsed>");
    } else if (name.starts_with("invalid-")) {
      CHECK_THAT(message, StartsWith("t.gguf: offset "));
    } else {
      CHECK((message == "<parsed>" || message.starts_with("t.gguf: offset ")));
    }
    ++files;
  }
  CHECK(files >= 9);
}
