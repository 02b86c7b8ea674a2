#pragma once
/// \file
/// Attention over an f16 KV cache laid out per sequence slot as [slot][pos][n_kv_heads][head_dim]:
/// KV append, batched decode attention (one query row per sequence), flash-decoding (split +
/// log-sum-exp reduce) and causal prefill attention (the decode kernel with per-row lengths, and
/// a tensor-core kernel over tiles of query rows).

#include "kernels/Rope.h"

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
  void* kCache = nullptr;              ///< f16 (written only by the RoPE + append prologue)
  void* vCache = nullptr;              ///< f16
  const int32_t* slots = nullptr;      ///< int32 [m]; a negative slot gives zeros
  const int32_t* kvLens = nullptr;     ///< int32 [m] (Decode, Split)
  const int32_t* positions = nullptr;  ///< int32 [m] (Prefill)
  float* out = nullptr;                ///< f32 [m][nHeads][headDim] (Decode, Prefill)
  /// Instead of out (Decode; headDim a multiple of 32): the rows as Q8_1 row-planar rows of
  /// nHeads*headDim (q81RowBytes), bit-identical to out followed by quantize_q8_1.
  void* outQ81 = nullptr;
  float* partOut = nullptr;  ///< f32 [m][nHeads][splits][headDim] (Split)
  float* partMl = nullptr;   ///< f32 [m][nHeads][splits][2]: max score, sum of exp (Split)
  int64_t m = 0, nHeads = 0, nKvHeads = 0, headDim = 0, maxCtx = 0;
  int64_t window = 0;  ///< sliding window (0 = none)
  int64_t qStride = 0;
  int64_t splits = 1;
  float scale = 1.0f;  ///< score scale, usually 1/sqrt(headDim)
  /// RoPE + KV append prologue (Decode and Split; fuse-rope-attention): with newK set, q and
  /// newK are not yet rotated. Each block rotates its query heads by positions[i] as it loads
  /// them; the block whose slice of the KV range holds positions[i] rotates row i's key of its
  /// KV head and writes it and the value (f16) to the cache before reading the cache. Rows with
  /// a negative slot or a position outside [0, maxCtx) write nothing (as launchKvAppend).
  const float* newK = nullptr;  ///< rows of nKvHeads*headDim floats, kStride apart
  const float* newV = nullptr;  ///< rows of nKvHeads*headDim floats, vStride apart
  int64_t kStride = 0, vStride = 0;
  RopeStyle ropeStyle = RopeStyle::Norm;
  RopeScaling rope;
};
cudaError_t launchAttention(const AttentionArgs& args, cudaStream_t stream);

/// Prefill attention on tensor cores (kernels/AttentionPrefill.cu, tiling in
/// kernels/AttentionPrefillShape.h): what launchAttention computes in Prefill mode, for any rows
/// (rows of several slots in one tile included), with q and each row's probabilities rounded to
/// f16 for the mma (f32 accumulation and softmax). Needs mode Prefill, a head_dim of
/// flashPrefillSupportsHeadDim, `out` (no Q8_1 output, no fused RoPE prologue) and 16-byte aligned
/// caches; cudaErrorInvalidValue otherwise.
cudaError_t launchAttentionPrefillFlash(const AttentionArgs& args, cudaStream_t stream);

/// Flash-decoding phase 2: out = sum_s e^(m_s - M) o_s / sum_s e^(m_s - M) l_s (zeros when empty).
struct AttentionReduceArgs {
  const float* partOut = nullptr;
  const float* partMl = nullptr;
  float* out = nullptr;
  int64_t m = 0, nHeads = 0, headDim = 0, splits = 1;
  void* outQ81 = nullptr;  ///< instead of out (headDim a multiple of 32): Q8_1 row-planar rows
};
cudaError_t launchAttentionReduce(const AttentionReduceArgs& args, cudaStream_t stream);

}  // namespace reel::kernels
