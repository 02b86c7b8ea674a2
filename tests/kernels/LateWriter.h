#pragma once
/// \file
/// Test probe: a one-block kernel that lets the next kernel in the stream start at once (an
/// early start, where that kernel allows it) and copies `bytes` from src to dst only after
/// `delayNanos`. A successor that reads dst before its wait for this kernel reads old data.

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace reel::test {

cudaError_t launchLateCopy(const void* src, void* dst, size_t bytes, uint64_t delayNanos, cudaStream_t stream);

}  // namespace reel::test
