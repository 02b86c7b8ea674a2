#include "tools/ServeApi.h"

#include "support/Diagnostics.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <set>

namespace reel::tools {
namespace {

using Json = nlohmann::json;

/// The most tokens max_tokens accepts (the context stops a sequence long before).
constexpr int64_t kMaxTokensField = int64_t{1} << 24;
/// The most stop strings a request may give (OpenAI's 4, with room).
constexpr size_t kMaxStops = 16;

[[noreturn]] void badField(const std::string& field, const std::string& why) {
  throw HttpError(400, fmt::format("'{}': {}", field, why));
}

double numberField(const Json& value, const std::string& field) {
  if (!value.is_number()) badField(field, fmt::format("expected a number, got {}", value.type_name()));
  const double number = value.get<double>();
  if (!std::isfinite(number)) badField(field, "expected a finite number");
  return number;
}

/// A number of `field` within [low, high].
float numberIn(const Json& value, const std::string& field, double low, double high) {
  const double number = numberField(value, field);
  if (number < low || number > high) badField(field, fmt::format("{} is not in [{}, {}]", number, low, high));
  return static_cast<float>(number);
}

int64_t integerField(const Json& value, const std::string& field, int64_t low, int64_t high) {
  if (!value.is_number_integer()) badField(field, fmt::format("expected an integer, got {}", value.type_name()));
  if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    badField(field, fmt::format("{} is not in [{}, {}]", value.get<uint64_t>(), low, high));
  const int64_t number = value.get<int64_t>();
  if (number < low || number > high) badField(field, fmt::format("{} is not in [{}, {}]", number, low, high));
  return number;
}

std::string stringField(const Json& value, const std::string& field) {
  if (!value.is_string()) badField(field, fmt::format("expected a string, got {}", value.type_name()));
  return value.get<std::string>();
}

std::vector<std::string> readStops(const Json& value) {
  std::vector<std::string> stops;
  if (value.is_null()) return stops;
  if (value.is_string()) {
    stops.push_back(value.get<std::string>());
  } else if (value.is_array()) {
    if (value.size() > kMaxStops) badField("stop", fmt::format("{} strings, at most {}", value.size(), kMaxStops));
    for (size_t i = 0; i < value.size(); ++i) stops.push_back(stringField(value[i], fmt::format("stop[{}]", i)));
  } else {
    badField("stop", fmt::format("expected a string or a list of strings, got {}", value.type_name()));
  }
  for (const std::string& stop : stops)
    if (stop.empty()) badField("stop", "a stop string is empty");
  return stops;
}

void readPrompt(const Json& value, ApiRequest& request) {
  if (value.is_string()) {
    request.prompt = value.get<std::string>();
    return;
  }
  if (value.is_array() && value.size() == 1 && value[0].is_string()) {
    request.prompt = value[0].get<std::string>();
    return;
  }
  if (value.is_array() && !value.empty() && value[0].is_number()) {
    std::vector<int32_t> ids;
    for (size_t i = 0; i < value.size(); ++i)
      ids.push_back(static_cast<int32_t>(integerField(value[i], fmt::format("prompt[{}]", i), 0, INT32_MAX)));
    request.promptTokens = std::move(ids);
    return;
  }
  badField("prompt", "expected a string, a list of one string, or a non-empty list of token ids");
}

void readMessages(const Json& value, ApiRequest& request) {
  if (!value.is_array() || value.empty()) badField("messages", "expected a non-empty list of messages");
  for (size_t i = 0; i < value.size(); ++i) {
    const std::string where = fmt::format("messages[{}]", i);
    const Json& message = value[i];
    if (!message.is_object()) badField(where, "expected an object with 'role' and 'content'");
    for (const auto& item : message.items())
      if (item.key() != "role" && item.key() != "content" && item.key() != "name")
        badField(where + "." + item.key(), "unknown field");
    if (!message.contains("role") || !message.contains("content")) badField(where, "needs 'role' and 'content'");
    text::ChatMessage chat{stringField(message["role"], where + ".role"),
                           stringField(message["content"], where + ".content")};
    if (chat.role != "system" && chat.role != "user" && chat.role != "assistant")
      badField(where + ".role", fmt::format("'{}': expected system, user or assistant", chat.role));
    request.messages.push_back(std::move(chat));
  }
}

/// Reads one sampling field of `request` (false: `key` is not one).
bool readSamplingField(const std::string& key, const Json& value, ApiRequest& request) {
  decode::SamplingParams& sampling = request.sampling;
  if (key == "temperature") {
    sampling.temperature = numberIn(value, key, 0, 100);
  } else if (key == "top_p") {
    sampling.topP = numberIn(value, key, 0, 1);
    if (sampling.topP <= 0) badField(key, "0 is not in (0, 1]");
  } else if (key == "top_k") {
    sampling.topK = static_cast<int32_t>(integerField(value, key, 0, INT32_MAX));
  } else if (key == "min_p") {
    sampling.minP = numberIn(value, key, 0, 1);
  } else if (key == "presence_penalty") {
    sampling.presencePenalty = numberIn(value, key, -2, 2);
  } else if (key == "frequency_penalty") {
    sampling.frequencyPenalty = numberIn(value, key, -2, 2);
  } else if (key == "repeat_penalty") {
    sampling.repeatPenalty = numberIn(value, key, 0.01, 100);
  } else if (key == "seed") {
    sampling.seed = static_cast<uint64_t>(integerField(value, key, 0, INT64_MAX));
    request.seedGiven = true;
  } else {
    return false;
  }
  return true;
}

/// stream_options: an object whose one field is include_usage.
void readStreamOptions(const Json& value, ApiRequest& request) {
  if (value.is_null()) return;
  if (!value.is_object()) badField("stream_options", fmt::format("expected an object, got {}", value.type_name()));
  for (const auto& item : value.items()) {
    const std::string field = "stream_options." + item.key();
    if (item.key() != "include_usage") badField(field, "unknown field");
    if (!item.value().is_boolean())
      badField(field, fmt::format("expected true or false, got {}", item.value().type_name()));
    request.includeUsage = item.value().get<bool>();
  }
}

void readField(const std::string& key, const Json& value, ApiRequest& request) {
  const bool chat = request.endpoint == Endpoint::Chat;
  if (readSamplingField(key, value, request)) return;
  if (key == "model" || key == "user") {
    (void)stringField(value, key);
  } else if (key == "prompt" && !chat) {
    readPrompt(value, request);
  } else if (key == "messages" && chat) {
    readMessages(value, request);
  } else if (key == "max_tokens" || (key == "max_completion_tokens" && chat)) {
    if (!value.is_null()) request.maxTokens = integerField(value, key, 1, kMaxTokensField);
  } else if (key == "stream") {
    if (!value.is_boolean()) badField(key, fmt::format("expected true or false, got {}", value.type_name()));
    request.stream = value.get<bool>();
  } else if (key == "ignore_eos") {
    if (!value.is_boolean()) badField(key, fmt::format("expected true or false, got {}", value.type_name()));
    request.ignoreEos = value.get<bool>();
  } else if (key == "stream_options") {
    readStreamOptions(value, request);
  } else if (key == "stop") {
    request.stops = readStops(value);
  } else if (key == "n") {
    if (integerField(value, key, 1, INT32_MAX) != 1) badField(key, "only n = 1 is supported");
  } else if (key == "logprobs") {
    if (!value.is_null() && value != false) badField(key, "log probabilities are not supported");
  } else {
    badField(key, fmt::format("unknown field for {}", chat ? "/v1/chat/completions" : "/v1/completions"));
  }
}

Json usageJson(const Answer& answer) {
  return {{"prompt_tokens", answer.promptTokens},
          {"completion_tokens", answer.completionTokens},
          {"total_tokens", answer.promptTokens + answer.completionTokens}};
}

Json envelope(Endpoint endpoint, const ResponseInfo& info, bool chunk) {
  const char* object =
      endpoint == Endpoint::Chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion";
  return {{"id", info.id}, {"object", object}, {"created", info.created}, {"model", info.model}};
}

std::string dump(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

ApiRequest parseApiRequest(std::string_view body, Endpoint endpoint, const ApiDefaults& defaults) {
  const Json json = Json::parse(body, nullptr, false);
  if (json.is_discarded()) throw HttpError(400, "the request body is not valid JSON");
  if (!json.is_object()) throw HttpError(400, "the request body must be a JSON object");
  ApiRequest request;
  request.endpoint = endpoint;
  request.sampling = defaults.sampling;
  request.maxTokens = endpoint == Endpoint::Completions ? defaults.completionTokens : -1;
  for (const auto& item : json.items()) readField(item.key(), item.value(), request);
  if (endpoint == Endpoint::Completions && !json.contains("prompt")) badField("prompt", "missing");
  if (endpoint == Endpoint::Chat && !json.contains("messages")) badField("messages", "missing");
  if (request.includeUsage && !request.stream) badField("stream_options", "only with \"stream\": true");
  try {
    request.sampling.validate();
  } catch (const Error& error) {
    throw HttpError(400, error.what());
  }
  return request;
}

std::string responseBody(Endpoint endpoint, const ResponseInfo& info, const Answer& answer) {
  Json json = envelope(endpoint, info, false);
  Json choice = {{"index", 0}, {"finish_reason", answer.finishReason}};
  if (endpoint == Endpoint::Chat) {
    choice["message"] = {{"role", "assistant"}, {"content", answer.text}};
  } else {
    choice["text"] = answer.text;
    choice["logprobs"] = nullptr;
  }
  json["choices"] = Json::array({choice});
  json["usage"] = usageJson(answer);
  return dump(json);
}

std::string streamChunk(Endpoint endpoint, const ResponseInfo& info, const std::string& text, const Answer* final,
                        bool roleChunk) {
  Json json = envelope(endpoint, info, true);
  Json choice = {{"index", 0}, {"finish_reason", final ? Json(final->finishReason) : Json(nullptr)}};
  if (endpoint == Endpoint::Chat) {
    Json delta = Json::object();
    if (roleChunk) delta["role"] = "assistant";
    if (!text.empty() || roleChunk) delta["content"] = text;
    choice["delta"] = delta;
  } else {
    choice["text"] = text;
    choice["logprobs"] = nullptr;
  }
  json["choices"] = Json::array({choice});
  if (final) json["usage"] = usageJson(*final);
  return dump(json);
}

std::string usageChunk(Endpoint endpoint, const ResponseInfo& info, const Answer& final) {
  Json json = envelope(endpoint, info, true);
  json["choices"] = Json::array();
  json["usage"] = usageJson(final);
  return dump(json);
}

std::string errorBody(int status, const std::string& message) {
  const char* type = status == 429 ? "rate_limit_error" : status >= 500 ? "server_error" : "invalid_request_error";
  return dump(Json{{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", status}}}});
}

std::string modelsBody(const std::string& model, int64_t created, const ModelMeta& meta) {
  const Json entry = {{"id", model},
                      {"object", "model"},
                      {"created", created},
                      {"owned_by", "reel"},
                      {"meta", {{"n_vocab", meta.vocabulary}, {"n_ctx", meta.context}}}};
  return dump(Json{{"object", "list"}, {"data", Json::array({entry})}});
}

}  // namespace reel::tools
