#include "runtime/gpu/DecodeBench.h"

#include "support/Diagnostics.h"

#include <algorithm>
#include <chrono>
#include <map>

namespace reel::gpu {

namespace {

/// Decodes warmup + tokens steps of `rows` sequences from position `depth`; returns seconds per
/// timed step.
double timeSteps(GpuRuntime& runtime, const DecodeBenchCase& c) {
  StepRows rows;
  for (int64_t s = 0; s < c.rows; ++s)
    rows.add(static_cast<int32_t>(1 + s), static_cast<int32_t>(c.depth), static_cast<int32_t>(s));
  rows.minBucketRows = c.rows;
  std::chrono::steady_clock::time_point start;
  for (int64_t step = 0; step < c.warmup + c.tokens; ++step) {
    if (step == c.warmup) start = std::chrono::steady_clock::now();
    rows.tokens = runtime.step(Phase::Decode, rows);
    for (int64_t s = 0; s < c.rows; ++s) {
      rows.positions[static_cast<size_t>(s)] += 1;
      rows.kvLens[static_cast<size_t>(s)] += 1;
    }
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() /
         static_cast<double>(c.tokens);
}

}  // namespace

DecodeBenchResult benchmarkDecode(GpuRuntime& runtime, const DecodeBenchCase& benchCase) {
  if (benchCase.tokens < 1 || benchCase.warmup < 0 || benchCase.depth < 0)
    failPlain("bench: needs at least one timed step");
  const int64_t positions = benchCase.depth + benchCase.warmup + benchCase.tokens;
  if (positions > runtime.kv().positions)
    failPlain(
        "bench: a depth of {} and {} steps do not fit the plan's context of {} positions (use a larger --ctx, a "
        "smaller "
        "depth or fewer tokens)",
        benchCase.depth, benchCase.warmup + benchCase.tokens, runtime.kv().positions);
  // The graph the first timed step runs: past the flash-decoding threshold, the .long one.
  const codegen::BucketPlan* bucket =
      runtime.bucketFor(Phase::Decode, benchCase.rows, benchCase.depth + benchCase.warmup + 1);
  if (!bucket) failPlain("bench: no decode bucket holds {} rows", benchCase.rows);
  DecodeBenchResult result;
  result.bucket = bucket->graph;
  result.rows = benchCase.rows;
  for (const codegen::Step& step : bucket->steps) result.weightBytesPerStep += step.weightBytes;
  // The timed steps read KV lengths depth + warmup + 1 ... + tokens: K and V, f16, every layer.
  const KvLayout& kv = runtime.kv();
  const double meanKvLength =
      static_cast<double>(benchCase.depth + benchCase.warmup) + static_cast<double>(benchCase.tokens + 1) / 2.0;
  result.kvBytesPerStep = static_cast<int64_t>(
      meanKvLength * static_cast<double>(benchCase.rows * kv.layers * 2 * kv.kvHeads * kv.headDim * 2));
  runtime.setEager(false);
  const double graphSeconds = timeSteps(runtime, benchCase);
  if (runtime.lastStepUsedGraph()) result.graphSecondsPerStep = graphSeconds;
  runtime.setEager(true);
  result.eagerSecondsPerStep = timeSteps(runtime, benchCase);
  runtime.setEager(false);
  return result;
}

PrefillBenchResult benchmarkPrefill(GpuRuntime& runtime, int64_t tokens, int runs) {
  const int64_t chunk = runtime.largestRows(Phase::Prefill);
  if (chunk < 1) failPlain("bench: the plan has no prefill bucket");
  if (tokens < 1 || tokens > runtime.kv().positions)
    failPlain("bench: a prompt of {} tokens does not fit the plan's context of {} positions (use a larger --ctx)",
              tokens, runtime.kv().positions);
  PrefillBenchResult result;
  result.tokens = tokens;
  result.chunks = (tokens + chunk - 1) / chunk;
  auto prefillOnce = [&] {
    for (int64_t first = 0; first < tokens; first += chunk) {
      StepRows rows;
      for (int64_t p = first; p < std::min(tokens, first + chunk); ++p)
        rows.add(static_cast<int32_t>(1 + p % 1000), static_cast<int32_t>(p), 0);
      runtime.step(Phase::Prefill, rows);
      if (result.bucket.empty()) {
        result.bucket = runtime.lastBucket()->graph;
        for (const codegen::Step& step : runtime.lastBucket()->steps) result.weightBytes += step.weightBytes;
      }
    }
  };
  runtime.setEager(false);
  prefillOnce();
  result.weightBytes *= result.chunks;
  std::vector<double> seconds;
  for (int run = 0; run < std::max(1, runs); ++run) {
    const auto start = std::chrono::steady_clock::now();
    prefillOnce();
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  result.seconds = seconds[seconds.size() / 2];
  return result;
}

std::vector<KernelTime> decodeBreakdown(GpuRuntime& runtime, int64_t rows, int64_t kvLength) {
  StepRows step;
  for (int64_t s = 0; s < rows; ++s) {
    step.tokens.push_back(static_cast<int32_t>(1 + s));
    step.positions.push_back(static_cast<int32_t>(kvLength - 1));
    step.kvLens.push_back(static_cast<int32_t>(kvLength));
    step.slots.push_back(static_cast<int32_t>(s));
  }
  step.minBucketRows = rows;
  const std::vector<float> milliseconds = runtime.timeEachLaunch(Phase::Decode, step);
  const std::vector<codegen::Step>& steps = runtime.lastBucket()->steps;
  std::map<std::string, KernelTime> byKernel;
  for (size_t i = 0; i < steps.size(); ++i) {
    KernelTime& time = byKernel[steps[i].kernel];
    time.kernel = steps[i].kernel;
    time.launches += 1;
    time.microseconds += 1e3 * milliseconds[i];
  }
  std::vector<KernelTime> times;
  for (const auto& [kernel, time] : byKernel) times.push_back(time);
  std::sort(times.begin(), times.end(),
            [](const KernelTime& a, const KernelTime& b) { return a.microseconds > b.microseconds; });
  return times;
}

}  // namespace reel::gpu
