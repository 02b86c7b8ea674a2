#pragma once
/// \file
/// Timing decode steps on the GPU runtime, for `reel bench`: m sequences decode `tokens` steps
/// from position 0 (after a few untimed warm-up steps), each step a full runtime step (input
/// copy, graph launch or eager launches, token copy, synchronize), once through the CUDA
/// graphs and once eagerly.

#include "runtime/gpu/GpuRuntime.h"

#include <cstdint>
#include <string>
#include <vector>

namespace reel::gpu {

struct DecodeBenchCase {
  int64_t rows = 1;      ///< live sequences (one decode bucket's m)
  int64_t tokens = 128;  ///< timed steps
  int64_t warmup = 4;    ///< untimed steps first
};

struct DecodeBenchResult {
  std::string bucket;  ///< the bucket graph the steps ran on
  int64_t rows = 0;
  int64_t weightBytesPerStep = 0;
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
/// the rows or the context is too short for warmup + tokens steps.
DecodeBenchResult benchmarkDecode(GpuRuntime& runtime, const DecodeBenchCase& benchCase);

}  // namespace reel::gpu
