// The OpenAI API of reel serve as data: request bodies read into ApiRequest (defaults, every
// field, each kind of bad input an HttpError naming the field), the response and chunk shapes,
// and the metrics' Prometheus text.

#include "tools/ServeApi.h"
#include "tools/ServeMetrics.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace reel;
using namespace reel::tools;
using Json = nlohmann::json;

namespace {

ApiDefaults openAiDefaults() {
  ApiDefaults defaults;
  defaults.sampling.temperature = 1.0f;
  return defaults;
}

/// The status and message of the HttpError that parsing `body` throws.
std::pair<int, std::string> refusal(const std::string& body, Endpoint endpoint = Endpoint::Completions) {
  try {
    (void)parseApiRequest(body, endpoint, openAiDefaults());
  } catch (const HttpError& error) {
    return {error.status(), error.what()};
  }
  return {0, ""};
}

}  // namespace

TEST_CASE("a completion request takes the defaults for the fields it leaves out", "[serve][api]") {
  const ApiRequest request =
      parseApiRequest(R"({"prompt": "def f():", "model": "m"})", Endpoint::Completions, openAiDefaults());
  CHECK(request.prompt == "def f():");
  CHECK(request.maxTokens == 16);
  CHECK(request.sampling.temperature == 1.0f);
  CHECK(request.sampling.topP == 1.0f);
  CHECK_FALSE(request.seedGiven);
  CHECK_FALSE(request.stream);
  CHECK(request.stops.empty());
  const ApiRequest chat =
      parseApiRequest(R"({"messages": [{"role": "user", "content": "hi"}]})", Endpoint::Chat, openAiDefaults());
  CHECK(chat.maxTokens == -1);
  REQUIRE(chat.messages.size() == 1);
  CHECK(chat.messages[0].content == "hi");
}

TEST_CASE("every field of a request reaches the ApiRequest", "[serve][api]") {
  const ApiRequest request = parseApiRequest(
      R"({"prompt": [1, 2, 3], "max_tokens": 7, "temperature": 0, "top_p": 0.5, "top_k": 9, "min_p": 0.1,
          "seed": 42, "stop": ["\n\n", "x"], "presence_penalty": 0.5, "frequency_penalty": -0.5, "n": 1,
          "stream": true, "logprobs": null, "ignore_eos": true, "user": "u"})",
      Endpoint::Completions, openAiDefaults());
  REQUIRE(request.promptTokens.has_value());
  CHECK(*request.promptTokens == std::vector<int32_t>{1, 2, 3});
  CHECK(request.maxTokens == 7);
  CHECK(request.sampling.greedy() == false);  // penalties on
  CHECK(request.sampling.temperature == 0.0f);
  CHECK(request.sampling.topP == 0.5f);
  CHECK(request.sampling.topK == 9);
  CHECK(request.sampling.minP == Approx(0.1f));
  CHECK(request.sampling.seed == 42);
  CHECK(request.seedGiven);
  CHECK(request.stops == std::vector<std::string>{"\n\n", "x"});
  CHECK(request.sampling.presencePenalty == 0.5f);
  CHECK(request.sampling.frequencyPenalty == -0.5f);
  CHECK(request.stream);
  CHECK(request.ignoreEos);
  CHECK(parseApiRequest(R"({"prompt": "x", "stop": "end"})", Endpoint::Completions, openAiDefaults()).stops ==
        std::vector<std::string>{"end"});
}

