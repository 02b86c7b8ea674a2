#pragma once
/// \file
/// kernel_bench's read-bandwidth probe (the denominator of "% of the measured read bandwidth").

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace reel::bench {

struct ReadProbe {
  const void* data = nullptr;  ///< the buffer read, bytes a multiple of 16
  size_t bytes = 0;
  uint32_t* sink = nullptr;  ///< at least `threads` words
  int blocks = 0, threads = 256;
  int depth = 4;  ///< 16-byte loads in flight per thread: 2, 4 or 8
};

/// Launches one streaming read of the whole buffer.
cudaError_t readOnce(const ReadProbe& probe, cudaStream_t stream);

}  // namespace reel::bench
