#pragma once
/// \file
/// The OpenAI API of `reel serve` as data: a request body checked and read into an
/// ApiRequest (every error an HttpError with the status and a message naming the field), and
/// the response bodies and stream chunks written back (docs/serving.md).
///
///   ApiRequest request = parseApiRequest(body, Endpoint::Chat, defaults);  // throws HttpError
///   std::string json = responseBody(request.endpoint, info, answer);

#include "runtime/decode/Sampling.h"
#include "text/ChatTemplate.h"

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace reel::tools {

/// A request the server answers with an HTTP error: the status and a one-line message (the
/// body is errorBody(status, message)).
class HttpError : public std::runtime_error {
 public:
  HttpError(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
  [[nodiscard]] int status() const { return status_; }

 private:
  int status_;
};

enum class Endpoint : uint8_t { Completions, Chat };

/// What a request gets for the fields it leaves out.
struct ApiDefaults {
  decode::SamplingParams sampling;  ///< the seed is drawn per request unless the request gives one
  int64_t completionTokens = 16;    ///< /v1/completions' max_tokens (OpenAI's 16)
};

struct ApiRequest {
  Endpoint endpoint = Endpoint::Completions;
  std::string prompt;                                ///< completions: the prompt text
  std::optional<std::vector<int32_t>> promptTokens;  ///< completions: the prompt as token ids
  std::vector<text::ChatMessage> messages;           ///< chat: the conversation
  int64_t maxTokens = -1;                            ///< -1: until an end of generation or a full context
  bool stream = false;
  decode::SamplingParams sampling;
  bool seedGiven = false;
  std::vector<std::string> stops;
  /// ignore_eos (llama.cpp's and vLLM's field): generate past end-of-generation tokens, up to
  /// max_tokens (load tests want answers of a fixed length).
  bool ignoreEos = false;
  /// stream_options.include_usage (OpenAI's): the stream ends with one more chunk, whose
  /// choices are empty and whose usage counts the tokens of the request.
  bool includeUsage = false;
};

/// Reads a request body of `endpoint`; throws HttpError 400 naming the field for malformed
/// JSON, a field of the wrong type or range, an unknown field, n other than 1, or logprobs.
ApiRequest parseApiRequest(std::string_view body, Endpoint endpoint, const ApiDefaults& defaults);

/// OpenAI's finish_reason (or reel's "timeout"), and the token counts of `usage`.
struct Answer {
  std::string text;
  std::string finishReason;  ///< "stop", "length", "timeout"
  int64_t promptTokens = 0;
  int64_t completionTokens = 0;
};

/// What every response and chunk of one request carries.
struct ResponseInfo {
  std::string id;  ///< "cmpl-7", "chatcmpl-7"
  int64_t created = 0;
  std::string model;
};

/// The non-streamed response (`text_completion` or `chat.completion`).
std::string responseBody(Endpoint endpoint, const ResponseInfo& info, const Answer& answer);
/// One streamed chunk's JSON (without the SSE framing): `text` so far; with `final`, its
/// finish_reason and usage. A chat stream's first chunk (`roleChunk`) carries the role only.
std::string streamChunk(Endpoint endpoint, const ResponseInfo& info, const std::string& text, const Answer* final,
                        bool roleChunk = false);
/// {"error": {"message": ..., "type": ..., "code": status}}.
std::string errorBody(int status, const std::string& message);
/// What GET /v1/models says of the model in its `meta` object (llama.cpp's server gives one):
/// what a client needs to build prompts of token ids that fit.
struct ModelMeta {
  int64_t vocabulary = 0;  ///< n_vocab: token ids are below it
  int64_t context = 0;     ///< n_ctx: the positions of one sequence, prompt and generated tokens
};

/// GET /v1/models.
std::string modelsBody(const std::string& model, int64_t created, const ModelMeta& meta);
/// The chunk that ends a stream with stream_options.include_usage: no choices, the usage.
std::string usageChunk(Endpoint endpoint, const ResponseInfo& info, const Answer& final);

}  // namespace reel::tools
