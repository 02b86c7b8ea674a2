#pragma once
/// \file
/// Where a step's time goes: the bound schedule captured into a graph with an event recorded
/// after every launch, replayed once, and the GPU time between consecutive events read back.
/// Each figure is a launch's run time plus the gap before the next one. The events stand
/// between the launches, so early-start (PDL) overlap is lost: the sum exceeds a plain replay.

#include "runtime/gpu/BoundSchedule.h"

#include <cuda_runtime_api.h>

#include <vector>

namespace reel::gpu {

/// Milliseconds per step of `schedule`, run once on `stream` (which must be idle).
std::vector<float> timeEachStep(const BoundSchedule& schedule, cudaStream_t stream);

}  // namespace reel::gpu
