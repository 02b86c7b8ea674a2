#pragma once
/// \file
/// Host-to-device copies through two pinned staging buffers: the caller fills one buffer
/// (converting weights straight into it) while the other one's copy is in flight.

#include "runtime/gpu/DeviceMemory.h"

#include <cuda_runtime_api.h>

#include <array>
#include <cstddef>
#include <cstdint>

namespace reel::gpu {

class StagedCopy {
 public:
  /// Two pinned buffers of `chunkBytes` each; copies run on `stream`.
  StagedCopy(cudaStream_t stream, size_t chunkBytes);
  StagedCopy(const StagedCopy&) = delete;
  StagedCopy& operator=(const StagedCopy&) = delete;
  ~StagedCopy();

  [[nodiscard]] size_t chunkBytes() const { return chunkBytes_; }
  /// The next staging buffer, once its previous copy has finished.
  uint8_t* acquire();
  /// Copies the first `bytes` of the buffer acquire() returned last to `dst` (asynchronously).
  void submit(void* dst, size_t bytes);
  /// Waits for every copy (and whatever else was queued on the stream).
  void finish();

 private:
  cudaStream_t stream_;
  size_t chunkBytes_;
  std::array<PinnedBuffer, 2> buffers_;
  std::array<cudaEvent_t, 2> copied_{};
  int current_ = 1;
};

}  // namespace reel::gpu
