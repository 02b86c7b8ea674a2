#include "tools/SamplingFlags.h"

#include "support/Diagnostics.h"

#include <fmt/format.h>

#include <charconv>
#include <random>

namespace reel::tools {
namespace {

constexpr const char* kSamplingFlags[] = {
    "--temp",          "--top-k", "--top-p", "--min-p", "--repeat-penalty", "--presence-penalty", "--frequency-penalty",
    "--repeat-last-n", "--seed"};

/// The value of float option `name`, strictly parsed; `fallback` when absent.
float floatFlag(const Args& args, const std::string& name, float fallback) {
  const std::optional<std::string> text = args.get(name);
  if (!text) return fallback;
  float value = 0;
  const char* end = text->data() + text->size();
  auto [stop, ec] = std::from_chars(text->data(), end, value);
  if (text->empty() || ec != std::errc() || stop != end)
    failPlain("{}: {} '{}': expected a number", args.command(), name, *text);
  return value;
}

uint64_t seedFlag(const Args& args) {
  const std::optional<std::string> text = args.get("--seed");
  if (!text) return std::random_device{}();
  uint64_t value = 0;
  const char* end = text->data() + text->size();
  auto [stop, ec] = std::from_chars(text->data(), end, value);
  if (text->empty() || ec != std::errc() || stop != end)
    failPlain("{}: --seed '{}': expected an integer from 0 to {}", args.command(), *text, UINT64_MAX);
  return value;
}

}  // namespace

void declareSamplingFlags(Args& args) {
  args.option("--temp", "T", "sample at temperature T (0: greedy); any sampling flag samples, default greedy");
  args.option("--top-k", "K", "keep the K most likely tokens (default 40 when sampling; 0: off)");
  args.option("--top-p", "P", "keep the most likely tokens up to probability P (default 0.95 when sampling)");
  args.option("--min-p", "P", "drop tokens below P times the most likely one's probability (default 0.05)");
  args.option("--repeat-penalty", "F", "divide the logits of recent tokens by F (default 1: off)");
  args.option("--presence-penalty", "F", "subtract F from the logits of recent tokens (default 0)");
  args.option("--frequency-penalty", "F", "subtract F per occurrence from the logits of recent tokens (default 0)");
  args.option(
      "--repeat-last-n", "N",
      fmt::format("the penalties look back over the last N tokens (default 64, at most {})", decode::kMaxPenaltyLastN));
  args.option("--seed", "N", "seed of the draws (default: random, printed); sequence i of a batch uses N + i");
}

bool samplingRequested(const Args& args) {
  for (const char* flag : kSamplingFlags)
    if (args.has(flag)) return true;
  return false;
}

decode::SamplingParams samplingFromFlags(const Args& args) {
  decode::SamplingParams params;
  if (!samplingRequested(args)) return params;
  params.temperature = floatFlag(args, "--temp", 0.8f);
  params.topK = static_cast<int32_t>(args.getInt("--top-k", 40, {0, INT32_MAX}));
  params.topP = floatFlag(args, "--top-p", 0.95f);
  params.minP = floatFlag(args, "--min-p", 0.05f);
  params.repeatPenalty = floatFlag(args, "--repeat-penalty", 1.0f);
  params.presencePenalty = floatFlag(args, "--presence-penalty", 0.0f);
  params.frequencyPenalty = floatFlag(args, "--frequency-penalty", 0.0f);
  params.penaltyLastN = static_cast<int32_t>(args.getInt("--repeat-last-n", 64, {0, decode::kMaxPenaltyLastN}));
  params.seed = seedFlag(args);
  try {
    params.validate();
  } catch (const Error& error) {
    failPlain("{}: {}", args.command(), error.what());
  }
  return params;
}

std::string describeSampling(const decode::SamplingParams& params) {
  if (params.greedy()) return "";
  std::string text = fmt::format("sampling: temp {}, top-k {}, top-p {}, min-p {}", params.temperature, params.topK,
                                 params.topP, params.minP);
  if (!params.penaltiesOff())
    text += fmt::format(", repeat-penalty {}, presence-penalty {}, frequency-penalty {} over the last {} tokens",
                        params.repeatPenalty, params.presencePenalty, params.frequencyPenalty, params.penaltyLastN);
  return text + fmt::format(", seed {}", params.seed);
}

}  // namespace reel::tools
