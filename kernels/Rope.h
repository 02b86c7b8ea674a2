#pragma once
/// \file
/// Rotary position embedding of queries and keys, in place.

#include <cuda_runtime_api.h>

#include <cstdint>

namespace reel::kernels {

/// Which elements form a rotated pair.
enum class RopeStyle {
  Norm,  ///< adjacent pairs (x[2i], x[2i+1]) (GGML "norm", the Llama GGUF convention)
  Neox,  ///< halves (x[i], x[i + head_dim/2]) (GPT-NeoX, HF Llama)
};

/// Frequencies: inv_freq_i = freqBase^(-2i/head_dim); llama3 scaling (Llama 3.1+) applies when
/// llama3Factor != 1 and originalMaxPositions > 0.
struct RopeScaling {
  float freqBase = 10000.0f;
  float llama3Factor = 1.0f;
  float lowFreqFactor = 1.0f;
  float highFreqFactor = 4.0f;
  float originalMaxPositions = 0.0f;
};

struct RopeArgs {
  float* q = nullptr;                  ///< rows of nHeads*headDim (in place)
  float* k = nullptr;                  ///< rows of nKvHeads*headDim (in place)
  const int32_t* positions = nullptr;  ///< int32 [m]
  int64_t m = 0, nHeads = 0, nKvHeads = 0, headDim = 0;
  int64_t qStride = 0, kStride = 0;  ///< floats between rows
  RopeStyle style = RopeStyle::Norm;
  RopeScaling scaling;
};

cudaError_t launchRope(const RopeArgs& args, cudaStream_t stream);

}  // namespace reel::kernels
