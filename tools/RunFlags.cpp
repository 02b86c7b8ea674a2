#include "tools/RunFlags.h"
#include "tools/SamplingFlags.h"

#include "support/Diagnostics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

namespace reel::tools {
namespace {

/// Bounds of the request flags.
constexpr int64_t kMaxBatch = 1024;
constexpr int64_t kMaxNewTokens = int64_t{1} << 24;

/// "1,2,3" -> token ids.
std::vector<int32_t> parseTokens(const std::string& text, const std::string& command) {
  const std::vector<int64_t> ids = parseIntList(text, {0, INT32_MAX}, command + ": --prompt-tokens " + text + ":");
  return {ids.begin(), ids.end()};
}

}  // namespace

void declareRunRequestFlags(Args& args) {
  args.option("--tokens", "N", "tokens to generate per sequence (default 16; with -p: -1, no limit)", "-n");
  args.option("--prompt-tokens", "LIST", "the prompt as token ids, e.g. 1,2,3 (default 1)");
  args.option("--batch", "M", fmt::format("run M sequences at once (default 1, at most {})", kMaxBatch));
  args.option("--prefill", "MODE", "auto (default: @prefill when present), graph, or tokens (one token per step)");
}

decode::DecodeRequest runRequestFromFlags(const Args& args) {
  const std::vector<int32_t> prompt = parseTokens(args.getOr("--prompt-tokens", "1"), args.command());
  const int64_t batch = args.getInt("--batch", 1, {1, kMaxBatch});
  decode::DecodeRequest request;
  for (int64_t i = 0; i < batch; ++i) {
    std::vector<int32_t> sequence = prompt;
    for (int64_t j = 0; j < i; ++j) sequence.push_back(prompt[static_cast<size_t>(j) % prompt.size()]);
    request.prompts.push_back(std::move(sequence));
  }
  request.newTokens = args.getInt("--tokens", 16, {1, kMaxNewTokens});
  if (samplingRequested(args)) {
    const decode::SamplingParams sampling = samplingFromFlags(args);
    for (size_t i = 0; i < request.prompts.size(); ++i) {
      request.sampling.push_back(sampling);
      request.sampling.back().seed = sampling.seed + i;  // each sequence draws its own numbers
    }
    if (std::string line = describeSampling(sampling); !line.empty())
      std::fprintf(stderr, "%s (sequence i: seed + i)\n", line.c_str());
  }
  return request;
}

void declareTensorCheckFlag(Args& args) {
  args.option("--check-tensors", "on|off",
              "check the weight file's values for NaN and Inf before using them (default on)");
}

reference::TensorValueCheck tensorCheckFromFlags(const Args& args) {
  const std::string text = args.getOr("--check-tensors", "on");
  if (text == "on") return reference::TensorValueCheck::On;
  if (text == "off") return reference::TensorValueCheck::Off;
  failPlain("{}: --check-tensors {}: expected on or off", args.command(), quoteForMessage(text));
}

decode::PrefillMode prefillModeFromFlags(const Args& args) {
  const std::string text = args.getOr("--prefill", "auto");
  if (text == "auto") return decode::PrefillMode::Auto;
  if (text == "graph") return decode::PrefillMode::Graph;
  if (text == "tokens") return decode::PrefillMode::TokenByToken;
  failPlain("{}: --prefill {}: expected auto, graph or tokens", args.command(), text);
}

std::string sequenceLines(const decode::DecodeReport& report, const decode::DecodeRequest& request,
                          int64_t maxContext) {
  std::string out;
  for (size_t i = 0; i < report.sequences.size(); ++i) {
    const size_t promptTokens = request.prompts[i].size();
    out += fmt::format("sequence {} ({} prompt token{}): {}\n", i, promptTokens, promptTokens == 1 ? "" : "s",
                       fmt::join(report.sequences[i].tokens, " "));
    if (std::string stop = decode::describeStop(report.sequences[i], maxContext, request.newTokens); !stop.empty())
      out += fmt::format("sequence {}: {}\n", i, stop);
  }
  return out;
}

std::string runReport(const decode::DecodeReport& report, const decode::DecodeRequest& request, int64_t maxContext) {
  std::string out = fmt::format("prefill: {}\n", report.prefillPath);
  if (!report.decodePath.empty()) out += fmt::format("decode: {}\n", report.decodePath);
  out += sequenceLines(report, request, maxContext);
  if (report.decodeSteps > 0) {
    size_t decodedTokens = 0;  // tokens of the decode steps (each sequence's first comes from prefill)
    for (const decode::SequenceOutput& sequence : report.sequences) decodedTokens += sequence.tokens.size() - 1;
    const double perStep = report.decodeSeconds / static_cast<double>(report.decodeSteps);
    out += fmt::format(
        "decode: {} steps in {:.3f} s: {:.3f} ms per step, {:.1f} tok/s per sequence, {:.1f} tok/s in all "
        "(prefill {:.3f} s)\n",
        report.decodeSteps, report.decodeSeconds, perStep * 1e3, 1.0 / perStep,
        static_cast<double>(decodedTokens) / report.decodeSeconds, report.prefillSeconds);
  }
  return out;
}

}  // namespace reel::tools
