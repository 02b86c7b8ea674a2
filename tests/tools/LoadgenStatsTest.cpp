// What reel loadgen measures, apart from its HTTP client: the URL it takes, a streamed
// completion read in arbitrary pieces (time to first token, the gaps between chunks with text,
// usage, [DONE], broken streams), percentiles, and a level's row and JSON.

#include "support/Diagnostics.h"
#include "tools/LoadgenStats.h"

#include <catch2/catch.hpp>

using namespace reel;
using namespace reel::tools;
using Json = nlohmann::json;
using std::chrono::milliseconds;

namespace {

std::string messageOf(const std::string& url) {
  try {
    (void)parseLoadUrl(url);
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

std::string event(const std::string& text) {
  return "data: " + Json{{"choices", {{{"index", 0}, {"text", text}}}}}.dump() + "\n\n";
}

}  // namespace

TEST_CASE("loadgen takes http://HOST:PORT and nothing else", "[loadgen]") {
  const LoadTarget target = parseLoadUrl("http://127.0.0.1:8080/");
  CHECK(target.host == "127.0.0.1");
  CHECK(target.port == 8080);
  CHECK(parseLoadUrl("http://[::1]:9").host == "::1");
  CHECK(parseLoadUrl("http://localhost:1").host == "localhost");
  for (const char* bad : {"localhost:8080", "https://h:1", "http://h", "http://h:", "http://:80", "http://h:0",
                          "http://h:65536", "http://h:80/v1", "http://h:8x", "http://u@h:80", ""})
    CHECK(messageOf(bad) == fmt::format("reel loadgen: URL '{}': expected http://HOST:PORT", bad));
}

TEST_CASE("a stream's chunks with text give the first token's time and the gaps between them", "[loadgen]") {
  const LoadClock::time_point sent{};
  const std::string body = ": a comment\n\n" + event("") + event("def") + event(" f") +
                           "data: " + Json{{"choices", {{{"delta", {{"content", "(x)"}}}}}}}.dump() + "\r\n\r\n" +
                           "data: {\"choices\": [], \"usage\": {\"completion_tokens\": 5}}\n\ndata: [DONE]\n\n";
  // Fed a byte at a time, each byte arriving 1 ms after the one before.
  StreamTally tally(sent);
  for (size_t at = 0; at < body.size(); ++at)
    REQUIRE(tally.feed(std::string_view(body).substr(at, 1), sent + milliseconds(at + 1)));
  const RequestResult result = tally.finish();
  CHECK(result.ok);
  CHECK(result.outputTokens == 5);
  const size_t first = body.find(event("def")) + event("def").size();
  REQUIRE(result.firstTokenMs);
  CHECK(*result.firstTokenMs == Approx(static_cast<double>(first)));
  REQUIRE(result.gapsMs.size() == 2);
  CHECK(result.gapsMs[0] == Approx(static_cast<double>(event(" f").size())));
}

TEST_CASE("without usage the output tokens are the chunks with text", "[loadgen]") {
  StreamTally tally({});
  REQUIRE(tally.feed(event("a") + event("b") + "data: [DONE]\n\n", {}));
  const RequestResult result = tally.finish();
  CHECK(result.ok);
  CHECK(result.outputTokens == 2);
  CHECK(result.gapsMs == std::vector<double>{0.0});
}

TEST_CASE("a broken stream is an error of kind stream, never a throw", "[loadgen]") {
  auto outcome = [](const std::string& body) {
    StreamTally tally({});
    (void)tally.feed(body, {});
    return tally.finish();
  };
  CHECK(outcome(event("a")).error == "the stream ends without data: [DONE]");
  CHECK(outcome(event("a") + "data: {\"choi").error == "the stream ends inside an event");
  CHECK(outcome("data: {nope\n\n").error == "a chunk that is not a JSON object: '{nope'");
  CHECK(outcome("data: [1]\n\n").error == "a chunk that is not a JSON object: '[1]'");
  CHECK(outcome("data: {\"error\": {\"message\": \"step failed\"}}\n\ndata: [DONE]\n\n").error ==
        "an error event: 'step failed'");
  CHECK(outcome("data: [DONE]\n\n" + event("late")).error == "an event after data: [DONE]");
  const RequestResult huge = outcome("data: " + std::string(size_t{2} << 20, 'x'));
  CHECK_FALSE(huge.ok);
  CHECK(huge.errorKind == "stream");
  CHECK(huge.error == "an event of more than 1048576 bytes");
}

TEST_CASE("percentiles interpolate between the closest ranks", "[loadgen]") {
  CHECK_FALSE(percentile({}, 0.5));
  CHECK(*percentile({7}, 0.99) == 7);
  CHECK(*percentile({4, 1, 3, 2}, 0.5) == Approx(2.5));
  CHECK(*percentile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 0.9) == Approx(10));
  CHECK(*percentile({1, 2}, 0.99) == Approx(1.99));
  CHECK(*percentile({3, 1, 2}, 1.0) == 3);
}

TEST_CASE("a level's row and JSON count the errors apart from the answers", "[loadgen]") {
  RequestResult good{true, "", "", 10.0, {1.0, 3.0}, 3};
  RequestResult bad{false, "HTTP 429: full", "http 429", std::nullopt, {}, 0};
  const LevelReport level = summarize(4, 2.0, {good, bad, good});
  CHECK(level.requests == 3);
  CHECK(level.errors == 1);
  CHECK(level.outputTokens == 6);
  CHECK(level.firstError == "HTTP 429: full");
  CHECK(tableRow(level) ==
        "          4        3      1     1.00        3.0      10.0      10.0      10.0      2.0      "
        "3.0      3.0\n");
  const Json json = levelJson(level);
  CHECK(json["errors_by_kind"] == Json{{"http 429", 1}});
  CHECK(json["output_tokens_per_second"] == 3.0);
  CHECK(json["ttft_ms"]["p50"] == 10.0);
  CHECK(json["itl_ms"]["p99"] == Approx(3.0));
  const Json empty = levelJson(summarize(1, 1.0, {bad}));
  CHECK(empty["ttft_ms"]["p50"].is_null());
  CHECK(tableRow(summarize(1, 1.0, {bad})).find(" - ") != std::string::npos);
}
