#include "runtime/gpu/DecodeBench.h"

#include "support/Diagnostics.h"

#include <algorithm>
#include <chrono>
#include <map>

namespace reel::gpu {

namespace {

/// Decodes warmup + tokens steps of `rows` sequences from position 0; returns seconds per timed step.
double timeSteps(GpuRuntime& runtime, const DecodeBenchCase& c) {
  StepRows rows;
  for (int64_t s = 0; s < c.rows; ++s) {
    rows.tokens.push_back(static_cast<int32_t>(1 + s));
    rows.positions.push_back(0);
    rows.kvLens.push_back(1);
    rows.slots.push_back(static_cast<int32_t>(s));
  }
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
  if (benchCase.tokens < 1 || benchCase.warmup < 0) failPlain("bench: needs at least one timed step");
  if (benchCase.warmup + benchCase.tokens > runtime.kv().positions)
    failPlain("bench: {} steps do not fit the plan's context of {} positions (use a larger --ctx or fewer tokens)",
              benchCase.warmup + benchCase.tokens, runtime.kv().positions);
  const codegen::BucketPlan* bucket = runtime.bucketFor(Phase::Decode, benchCase.rows, 1);
  if (!bucket) failPlain("bench: no decode bucket holds {} rows", benchCase.rows);
  DecodeBenchResult result;
  result.bucket = bucket->graph;
  result.rows = benchCase.rows;
  for (const codegen::Step& step : bucket->steps) result.weightBytesPerStep += step.weightBytes;
  runtime.setEager(false);
  const double graphSeconds = timeSteps(runtime, benchCase);
  if (runtime.lastStepUsedGraph()) result.graphSecondsPerStep = graphSeconds;
  runtime.setEager(true);
  result.eagerSecondsPerStep = timeSteps(runtime, benchCase);
  runtime.setEager(false);
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
