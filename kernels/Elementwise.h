#pragma once
/// \file
/// Small kernels: residual add, SwiGLU, bias add, f32->f16 cast, argmax, embedding lookup.

#include "quant/QuantRef.h"

#include <cuda_runtime_api.h>

#include <cstdint>

namespace reel::kernels {

/// out = a + b (out may alias a or b).
cudaError_t launchAdd(const float* a, const float* b, float* out, int64_t count, cudaStream_t stream);
/// out = silu(gate) * up (out may alias gate or up).
cudaError_t launchSwiglu(const float* gate, const float* up, float* out, int64_t count, cudaStream_t stream);
/// silu(gate) * up of [m][n] rows (n a multiple of 32) written as Q8_1 row-planar rows
/// (bit-identical to launchSwiglu then launchQuantizeQ81).
cudaError_t launchSwigluQ81(const float* gate, const float* up, void* out, int64_t m, int64_t n, cudaStream_t stream);
/// x[i][j] += bias[j] for x [m][n].
cudaError_t launchBiasAdd(float* x, const float* bias, int64_t m, int64_t n, cudaStream_t stream);
/// out (f16 bits) = round-to-nearest-even(in).
cudaError_t launchCastF32ToF16(const float* in, void* out, int64_t count, cudaStream_t stream);
/// out[i] = the index of the maximum of row i of x [m][n] (lowest index on ties; NaN never wins;
/// a row of NaNs gives 0).
cudaError_t launchArgmax(const float* x, int32_t* out, int64_t m, int64_t n, cudaStream_t stream);

/// Embedding lookup with dequantization from a table in the GGUF layout.
struct EmbedArgs {
  quant::QType type = quant::QType::F32;  ///< F32, F16, BF16, Q8_0, Q5_0, Q5_1, Q4_0, Q4_K, Q5_K, Q6_K
  const void* table = nullptr;            ///< [vocab] rows of n elements
  const int32_t* tokens = nullptr;        ///< int32 [m]; ids outside [0, vocab) give zero rows
  float* out = nullptr;                   ///< f32 [m][n]
  int64_t m = 0, n = 0, vocab = 0;
};
cudaError_t launchEmbed(const EmbedArgs& args, cudaStream_t stream);

}  // namespace reel::kernels
