// KV append, batched/split/prefill attention and the flash-decoding reduce.
#include "kernels/Attention.h"
#include "kernels/CudaCommon.cuh"
#include "kernels/KernelCatalog.h"
#include "kernels/RopeMath.cuh"

#include <cfloat>

namespace reel::kernels {
namespace {

constexpr int kThreads = kAttnThreads;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxGroup = kAttnMaxGroup;
/// P*V: each lane owns chunks of 4 dims, lane l chunks l, l + 32, ...
constexpr int kChunksPerLane = kAttnMaxHeadDim / 4 / 32;
constexpr int kDimsPerLane = 4 * kChunksPerLane;

__global__ void kvAppendKernel(const KvAppendArgs a) {
  detail::startAfterPrerequisites();
  const int64_t row = blockIdx.x;
  const int slot = a.slots[row], pos = a.positions[row];
  if (slot < 0 || pos < 0 || pos >= a.maxCtx) return;
  const int64_t width = a.nKvHeads * a.headDim;
  const int64_t dst = (static_cast<int64_t>(slot) * a.maxCtx + pos) * width;
  auto* kc = static_cast<__half2*>(a.kCache) + dst / 2;
  auto* vc = static_cast<__half2*>(a.vCache) + dst / 2;
  const float* k = a.k + row * a.kStride;
  const float* v = a.v + row * a.vStride;
  for (int64_t p = threadIdx.x; p < width / 2; p += blockDim.x) {
    kc[p] = __floats2half2_rn(k[2 * p], k[2 * p + 1]);
    vc[p] = __floats2half2_rn(v[2 * p], v[2 * p + 1]);
  }
}

/// Per-head reduction over the block of the values each thread holds for each head of the group.
template <bool kMax>
__device__ void reduceHeads(float (&v)[kMaxGroup], int group, float (*scratch)[kMaxGroup]) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
#pragma unroll
  for (int h = 0; h < kMaxGroup; ++h) {
    if (h < group) {
      const float r = kMax ? detail::warpMax(v[h]) : detail::warpSum(v[h]);
      if (lane == 0) scratch[warp][h] = r;
    }
  }
  __syncthreads();
#pragma unroll
  for (int h = 0; h < kMaxGroup; ++h) {
    if (h < group) {
      float r = scratch[0][h];
      for (int w = 1; w < kWarps; ++w) r = kMax ? fmaxf(r, scratch[w][h]) : r + scratch[w][h];
      v[h] = r;
    }
  }
  __syncthreads();
}

/// Block (kv head, row, split) handles the `group` query heads of one KV head over one slice of
/// the row's KV range, in tiles of kThreads positions: thread t scores position t of the tile for
/// every head (the scaled queries in shared memory); for P*V, warp w sums the tile's positions
/// w, w + kWarps, ... with each lane reading 4 dims of a V row at a time (whole rows per warp,
/// coalesced, several rows in flight), with an online softmax across tiles. The warps' partial
/// sums meet in shared memory at the end.
__global__ void __launch_bounds__(kThreads) attentionKernel(const AttentionArgs a) {
  extern __shared__ float smem[];
  __shared__ float scratch[kWarps][kMaxGroup];
  detail::startAfterPrerequisites();
  const int kvHead = blockIdx.x, row = blockIdx.y, split = blockIdx.z, tid = threadIdx.x;
  const int group = static_cast<int>(a.nHeads / a.nKvHeads), hd = static_cast<int>(a.headDim);
  float* qs = smem;                           // [group][hd]
  float* probs = smem + group * hd;           // [group][kThreads]
  float* partial = probs + group * kThreads;  // [kWarps][group][hd], the warps' P*V sums
  const int warp = tid / 32, lane = tid % 32;

  const int slot = a.slots[row];
  const int len = a.mode == AttentionMode::Prefill ? a.positions[row] + 1 : a.kvLens[row];
  int begin = 0, end = 0;
  if (slot >= 0 && len > 0) {
    const int first = a.window > 0 ? max(0, len - static_cast<int>(a.window)) : 0;
    const int splits = static_cast<int>(a.splits);
    const int chunk = (len - first + splits - 1) / splits;
    begin = min(len, first + split * chunk);
    end = min(len, begin + chunk);
  }
  const float* q = a.q + row * a.qStride + static_cast<int64_t>(kvHead) * group * hd;
  const int64_t rowWidth = a.nKvHeads * a.headDim;
  const int64_t base = static_cast<int64_t>(max(slot, 0)) * a.maxCtx * rowWidth + static_cast<int64_t>(kvHead) * hd;
  __half* kc = static_cast<__half*>(a.kCache) + base;
  __half* vc = static_cast<__half*>(a.vCache) + base;
  if (a.newK == nullptr) {
    for (int i = tid; i < group * hd; i += kThreads) qs[i] = q[i] * a.scale;
  } else {
    // Fused RoPE + KV append: rotate the group's query heads into shared memory, and, in the
    // block whose slice holds the new position (split 0 when none does: a padding row),
    // append this KV head's key (rotated) and value.
    const int pos = a.positions[row];
    const int half = hd / 2;
    for (int p = tid; p < group * half; p += kThreads) {
      const int h = p / half, i = p % half;
      int first = 0, second = 0;
      detail::ropePairOffsets(a.ropeStyle, i, hd, first, second);
      float v0 = q[h * hd + first], v1 = q[h * hd + second];
      detail::ropeRotate(v0, v1, static_cast<float>(pos), i, hd, a.rope);
      qs[h * hd + first] = v0 * a.scale;
      qs[h * hd + second] = v1 * a.scale;
    }
    // The slices partition [first, len): exactly one block of the row and KV head writes.
    const bool writer = (begin <= pos && pos < end) || (split == 0 && pos >= len);
    if (slot >= 0 && pos >= 0 && pos < a.maxCtx && writer) {
      const float* k = a.newK + row * a.kStride + static_cast<int64_t>(kvHead) * hd;
      const float* v = a.newV + row * a.vStride + static_cast<int64_t>(kvHead) * hd;
      __half* kDst = kc + static_cast<int64_t>(pos) * rowWidth;
      __half* vDst = vc + static_cast<int64_t>(pos) * rowWidth;
      for (int i = tid; i < half; i += kThreads) {
        int first = 0, second = 0;
        detail::ropePairOffsets(a.ropeStyle, i, hd, first, second);
        float v0 = k[first], v1 = k[second];
        detail::ropeRotate(v0, v1, static_cast<float>(pos), i, hd, a.rope);
        kDst[first] = __float2half_rn(v0);
        kDst[second] = __float2half_rn(v1);
      }
      for (int i = tid; i < hd; i += kThreads) vDst[i] = __float2half_rn(v[i]);
    }
  }
  __syncthreads();  // the queries, and the appended row, visible to the whole block

  float runMax[kMaxGroup], runSum[kMaxGroup], acc[kMaxGroup][kDimsPerLane];
#pragma unroll
  for (int h = 0; h < kMaxGroup; ++h) {
    runMax[h] = -INFINITY;
    runSum[h] = 0.0f;
#pragma unroll
    for (int j = 0; j < kDimsPerLane; ++j) acc[h][j] = 0.0f;
  }

  for (int tile = begin; tile < end; tile += kThreads) {
    const int pos = tile + tid;
    const bool valid = pos < end;
    float score[kMaxGroup];
#pragma unroll
    for (int h = 0; h < kMaxGroup; ++h) score[h] = 0.0f;
    if (valid) {
      const __half* krow = kc + static_cast<int64_t>(pos) * rowWidth;
#pragma unroll 8
      for (int d = 0; d < hd; d += 8) {
        const uint4 raw = *reinterpret_cast<const uint4*>(krow + d);
        const __half2* k2 = reinterpret_cast<const __half2*>(&raw);
        float kf[8];
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const float2 f = __half22float2(k2[e]);
          kf[2 * e] = f.x;
          kf[2 * e + 1] = f.y;
        }
#pragma unroll
        for (int h = 0; h < kMaxGroup; ++h) {
          if (h < group) {
            const float* qh = qs + h * hd + d;
#pragma unroll
            for (int e = 0; e < 8; ++e) score[h] += qh[e] * kf[e];
          }
        }
      }
    }
    float tileMax[kMaxGroup];
#pragma unroll
    for (int h = 0; h < kMaxGroup; ++h) tileMax[h] = valid ? score[h] : -INFINITY;
    reduceHeads<true>(tileMax, group, scratch);
    float corr[kMaxGroup], p[kMaxGroup];
#pragma unroll
    for (int h = 0; h < kMaxGroup; ++h) {
      const float newMax = fmaxf(runMax[h], tileMax[h]);
      corr[h] = expf(runMax[h] - newMax);
      runMax[h] = newMax;
      p[h] = valid ? expf(score[h] - newMax) : 0.0f;
      if (h < group) probs[h * kThreads + tid] = p[h];
    }
    reduceHeads<false>(p, group, scratch);  // also makes probs visible to the block
    const int count = min(kThreads, end - tile);
#pragma unroll
    for (int h = 0; h < kMaxGroup; ++h) {
      runSum[h] = runSum[h] * corr[h] + p[h];
#pragma unroll
      for (int j = 0; j < kDimsPerLane; ++j) acc[h][j] *= corr[h];
    }
#pragma unroll 8
    for (int t = warp; t < count; t += kWarps) {
      const __half* vrow = vc + static_cast<int64_t>(tile + t) * rowWidth;
#pragma unroll
      for (int c = 0; c < kChunksPerLane; ++c) {
        const int d = 4 * (lane + 32 * c);
        if (d >= hd) continue;
        const uint2 raw = *reinterpret_cast<const uint2*>(vrow + d);
        const float2 lo = __half22float2(*reinterpret_cast<const __half2*>(&raw.x));
        const float2 hi = __half22float2(*reinterpret_cast<const __half2*>(&raw.y));
#pragma unroll
        for (int h = 0; h < kMaxGroup; ++h) {
          if (h < group) {
            const float pr = probs[h * kThreads + t];
            acc[h][4 * c] += pr * lo.x;
            acc[h][4 * c + 1] += pr * lo.y;
            acc[h][4 * c + 2] += pr * hi.x;
            acc[h][4 * c + 3] += pr * hi.y;
          }
        }
      }
    }
    __syncthreads();  // probs are rewritten by the next tile
  }

