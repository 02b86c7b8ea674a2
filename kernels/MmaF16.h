#pragma once
/// \file
/// f16 tensor-core matmul on quantized weights (`mma_f16_<qtype>`): out[i][r] = dot(W[r], x[i])
/// for any number of f16 activation rows, each weight read once per tile of up to 64 tokens and
/// dequantized in registers (MmaF16Shape.h). The weights take exactly the f16 values of
/// quant::dequantizeRowMmaF16; the products are summed in f32.

#include "quant/QType.h"

#include <cuda_runtime_api.h>

#include <cstdint>

namespace reel::kernels {

struct MmaF16Args {
  quant::QType type = quant::QType::Q4_K;  ///< mmaF16Supports(type)
  const void* weights = nullptr;           ///< W [n][k] as GGUF rows
  const void* act = nullptr;               ///< f16 [m][k]
  float* out = nullptr;                    ///< f32 [m][n]
  int64_t n = 0;                           ///< rows of W
  int64_t k = 0;                           ///< columns: a multiple of 256
  int64_t m = 0;                           ///< activation rows, >= 1
  /// Programmatic dependent launch: the first stages' weights stream in before the previous
  /// kernel ends; activations are read and outputs written after it.
  bool earlyStart = true;
};

/// Launches the mma_f16 kernel of args.type; cudaErrorInvalidValue for an unsupported type or
/// shape.
cudaError_t launchMmaF16(const MmaF16Args& args, cudaStream_t stream);

}  // namespace reel::kernels
