#pragma once
/// \file
/// Dequantization of a block-quantized weight, in the layout the GEMV and mmq read it (Q4_K, Q5_K:
/// GGUF rows; the others row-planar), into f16 rows [n][k]: the transient weight of
/// `dequant-hgemm`, which multiplies it with cuBLAS HGEMM right after. Each element is
/// quant::dequantizeRow's float rounded to f16 (bit-identical: same formula, --fmad=false).
/// Launch shape (kernels/DequantShape.h): kDequantThreads threads per block, one 32-element group
/// per thread.

#include "kernels/DequantShape.h"
#include "quant/QType.h"

#include <cuda_runtime_api.h>

#include <cstdint>

namespace reel::kernels {

struct DequantF16Args {
  quant::QType type = quant::QType::Q4_K;  ///< a DP4A weight type (quant::isDp4aWeightType)
  const void* weights = nullptr;           ///< W [n][k] as the GEMV reads it
  void* out = nullptr;                     ///< f16 [n][k]
  int64_t n = 0, k = 0;                    ///< k a multiple of 256 (K-quants) or 32
  /// Programmatic dependent launch: the weights are immutable, so the kernel reads them at once;
  /// it waits for the previous kernel before it writes (the previous HGEMM may still read `out`).
  bool earlyStart = true;
};

/// Launches the dequantization; cudaErrorInvalidValue for an unsupported type or shape.
cudaError_t launchDequantF16(const DequantF16Args& args, cudaStream_t stream);

}  // namespace reel::kernels