  // The warps' partial sums (same running max everywhere: the tile maxima are block-wide).
#pragma unroll
  for (int h = 0; h < kMaxGroup; ++h) {
    if (h >= group) continue;
#pragma unroll
    for (int c = 0; c < kChunksPerLane; ++c) {
      const int d = 4 * (lane + 32 * c);
      if (d >= hd) continue;
#pragma unroll
      for (int e = 0; e < 4; ++e) partial[(warp * group + h) * hd + d + e] = acc[h][4 * c + e];
    }
  }
  __syncthreads();
#pragma unroll
  for (int h = 0; h < kMaxGroup; ++h) {
    if (h >= group) continue;
    const int64_t head = static_cast<int64_t>(kvHead) * group + h;
    const int64_t part = (row * a.nHeads + head) * a.splits + split;
    const float inv = runSum[h] > 0.0f ? 1.0f / runSum[h] : 0.0f;
    for (int d = tid; d < hd; d += kThreads) {
      float sum = 0.0f;
      for (int w = 0; w < kWarps; ++w) sum += partial[(w * group + h) * hd + d];
      if (a.mode == AttentionMode::Split) {
        a.partOut[part * hd + d] = sum;
      } else {
        a.out[(row * a.nHeads + head) * hd + d] = sum * inv;
      }
    }
    if (a.mode == AttentionMode::Split && tid == 0) {
      a.partMl[2 * part] = runMax[h];
      a.partMl[2 * part + 1] = runSum[h];
    }
  }
}

