#pragma once
/// \file
/// Tensor-core matmul on quantized weights and Q8_1 activations (`mmq_<qtype>`): out[i][r] =
/// dot(W[r], act[i]) for any number of activation rows, reading each weight once per tile of
/// up to 64 rows (MmqShape.h). Weights in the layout the DP4A GEMV reads (Q4_K, Q5_K as GGUF rows,
/// Q6_K and Q8_0 row-planar); results equal quant::dotQ81Mma bit for bit.

#include "quant/QType.h"

#include <cuda_runtime_api.h>

#include <cstdint>

namespace reel::kernels {

struct MmqArgs {
  quant::QType type = quant::QType::Q4_K;  ///< mmqSupports(type)
  const void* weights = nullptr;           ///< W [n][k]
  const void* act = nullptr;               ///< Q8_1 row-planar activations, m rows of q81RowBytes(k)
  float* out = nullptr;                    ///< f32 [m][n]
  int64_t n = 0;                           ///< rows of W
  int64_t k = 0;                           ///< columns: a multiple of 256 (Q4_K, Q6_K) or 32 (Q8_0)
  int64_t m = 0;                           ///< activation rows, >= 1
  /// Programmatic dependent launch, as GemvArgs::earlyStart: weights stream in before the
  /// previous kernel ends; activations are read and outputs written after it.
  bool earlyStart = true;
  /// Variants for kernel_bench to compare (plans launch the defaults): tokens per block tile
  /// (8, 16, 32 or 64; 0: mmqTileTokens(m), which the catalog's launch dims assume), and whether
  /// each warp loads its next unit's weights before multiplying the current one.
  int tileTokens = 0;
  bool prefetch = true;
};

/// Launches the mmq kernel of args.type; cudaErrorInvalidValue for an unsupported type or shape.
cudaError_t launchMmq(const MmqArgs& args, cudaStream_t stream);

}  // namespace reel::kernels
