#pragma once
/// \file
/// RMSNorm and the fused residual-add + RMSNorm (one block per row).

#include <cuda_runtime_api.h>

#include <cstdint>

namespace reel::kernels {

/// out = x / sqrt(mean(x^2) + eps) * weight, row by row. With `residual` set, the row is first
/// x + residual, written to sumOut (which may alias x or residual). With `outQ81` set instead
/// of `out`, the normed rows are written as Q8_1 (bit-identical to launchQuantizeQ81 of out).
struct RmsNormArgs {
  const float* x = nullptr;         ///< f32 [m][n]
  const float* residual = nullptr;  ///< f32 [m][n], or null for a plain RMSNorm
  const float* weight = nullptr;    ///< f32 [n]
  float* sumOut = nullptr;          ///< f32 [m][n] (with residual only)
  float* out = nullptr;             ///< f32 [m][n], or null with outQ81
  int64_t m = 0, n = 0;             ///< n a multiple of 4
  float eps = 1e-5f;
  void* outQ81 = nullptr;  ///< Q8_1 row-planar [m] rows (n a multiple of 32), or null
};

cudaError_t launchRmsNorm(const RmsNormArgs& args, cudaStream_t stream);

}  // namespace reel::kernels
