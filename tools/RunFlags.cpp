#include "tools/RunFlags.h"

#include "ir/Diagnostics.h"

#include <fmt/format.h>

#include <algorithm>

namespace reel::tools {
namespace {

/// Bounds of the request flags.
constexpr int64_t kMaxBatch = 1024;
constexpr int64_t kMaxNewTokens = int64_t{1} << 24;

/// "1,2,3" -> token ids.
std::vector<int32_t> parseTokens(const std::string& text, const std::string& command) {
  std::vector<int32_t> tokens;
  for (size_t start = 0; start <= text.size();) {
    const size_t comma = std::min(text.find(',', start), text.size());
    tokens.push_back(static_cast<int32_t>(
        parseIntIn(text.substr(start, comma - start), {0, INT32_MAX}, command + ": --prompt-tokens " + text + ":")));
    start = comma + 1;
  }
  return tokens;
}

}  // namespace

void declareRunRequestFlags(Args& args) {
  args.option("--tokens", "N", "tokens to generate per sequence (default 16)", "-n");
  args.option("--prompt-tokens", "LIST", "the prompt as token ids, e.g. 1,2,3 (default 1)");
  args.option("--batch", "M", fmt::format("run M sequences at once (default 1, at most {})", kMaxBatch));
  args.option("--prefill", "MODE", "auto (default: @prefill when present), graph, or tokens (one token per step)");
}

reference::DecodeRequest runRequestFromFlags(const Args& args) {
  const std::vector<int32_t> prompt = parseTokens(args.getOr("--prompt-tokens", "1"), args.command());
  const int64_t batch = args.getInt("--batch", 1, {1, kMaxBatch});
  reference::DecodeRequest request;
  for (int64_t i = 0; i < batch; ++i) {
    std::vector<int32_t> sequence = prompt;
    for (int64_t j = 0; j < i; ++j) sequence.push_back(prompt[static_cast<size_t>(j) % prompt.size()]);
    request.prompts.push_back(std::move(sequence));
  }
  request.newTokens = args.getInt("--tokens", 16, {1, kMaxNewTokens});
  return request;
}

reference::PrefillMode prefillModeFromFlags(const Args& args) {
  const std::string text = args.getOr("--prefill", "auto");
  if (text == "auto") return reference::PrefillMode::Auto;
  if (text == "graph") return reference::PrefillMode::Graph;
  if (text == "tokens") return reference::PrefillMode::TokenByToken;
  failPlain("{}: --prefill {}: expected auto, graph or tokens", args.command(), text);
}

std::string sequenceLines(const reference::DecodeReport& report, const reference::DecodeRequest& request,
                          int64_t maxContext) {
  std::string out;
  for (size_t i = 0; i < report.sequences.size(); ++i) {
    const size_t promptTokens = request.prompts[i].size();
    out += fmt::format("sequence {} ({} prompt token{}): {}\n", i, promptTokens, promptTokens == 1 ? "" : "s",
                       fmt::join(report.sequences[i].tokens, " "));
    if (std::string stop = reference::describeStop(report.sequences[i], maxContext, request.newTokens); !stop.empty())
      out += fmt::format("sequence {}: {}\n", i, stop);
  }
  return out;
}

}  // namespace reel::tools
