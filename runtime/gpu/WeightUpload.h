#pragma once
/// \file
/// Uploading a plan's weight slots: each slot is its GGUF tensor converted into the layout the
/// plan asks for, on the host where that is a byte shuffle or a dequantization (row-planar,
/// f16, f32), on the GPU for FP8 (E4M3 with per-row scales, converted by the kernels' FP8
/// converter from an f32 staging copy). Conversions are threaded and stream through pinned
/// staging buffers; a progress bar shows on stderr for 1 GB or more.

#include "codegen/Plan.h"
#include "runtime/gguf/GgufFile.h"
#include "runtime/gpu/DeviceMemory.h"

#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

namespace reel::gpu {

struct WeightUploadRequest {
  const codegen::Plan* plan = nullptr;
  const GgufFile* file = nullptr;
  /// Which slots to upload (by index); empty: all of them.
  std::vector<bool> neededSlots;
  bool progress = true;
  cudaStream_t stream = nullptr;
  MemoryLedger* ledger = nullptr;
};

/// The device copies of the weight slots (an empty buffer for a slot not uploaded).
struct DeviceWeights {
  std::vector<DeviceBuffer> slots;
  int64_t bytes = 0;   ///< device bytes of all slots
  double seconds = 0;  ///< time the upload took
};

/// Checks every needed slot against its tensor in the file (present, same qtype and shape)
/// and uploads it. Throws a reel::Error naming the tensor on a mismatch, and on a CUDA error.
DeviceWeights uploadWeights(const WeightUploadRequest& request);

}  // namespace reel::gpu
