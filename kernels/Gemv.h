#pragma once
/// \file
/// DP4A GEMV on Q8_1 activations (m = 1..8 rows in one pass over the weights), its fused gate+up
/// variants, and the Q8_1 activation quantizer. Layouts: see KernelCatalog.h.

#include "quant/QuantRef.h"

#include <cuda_runtime_api.h>

#include <cstdint>
#include <optional>

namespace reel::kernels {

/// What the GEMV writes.
enum class GemvEpilogue {
  Plain,   ///< out[0] = W0 x (one weight)
  GateUp,  ///< out[0] = W0 x, out[1] = W1 x (two weights of the same shape and type)
  SwiGlu,  ///< out[0] = silu(W0 x) * (W1 x)
};

/// One GEMV launch: out[i][r] = dot(W[r], act[i]) for rows r < n, activation rows i < m.
struct GemvArgs {
  quant::QType type = quant::QType::Q4_K;                ///< weight type (isDp4aWeightType)
  const void* weights[3] = {nullptr, nullptr, nullptr};  ///< W0 (and W1 for GateUp/SwiGlu, stacked)
  const void* act = nullptr;                             ///< Q8_1 row-planar activations, m rows
  float* out[3] = {nullptr, nullptr, nullptr};           ///< f32 [m][n] outputs
  int64_t n = 0;                                         ///< rows of W
  int64_t k = 0;                                         ///< columns of W (gemvKMultiple)
  int m = 1;                                             ///< activation rows (1..8)
  GemvEpilogue epilogue = GemvEpilogue::Plain;
  /// Plain only: 2 or 3 matrices of one type and k in one launch (fuse-qkv's q, k and v, so
  /// their small GEMVs share one ramp-up and tail): weights[s] has stackRows[s] rows and writes
  /// out[s], f32 [m][stackRows[s]]; n is their sum. 0 rows ends the list.
  int64_t stackRows[3] = {0, 0, 0};
  /// Stacked only: the last matrix's type where it differs from `type`. Instantiated for Q4_K
  /// matrices with a last Q6_K one (Q4_K_M's q, k and v), the last matrix starting on a multiple
  /// of kGemvMixedStackAlign rows.
  std::optional<quant::QType> lastType;
  /// Programmatic dependent launch: the kernel may start while the previous kernel in the stream
  /// is still running and streams in its weights; it waits for that kernel before it reads the
  /// activations or writes anything. The weights must not be written by the previous kernel.
  bool earlyStart = true;
  /// Weight rows each lane streams (1 or 2): the plan's `row_sets` argument, which
  /// select-launch-config chose; kernel_bench sweeps both.
  int rowSets = 1;
};

/// Launches the DP4A GEMV; cudaErrorInvalidValue for unsupported shapes or types.
cudaError_t launchGemvDp4a(const GemvArgs& args, cudaStream_t stream);

/// Quantizes x (f32 [m][k], k a multiple of 32) into Q8_1 row-planar rows (bit-identical to
/// quant::quantizeQ81 followed by quant::q81BlocksToPlanar). Launched with an early start (it
/// waits for the previous kernel first) and lets the next kernel (the GEMV) start at once.
cudaError_t launchQuantizeQ81(const float* x, void* out, int64_t m, int64_t k, cudaStream_t stream);

}  // namespace reel::kernels