__global__ void attentionReduceKernel(const AttentionReduceArgs a) {
  detail::startAfterPrerequisites();
  const int64_t head = blockIdx.x, row = blockIdx.y;
  const int d = threadIdx.x;
  const int64_t first = (row * a.nHeads + head) * a.splits;
  float best = -INFINITY;
  for (int64_t s = 0; s < a.splits; ++s) {
    if (a.partMl[2 * (first + s) + 1] > 0.0f) best = fmaxf(best, a.partMl[2 * (first + s)]);
  }
  float num = 0.0f, den = 0.0f;
  if (best != -INFINITY) {
    for (int64_t s = 0; s < a.splits; ++s) {
      const float l = a.partMl[2 * (first + s) + 1];
      if (l <= 0.0f) continue;
      const float w = expf(a.partMl[2 * (first + s)] - best);
      num += w * a.partOut[(first + s) * a.headDim + d];
      den += w * l;
    }
  }
  a.out[(row * a.nHeads + head) * a.headDim + d] = den > 0.0f ? num / den : 0.0f;
}

}  // namespace

cudaError_t launchKvAppend(const KvAppendArgs& a, cudaStream_t stream) {
  if (a.m < 1 || a.nKvHeads < 1 || a.headDim < 2 || a.headDim % 2 != 0 || a.maxCtx < 1 || a.k == nullptr ||
      a.v == nullptr || a.kCache == nullptr || a.vCache == nullptr || a.slots == nullptr || a.positions == nullptr ||
      a.m > INT32_MAX || a.kStride % 2 != 0 || a.vStride % 2 != 0) {
    return cudaErrorInvalidValue;
  }
  const LaunchDims d = kvAppendDims(a.m, a.nKvHeads, a.headDim);
  return detail::launchEarly(kvAppendKernel, d, stream, a);
}

