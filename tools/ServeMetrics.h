#pragma once
/// \file
/// The counters, gauges and histograms of `reel serve`, written as Prometheus text
/// (`GET /metrics`, text format 0.0.4). Every member may be updated from any thread: the
/// scheduler thread records steps and tokens, the HTTP threads record requests.
///
///   ServeMetrics metrics;
///   metrics.stepSeconds.observe(0.004);
///   std::string text = metrics.prometheus();

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace reel::tools {

/// How a request ended, for reel_requests_total{outcome=...}.
enum class RequestOutcome : uint8_t {
  Stop,         ///< an end-of-generation token or a stop string
  Length,       ///< max_tokens or a full context
  Cancelled,    ///< the client went away
  Timeout,      ///< the deadline (--timeout) passed
  QueueFull,    ///< refused: the queue was full (429)
  BadRequest,   ///< refused: the request was malformed or cannot fit (4xx)
  Unavailable,  ///< refused: the server is shutting down (503)
  Error,        ///< the step failed (500)
};
inline constexpr size_t kRequestOutcomes = 8;

/// A Prometheus histogram with fixed upper bounds (the +Inf bucket is implicit).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  /// The `# TYPE` line and the _bucket, _sum and _count samples of `name`.
  [[nodiscard]] std::string prometheus(const std::string& name, const std::string& help) const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::vector<uint64_t> counts_;  ///< per bound, not cumulative; the last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

struct ServeMetrics {
  ServeMetrics();

  void countRequest(RequestOutcome outcome) { requests[static_cast<size_t>(outcome)].fetch_add(1); }
  [[nodiscard]] std::string prometheus() const;

  std::array<std::atomic<uint64_t>, kRequestOutcomes> requests{};
  std::atomic<uint64_t> promptTokens{0};     ///< prompt tokens prefilled
  std::atomic<uint64_t> generatedTokens{0};  ///< tokens generated
  std::atomic<int64_t> queueDepth{0};        ///< requests waiting for a KV slot
  std::atomic<int64_t> running{0};           ///< sequences in the scheduler
  Histogram stepSeconds;                     ///< every step, prefill and decode
  Histogram stepTokens;                      ///< rows of each step, decode and prefill
  Histogram prefillTokens;                   ///< prompt tokens of each step that prefills
  Histogram decodeRows;                      ///< live rows of each decode step
  Histogram bucketOccupancy;                 ///< live rows / the rows of the graph that ran
  Histogram timeToFirstToken;                ///< from the request's arrival
  Histogram interTokenLatency;               ///< between a sequence's successive tokens
};

}  // namespace reel::tools