TEST_CASE("bad request bodies are 400s naming the field", "[serve][api]") {
  CHECK(refusal("{\"prompt\": ") == std::pair<int, std::string>{400, "the request body is not valid JSON"});
  CHECK(refusal("\"text\"") == std::pair<int, std::string>{400, "the request body must be a JSON object"});
  CHECK(refusal(R"({"prompt": "x", "max_tokens": "8"})").second == "'max_tokens': expected an integer, got string");
  CHECK(refusal(R"({"prompt": "x", "max_tokens": 0})").second == "'max_tokens': 0 is not in [1, 16777216]");
  CHECK(refusal(R"({"prompt": "x", "max_tokens": 1.5})").second == "'max_tokens': expected an integer, got number");
  CHECK(refusal(R"({"prompt": "x", "temperature": -0.5})").second == "'temperature': -0.5 is not in [0, 100]");
  CHECK(refusal(R"({"prompt": "x", "top_p": 0})").second == "'top_p': 0 is not in (0, 1]");
  CHECK(refusal(R"({"prompt": "x", "top_k": -1})").second == "'top_k': -1 is not in [0, 2147483647]");
  CHECK(refusal(R"({"prompt": "x", "seed": -1})").second == "'seed': -1 is not in [0, 9223372036854775807]");
  CHECK(refusal(R"({"prompt": "x", "seed": 18446744073709551615})").second ==
        "'seed': 18446744073709551615 is not in [0, 9223372036854775807]");
  CHECK(refusal(R"({"prompt": "x", "stop": 3})").second ==
        "'stop': expected a string or a list of strings, got number");
  CHECK(refusal(R"({"prompt": "x", "stop": [""]})").second == "'stop': a stop string is empty");
  CHECK(refusal(R"({"prompt": "x", "n": 2})").second == "'n': only n = 1 is supported");
  CHECK(refusal(R"({"prompt": "x", "logprobs": true})").second == "'logprobs': log probabilities are not supported");
  CHECK(refusal(R"({"prompt": "x", "stream": 1})").second == "'stream': expected true or false, got number");
  CHECK(refusal(R"({"prompt": "x", "echo": true})").second == "'echo': unknown field for /v1/completions");
  CHECK(refusal(R"({"prompt": {}})").second ==
        "'prompt': expected a string, a list of one string, or a non-empty list of token ids");
  CHECK(refusal(R"({"prompt": [1, -2]})").second == "'prompt[1]': -2 is not in [0, 2147483647]");
  CHECK(refusal(R"({"max_tokens": 2})").second == "'prompt': missing");
  CHECK(refusal(R"({"messages": []})", Endpoint::Chat).second == "'messages': expected a non-empty list of messages");
  CHECK(refusal(R"({"messages": [{"role": "user"}]})", Endpoint::Chat).second ==
        "'messages[0]': needs 'role' and 'content'");
  CHECK(refusal(R"({"messages": [{"role": "user", "content": [1]}]})", Endpoint::Chat).second ==
        "'messages[0].content': expected a string, got array");
  CHECK(refusal(R"({"messages": [{"role": "tool", "content": "x"}]})", Endpoint::Chat).second ==
        "'messages[0].role': 'tool': expected system, user or assistant");
  CHECK(refusal(R"({"prompt": "x"})", Endpoint::Chat).second == "'prompt': unknown field for /v1/chat/completions");
  CHECK(refusal(R"({"prompt": "x", "stream_options": {"include_usage": true}})").second ==
        "'stream_options': only with \"stream\": true");
  CHECK(refusal(R"({"prompt": "x", "stream": true, "stream_options": []})").second ==
        "'stream_options': expected an object, got array");
  CHECK(refusal(R"({"prompt": "x", "stream": true, "stream_options": {"include_usage": "yes"}})").second ==
        "'stream_options.include_usage': expected true or false, got string");
  CHECK(refusal(R"({"prompt": "x", "stream": true, "stream_options": {"continuous_usage_stats": true}})").second ==
        "'stream_options.continuous_usage_stats': unknown field");
}

TEST_CASE("stream_options.include_usage asks for a last chunk with the usage", "[serve][api]") {
  const ApiDefaults defaults = openAiDefaults();
  CHECK(parseApiRequest(R"({"prompt": "x", "stream": true, "stream_options": {"include_usage": true}})",
                        Endpoint::Completions, defaults)
            .includeUsage);
  CHECK_FALSE(parseApiRequest(R"({"prompt": "x", "stream": true})", Endpoint::Completions, defaults).includeUsage);
  CHECK_FALSE(
      parseApiRequest(R"({"prompt": "x", "stream_options": null})", Endpoint::Completions, defaults).includeUsage);
  const Json chunk = Json::parse(usageChunk(Endpoint::Chat, {"chatcmpl-1", 5, "m"}, {"", "stop", 3, 4}));
  CHECK(chunk["object"] == "chat.completion.chunk");
  CHECK(chunk["choices"] == Json::array());
  CHECK(chunk["usage"] == Json{{"prompt_tokens", 3}, {"completion_tokens", 4}, {"total_tokens", 7}});
}

