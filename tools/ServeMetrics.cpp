#include "tools/ServeMetrics.h"

#include <fmt/format.h>

#include <algorithm>

namespace reel::tools {
namespace {

constexpr const char* kOutcomeNames[kRequestOutcomes] = {"stop",       "length",      "cancelled",   "timeout",
                                                         "queue_full", "bad_request", "unavailable", "error"};

std::vector<double> latencyBounds() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

/// Rows of a step: decode buckets are powers of two, prefill chunks 64 to 512 rows.
std::vector<double> tokenBounds() {
  return {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096};
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  const auto bucket = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  const std::lock_guard lock(mutex_);
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

std::string Histogram::prometheus(const std::string& name, const std::string& help) const {
  const std::lock_guard lock(mutex_);
  std::string text = fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  uint64_t cumulative = 0;
  for (size_t b = 0; b < bounds_.size(); ++b) {
    cumulative += counts_[b];
    text += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[b], cumulative);
  }
  text += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, count_, name, sum_, name, count_);
  return text;
}

ServeMetrics::ServeMetrics()
    : stepSeconds(latencyBounds()),
      stepTokens(tokenBounds()),
      prefillTokens(tokenBounds()),
      decodeRows({1, 2, 4, 8, 16, 32, 64, 128, 256}),
      bucketOccupancy({0.125, 0.25, 0.5, 0.75, 0.99, 1}),
      timeToFirstToken(latencyBounds()),
      interTokenLatency(latencyBounds()) {}

std::string ServeMetrics::prometheus() const {
  std::string text = "# HELP reel_requests_total Requests by how they ended.\n# TYPE reel_requests_total counter\n";
  for (size_t o = 0; o < kRequestOutcomes; ++o)
    text += fmt::format("reel_requests_total{{outcome=\"{}\"}} {}\n", kOutcomeNames[o], requests[o].load());
  auto scalar = [&](const char* name, const char* type, const char* help, auto value) {
    text += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
  };
  scalar("reel_prompt_tokens_total", "counter", "Prompt tokens prefilled.", promptTokens.load());
  scalar("reel_generated_tokens_total", "counter", "Tokens generated.", generatedTokens.load());
  scalar("reel_queue_depth", "gauge", "Requests waiting for a KV slot.", queueDepth.load());
  scalar("reel_running_sequences", "gauge", "Sequences in the decode scheduler.", running.load());
  text += stepSeconds.prometheus(
      "reel_step_seconds", "Time of each scheduler step (a decode step and the prefill its budget leaves room for).");
  text += stepTokens.prometheus("reel_step_tokens", "Rows of each scheduler step, decode and prefill (--step-tokens).");
  text += prefillTokens.prometheus("reel_step_prefill_tokens", "Prompt tokens prefilled by each step that prefills.");
  text += decodeRows.prometheus("reel_decode_step_rows", "Live rows of each decode step.");
  text += bucketOccupancy.prometheus("reel_bucket_occupancy",
                                     "Live rows over the rows of the bucket graph, per decode step (its last group).");
  text += timeToFirstToken.prometheus("reel_time_to_first_token_seconds",
                                      "From a request's arrival to its first generated token.");
  text +=
      interTokenLatency.prometheus("reel_inter_token_latency_seconds", "Between successive tokens of one sequence.");
  return text;
}

}  // namespace reel::tools
