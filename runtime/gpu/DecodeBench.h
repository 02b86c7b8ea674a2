#pragma once
/// \file
/// Timing steps on the GPU runtime, for `reel bench`: m sequences decode `tokens` steps from KV
/// depth `depth` (after a few untimed warm-up steps), each step a full runtime step (input copy,
/// graph launch or eager launches, token copy, synchronize), once through the CUDA graphs and
/// once eagerly; and the prefill of one prompt through the prefill bucket, chunk by chunk.

#include "runtime/gpu/GpuRuntime.h"

#include <cstdint>
#include <string>
#include <vector>

namespace reel::gpu {

struct DecodeBenchCase {
  int64_t rows = 1;      ///< live sequences (one decode bucket's m)
  int64_t tokens = 128;  ///< timed steps
  int64_t warmup = 4;    ///< untimed steps first
  /// KV positions each sequence holds before the first step (the attention reads them; their
  /// values do not change the time, so they are not written first).
  int64_t depth = 0;
};

struct DecodeBenchResult {
  std::string bucket;  ///< the bucket graph the steps ran on
  int64_t rows = 0;
  int64_t weightBytesPerStep = 0;
  int64_t kvBytesPerStep = 0;      ///< K and V bytes the timed steps' attention reads, on average
  double graphSecondsPerStep = 0;  ///< 0 when the bucket has no captured graph
  double eagerSecondsPerStep = 0;
};

/// The GPU time of one kernel id within a step.
struct KernelTime {
  std::string kernel;
  int64_t launches = 0;
  double microseconds = 0;
};

/// Where one decode step of `rows` sequences (KV length `kvLength`) spends its GPU time, per
/// kernel id, the largest first (StepTimer.h: each launch with the gap after it).
std::vector<KernelTime> decodeBreakdown(GpuRuntime& runtime, int64_t rows, int64_t kvLength);

/// Runs the case through graphs (when captured) and eagerly. Throws when no decode bucket holds
/// the rows or the context is too short for depth + warmup + tokens steps.
DecodeBenchResult benchmarkDecode(GpuRuntime& runtime, const DecodeBenchCase& benchCase);

struct PrefillBenchResult {
  std::string bucket;       ///< the prefill bucket graph the chunks ran on
  int64_t tokens = 0;       ///< prompt tokens
  int64_t chunks = 0;       ///< prefill steps per prompt
  double seconds = 0;       ///< the prompt's prefill, median of the timed runs (through the graphs)
  int64_t weightBytes = 0;  ///< weight bytes the chunks read
};

/// Prefills a prompt of `tokens` tokens into KV slot 0 through the loaded prefill bucket, one
/// untimed run, then `runs` timed ones. Throws when no prefill bucket is loaded or the prompt
/// does not fit the context.
PrefillBenchResult benchmarkPrefill(GpuRuntime& runtime, int64_t tokens, int runs);

}  // namespace reel::gpu