cudaError_t launchAttention(const AttentionArgs& a, cudaStream_t stream) {
  const bool shapeOk = a.m >= 1 && a.nKvHeads >= 1 && a.nHeads % a.nKvHeads == 0 &&
                       a.nHeads / a.nKvHeads <= kMaxGroup && a.headDim >= 8 && a.headDim % 8 == 0 &&
                       a.headDim <= kAttnMaxHeadDim && a.maxCtx >= 1 && a.splits >= 1 && a.m <= 65535 &&
                       a.splits <= 65535 && a.window >= 0;
  const bool modeOk = a.mode == AttentionMode::Split
                          ? (a.partOut != nullptr && a.partMl != nullptr && a.kvLens != nullptr)
                      : a.mode == AttentionMode::Prefill ? (a.out != nullptr && a.positions != nullptr && a.splits == 1)
                                                         : (a.out != nullptr && a.kvLens != nullptr && a.splits == 1);
  if (!shapeOk || !modeOk || a.q == nullptr || a.kCache == nullptr || a.vCache == nullptr || a.slots == nullptr) {
    return cudaErrorInvalidValue;
  }
  const bool ropeOk =
      a.newK == nullptr || (a.mode != AttentionMode::Prefill && a.newV != nullptr && a.positions != nullptr &&
                            a.kStride >= a.nKvHeads * a.headDim && a.vStride >= a.nKvHeads * a.headDim);
  if (!ropeOk) return cudaErrorInvalidValue;
  const LaunchDims d = attentionDims(a.m, a.nHeads, a.nKvHeads, a.headDim, a.splits);
  return detail::launchEarly(attentionKernel, d, stream, a);
}

cudaError_t launchAttentionReduce(const AttentionReduceArgs& a, cudaStream_t stream) {
  if (a.m < 1 || a.nHeads < 1 || a.headDim < 1 || a.headDim > 1024 || a.splits < 1 || a.m > 65535 ||
      a.partOut == nullptr || a.partMl == nullptr || a.out == nullptr) {
    return cudaErrorInvalidValue;
  }
  const LaunchDims d = attentionReduceDims(a.m, a.nHeads, a.headDim);
  return detail::launchEarly(attentionReduceKernel, d, stream, a);
}

}  // namespace reel::kernels
