#pragma once
/// \file
/// The GPU path of `reel run` (--device cuda), kept apart from the CPU path in Run.cpp. In a
/// build without CUDA it says so and fails.

#include "tools/Args.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace reel::tools {

/// The flags only the GPU path reads: --eager, --ctx, --weights-cache, --gpu-memory-limit.
void declareGpuRunFlags(Args& args);

/// --gpu-memory-limit SIZE (reel run and reel bench).
void declareGpuMemoryLimitFlag(Args& args);

/// The bytes of --gpu-memory-limit, 0 when absent; a one-line error for anything but a size.
uint64_t gpuMemoryLimit(const Args& args);

/// "cpu" or "cuda" for --device auto (cuda when this build has the GPU runtime and a GPU is
/// present), cpu or cuda; throws for anything else.
std::string resolveDevice(const std::string& device);

/// reel run --device cuda: compiles (or reads) the plan, loads it on the GPU, prefills and
/// decodes, prints the tokens and tok/s.
int runRunOnGpu(const Args& args);

}  // namespace reel::tools
