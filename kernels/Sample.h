#pragma once
/// \file
/// The `sample` kernel: each row's next token from its logits, its SampleRow and its recent
/// tokens (kernels/SampleMath.h; docs/sampling.md), one block per row.

#include <cuda_runtime_api.h>

#include <cstdint>

namespace reel::kernels {

struct SampleArgs {
  const float* logits = nullptr;       ///< f32 [m][n]
  const void* sampling = nullptr;      ///< SampleRow [m]
  const int32_t* recent = nullptr;     ///< int32 [m][kSampleWindow], -1 for none
  const int32_t* positions = nullptr;  ///< int32 [m]: the draw's counter
  int32_t* out = nullptr;              ///< int32 [m]
  int64_t m = 0, n = 0;
};

/// Greedy rows (temperature <= 0) get argmax's token of their penalised logits; the others a
/// draw among top-k (at most kSampleMaxCandidates), top-p and min-p at their temperature.
cudaError_t launchSample(const SampleArgs& args, cudaStream_t stream);

}  // namespace reel::kernels