TEST_CASE("responses and stream chunks have the OpenAI shapes", "[serve][api]") {
  const ResponseInfo info{"cmpl-3", 1700000000, "m.gguf"};
  const Answer answer{"text", "length", 5, 7};
  const Json completion = Json::parse(responseBody(Endpoint::Completions, info, answer));
  CHECK(completion["object"] == "text_completion");
  CHECK(completion["choices"][0]["text"] == "text");
  CHECK(completion["choices"][0]["finish_reason"] == "length");
  CHECK(completion["usage"] == Json{{"prompt_tokens", 5}, {"completion_tokens", 7}, {"total_tokens", 12}});
  const Json chat = Json::parse(responseBody(Endpoint::Chat, info, answer));
  CHECK(chat["object"] == "chat.completion");
  CHECK(chat["choices"][0]["message"] == Json{{"role", "assistant"}, {"content", "text"}});
  const Json first = Json::parse(streamChunk(Endpoint::Chat, info, "", nullptr, true));
  CHECK(first["object"] == "chat.completion.chunk");
  CHECK(first["choices"][0]["delta"] == Json{{"role", "assistant"}, {"content", ""}});
  CHECK(first["choices"][0]["finish_reason"].is_null());
  const Json last = Json::parse(streamChunk(Endpoint::Chat, info, "", &answer));
  CHECK(last["choices"][0]["delta"] == Json::object());
  CHECK(last["choices"][0]["finish_reason"] == "length");
  CHECK(last["usage"]["total_tokens"] == 12);
  // Text that is not UTF-8 is replaced, never a throw.
  const Json odd = Json::parse(streamChunk(Endpoint::Completions, info, "a\xff", nullptr));
  CHECK(odd["choices"][0]["text"] == "a\xef\xbf\xbd");
  const Json models = Json::parse(modelsBody("m.gguf", 1700000000, {4096, 256}));
  CHECK(models["data"][0]["id"] == "m.gguf");
  CHECK(models["data"][0]["meta"] == Json{{"n_vocab", 4096}, {"n_ctx", 256}});
  const Json error = Json::parse(errorBody(429, "full"));
  CHECK(error["error"]["message"] == "full");
  CHECK(error["error"]["type"] == "rate_limit_error");
  CHECK(error["error"]["code"] == 429);
}

TEST_CASE("the metrics are Prometheus text: counters, gauges, cumulative histograms", "[serve][metrics]") {
  ServeMetrics metrics;
  metrics.countRequest(RequestOutcome::Stop);
  metrics.countRequest(RequestOutcome::Stop);
  metrics.countRequest(RequestOutcome::QueueFull);
  metrics.queueDepth = 3;
  metrics.stepSeconds.observe(0.004);
  metrics.stepSeconds.observe(0.2);
  metrics.stepSeconds.observe(100);
  const std::string text = metrics.prometheus();
  CHECK_THAT(text, Catch::Contains("reel_requests_total{outcome=\"stop\"} 2\n"));
  CHECK_THAT(text, Catch::Contains("reel_requests_total{outcome=\"queue_full\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("# TYPE reel_queue_depth gauge\nreel_queue_depth 3\n"));
  CHECK_THAT(text, Catch::Contains("reel_step_seconds_bucket{le=\"0.0025\"} 0\n"));
  CHECK_THAT(text, Catch::Contains("reel_step_seconds_bucket{le=\"0.005\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("reel_step_seconds_bucket{le=\"0.25\"} 2\n"));
  CHECK_THAT(text, Catch::Contains("reel_step_seconds_bucket{le=\"10\"} 2\n"));
  CHECK_THAT(text, Catch::Contains("reel_step_seconds_bucket{le=\"+Inf\"} 3\nreel_step_seconds_sum 100.2"));
  CHECK_THAT(text, Catch::Contains("\nreel_step_seconds_count 3\n"));
}
