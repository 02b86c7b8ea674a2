#pragma once
/// \file
/// Attention over an f16 KV cache laid out per sequence slot as [slot][pos][n_kv_heads][head_dim]:
/// KV append, batched decode attention (one query row per sequence), flash-decoding (split +
/// log-sum-exp reduce) and causal prefill attention.

#include <cuda_runtime_api.h>

#include <cstdint>

namespace reel::kernels {

/// Writes row i's K and V (f32 -> f16) at cache[slots[i]][positions[i]]; rows with a negative
/// slot or a position outside [0, maxCtx) are skipped (padding).
struct KvAppendArgs {
  const float* k = nullptr;  ///< rows of nKvHeads*headDim floats, kStride apart
  const float* v = nullptr;  ///< rows of nKvHeads*headDim floats, vStride apart
  void* kCache = nullptr;    ///< f16 [slots][maxCtx][nKvHeads][headDim]
  void* vCache = nullptr;
  const int32_t* slots = nullptr;
  const int32_t* positions = nullptr;
  int64_t m = 0, nKvHeads = 0, headDim = 0, maxCtx = 0, kStride = 0, vStride = 0;
};
cudaError_t launchKvAppend(const KvAppendArgs& args, cudaStream_t stream);

/// What an attention launch computes.
enum class AttentionMode {
  Decode,   ///< out: row i attends to [max(0, kvLens[i]-window), kvLens[i]); kvLens[i] = 0 gives zeros
  Split,    ///< flash-decoding phase 1: as Decode, each of `splits` slices of the range writes partials
  Prefill,  ///< as Decode with kvLens[i] = positions[i] + 1 (causal within one sequence)
};

struct AttentionArgs {
  AttentionMode mode = AttentionMode::Decode;
  const float* q = nullptr;            ///< rows of nHeads*headDim floats, qStride apart
  const void* kCache = nullptr;        ///< f16
  const void* vCache = nullptr;        ///< f16
  const int32_t* slots = nullptr;      ///< int32 [m]; a negative slot gives zeros
  const int32_t* kvLens = nullptr;     ///< int32 [m] (Decode, Split)
  const int32_t* positions = nullptr;  ///< int32 [m] (Prefill)
  float* out = nullptr;                ///< f32 [m][nHeads][headDim] (Decode, Prefill)
  float* partOut = nullptr;            ///< f32 [m][nHeads][splits][headDim] (Split)
  float* partMl = nullptr;             ///< f32 [m][nHeads][splits][2]: max score, sum of exp (Split)
  int64_t m = 0, nHeads = 0, nKvHeads = 0, headDim = 0, maxCtx = 0;
  int64_t window = 0;  ///< sliding window (0 = none)
  int64_t qStride = 0;
  int64_t splits = 1;
  float scale = 1.0f;  ///< score scale, usually 1/sqrt(headDim)
};
cudaError_t launchAttention(const AttentionArgs& args, cudaStream_t stream);

/// Flash-decoding phase 2: out = sum_s e^(m_s - M) o_s / sum_s e^(m_s - M) l_s (zeros when empty).
struct AttentionReduceArgs {
  const float* partOut = nullptr;
  const float* partMl = nullptr;
  float* out = nullptr;
  int64_t m = 0, nHeads = 0, headDim = 0, splits = 1;
};
cudaError_t launchAttentionReduce(const AttentionReduceArgs& args, cudaStream_t stream);

}  // namespace reel::kernels
