// KV append, batched/split/prefill attention and the flash-decoding reduce.
#include "kernels/Attention.h"
#include "kernels/CudaCommon.cuh"
#include "kernels/KernelCatalog.h"
#include "kernels/Q81Epilogue.cuh"
#include "kernels/RopeMath.cuh"

#include <cfloat>

namespace reel::kernels {
namespace {

constexpr int kMaxGroup = kAttnMaxGroup;

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

/// Decode attention is latency-bound (at M = 1 a Llama-2-7B layer has 32 blocks on 132 SMs), so
/// each warp runs its own online softmax over its share of the block's KV slice with no block
/// barrier in the loop, and loads the next step's K and V rows while it computes the current one.
/// A step is 4 positions: for the scores, lanes 8g..8g+7 hold position g's K row in 16-byte
/// chunks (coalesced, one dot product per 8 lanes, 3 shuffles); for P*V, lane l holds 4 dims of
/// each of the 4 V rows. The warps' (max, sum, P*V) meet in shared memory at the end, like the
/// flash-decoding reduce.
template <int kHeadDimCap>
struct AttnStepShape {
  static constexpr int kPositions = 4;                ///< per warp step
  static constexpr int kKChunks = kHeadDimCap / 64;   ///< 8-half K chunks per lane (8 lanes per row)
  static constexpr int kVChunks = kHeadDimCap / 128;  ///< 4-half V chunks per lane (32 lanes per row)
  static constexpr int kDimsPerLane = 4 * kVChunks;
};

/// One warp step's K and V rows in registers (zeros outside the slice).
template <int kHeadDimCap>
struct AttnStepRows {
  using Shape = AttnStepShape<kHeadDimCap>;
  uint4 k[Shape::kKChunks];
  uint2 v[Shape::kPositions][Shape::kVChunks];

  /// Loads positions first .. first + 3 below `end`, except `skip` (the row this kernel appends,
  /// when loading before it is written; -1 for none), which patch() fills in later.
  __device__ __forceinline__ void load(const __half* kc, const __half* vc, int64_t rowWidth, int first, int end, int hd,
                                       int skip) {
    const int lane = threadIdx.x % 32, g = lane / 8, c = lane % 8;
    const int pos = first + g;
#pragma unroll
    for (int i = 0; i < Shape::kKChunks; ++i) {
      const int d = 8 * (c + 8 * i);
      k[i] = pos < end && pos != skip && d < hd ? *reinterpret_cast<const uint4*>(kc + pos * rowWidth + d)
                                                : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int p = 0; p < Shape::kPositions; ++p) {
#pragma unroll
      for (int i = 0; i < Shape::kVChunks; ++i) {
        const int d = 4 * (lane + 32 * i);
        v[p][i] = first + p < end && first + p != skip && d < hd
                      ? *reinterpret_cast<const uint2*>(vc + (first + p) * rowWidth + d)
                      : make_uint2(0, 0);
      }
    }
  }

  /// Fills in position `pos` (skipped by load) from the appended row's K and V in shared memory.
  __device__ __forceinline__ void patch(const __half* newK, const __half* newV, int first, int pos, int hd) {
    const int lane = threadIdx.x % 32, g = lane / 8, c = lane % 8;
#pragma unroll
    for (int i = 0; i < Shape::kKChunks; ++i) {
      const int d = 8 * (c + 8 * i);
      if (first + g == pos && d < hd) k[i] = *reinterpret_cast<const uint4*>(newK + d);
    }
#pragma unroll
    for (int p = 0; p < Shape::kPositions; ++p) {
#pragma unroll
      for (int i = 0; i < Shape::kVChunks; ++i) {
        const int d = 4 * (lane + 32 * i);
        if (first + p == pos && d < hd) v[p][i] = *reinterpret_cast<const uint2*>(newV + d);
      }
    }
  }
};

__device__ __forceinline__ float4 halves4(uint2 raw) {
  const float2 lo = __half22float2(*reinterpret_cast<const __half2*>(&raw.x));
  const float2 hi = __half22float2(*reinterpret_cast<const __half2*>(&raw.y));
  return make_float4(lo.x, lo.y, hi.x, hi.y);
}

/// A warp's running softmax state for up to kGroup query heads.
template <int kGroup, int kHeadDimCap>
struct AttnWarpState {
  float runMax[kGroup], lsum[kGroup], acc[kGroup][AttnStepShape<kHeadDimCap>::kDimsPerLane];
};

template <int kGroup, int kHeadDimCap>
__device__ __forceinline__ void attendStep(const AttnStepRows<kHeadDimCap>& rows, const float* qs, int group, int hd,
                                           bool valid, AttnWarpState<kGroup, kHeadDimCap>& st) {
  using Shape = AttnStepShape<kHeadDimCap>;
  const int lane = threadIdx.x % 32, c = lane % 8;
  float score[kGroup];
#pragma unroll
  for (int h = 0; h < kGroup; ++h) score[h] = 0.0f;
#pragma unroll
  for (int i = 0; i < Shape::kKChunks; ++i) {
    const int d = 8 * (c + 8 * i);
    if (d >= hd) continue;
    const __half2* k2 = reinterpret_cast<const __half2*>(&rows.k[i]);
    float kf[8];
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const float2 f = __half22float2(k2[e]);
      kf[2 * e] = f.x;
      kf[2 * e + 1] = f.y;
    }
#pragma unroll
    for (int h = 0; h < kGroup; ++h) {
      if (h >= group) continue;
      const float4 q0 = *reinterpret_cast<const float4*>(qs + h * hd + d);
      const float4 q1 = *reinterpret_cast<const float4*>(qs + h * hd + d + 4);
      score[h] += q0.x * kf[0] + q0.y * kf[1] + q0.z * kf[2] + q0.w * kf[3] + q1.x * kf[4] + q1.y * kf[5] +
                  q1.z * kf[6] + q1.w * kf[7];
    }
  }
  float p[kGroup];
#pragma unroll
  for (int h = 0; h < kGroup; ++h) {
    p[h] = 0.0f;
    if (h >= group) continue;
    // The 8 lanes of a position sum its dot product; then the max over the step's 4 positions.
    for (int offset = 1; offset < 8; offset <<= 1) score[h] += __shfl_xor_sync(0xffffffffu, score[h], offset);
    if (!valid) score[h] = -INFINITY;
    float stepMax = fmaxf(score[h], __shfl_xor_sync(0xffffffffu, score[h], 8));
    stepMax = fmaxf(stepMax, __shfl_xor_sync(0xffffffffu, stepMax, 16));
    const float newMax = fmaxf(st.runMax[h], stepMax);
    const float corr = newMax == -INFINITY ? 1.0f : expf(st.runMax[h] - newMax);
    st.runMax[h] = newMax;
    p[h] = valid ? expf(score[h] - newMax) : 0.0f;
    st.lsum[h] = st.lsum[h] * corr + p[h];
#pragma unroll
    for (int j = 0; j < Shape::kDimsPerLane; ++j) st.acc[h][j] *= corr;
  }
#pragma unroll
  for (int pos = 0; pos < Shape::kPositions; ++pos) {
#pragma unroll
    for (int h = 0; h < kGroup; ++h) {
      if (h >= group) continue;
      const float pr = __shfl_sync(0xffffffffu, p[h], 8 * pos);
#pragma unroll
      for (int i = 0; i < Shape::kVChunks; ++i) {
        const float4 v = halves4(rows.v[pos][i]);
        st.acc[h][4 * i] += pr * v.x;
        st.acc[h][4 * i + 1] += pr * v.y;
        st.acc[h][4 * i + 2] += pr * v.z;
        st.acc[h][4 * i + 3] += pr * v.w;
      }
    }
  }
}

/// Blocks per SM the register budget must allow: two of the one-head, head-dim-128 blocks (16
/// warps) fit at 64 registers a thread, which M = 8 on Llama-2-7B (256 blocks) needs to run in
/// one wave; the larger instantiations need more registers than two blocks would leave.
constexpr int attnMinBlocks(int group, int headDimCap) {
  return group * headDimCap <= 128 ? 2 : 1;
}

/// Block (kv head, row, split) handles the `group` query heads of one KV head over one slice of
/// the row's KV range; its warps take the slice's steps of 4 positions in turn (see AttnStepShape).
///
/// Before waiting for the previous kernel the block reads only what no kernel of this step
/// writes: step inputs (slots, positions, KV lengths: copied in before the graph's first kernel),
/// and, when it appends the new row itself (fused RoPE), its first step's cached K and V rows
/// without that row, which it patches in from shared memory once rotated: the cache reads overlap
/// the end of the GEMV writing q, k and v. Block size: attnWarps(group, head-dim cap) warps.
template <int kGroup, int kHeadDimCap>
__global__ void __launch_bounds__(32 * attnWarps(kGroup, kHeadDimCap), attnMinBlocks(kGroup, kHeadDimCap))
    attentionKernel(const AttentionArgs a) {
  using Shape = AttnStepShape<kHeadDimCap>;
  constexpr int kWarps = attnWarps(kGroup, kHeadDimCap), kThreads = 32 * kWarps;
  extern __shared__ float4 smem4[];
  const int kvHead = blockIdx.x, row = blockIdx.y, split = blockIdx.z, tid = threadIdx.x;
  const int group = static_cast<int>(a.nHeads / a.nKvHeads), hd = static_cast<int>(a.headDim), half = hd / 2;
  float* qs = reinterpret_cast<float*>(smem4);              // [group][hd]
  auto* newK = reinterpret_cast<__half*>(qs + group * hd);  // [hd]: the appended row's K
  __half* newV = newK + hd;                                 // [hd]: and its V (f16)
  float* partial = qs + group * hd + hd;                    // [kWarps][group][hd], the warps' P*V sums
  float* partMl = partial + kWarps * group * hd;            // [kWarps][group][2]: max, sum of exp
  float* headStats = partMl + 2 * kWarps * group;           // [group][2]: max, sum of exp
  const int warp = tid / 32, lane = tid % 32;

  const int slot = a.slots[row];
  const int pos = a.positions == nullptr ? -1 : a.positions[row];
  const int len = a.mode == AttentionMode::Prefill ? pos + 1 : a.kvLens[row];
  int begin = 0, end = 0;
  if (slot >= 0 && len > 0) {
    const int first = a.window > 0 ? max(0, len - static_cast<int>(a.window)) : 0;
    const int splits = static_cast<int>(a.splits);
    const int chunk = (len - first + splits - 1) / splits;
    begin = min(len, first + split * chunk);
    end = min(len, begin + chunk);
  }
  const int64_t rowWidth = a.nKvHeads * a.headDim;
  const int64_t base = static_cast<int64_t>(max(slot, 0)) * a.maxCtx * rowWidth + static_cast<int64_t>(kvHead) * hd;
  __half* kc = static_cast<__half*>(a.kCache) + base;
  __half* vc = static_cast<__half*>(a.vCache) + base;
  constexpr int kStride = kWarps * Shape::kPositions;
  // With the fused RoPE prologue, the slices partition [first, len): exactly one block of the
  // row and KV head appends the new row (split 0 when no slice holds it: a padding row).
  const bool writer = (begin <= pos && pos < end) || (split == 0 && pos >= len);
  const bool appends = a.newK != nullptr && slot >= 0 && pos >= 0 && pos < a.maxCtx && writer;
  int stepStart = begin + warp * Shape::kPositions;  // this warp's first position
  AttnStepRows<kHeadDimCap> rows;
  if (a.newK != nullptr) {
    const int skip = appends ? pos : -1;
    rows.load(kc, vc, rowWidth, stepStart, end, hd, skip);
  }
  detail::letNextStartThenWait();

  const float* q = a.q + row * a.qStride + static_cast<int64_t>(kvHead) * group * hd;
  if (a.newK == nullptr) {
    rows.load(kc, vc, rowWidth, stepStart, end, hd, -1);  // in flight while the queries are staged
    for (int i = tid; i < group * hd; i += kThreads) qs[i] = q[i] * a.scale;
  } else {
    // Fused RoPE + KV append: rotate the group's query heads into shared memory, and, in the
    // appending block, this KV head's key (rotated) and value into the cache and shared memory.
    // One work item per query pair, key pair and value: their loads are in flight together.
    const int qPairs = group * half, kPairs = appends ? half : 0, items = qPairs + kPairs + (appends ? hd : 0);
    const float* k = a.newK + row * a.kStride + static_cast<int64_t>(kvHead) * hd;
    const float* v = a.newV + row * a.vStride + static_cast<int64_t>(kvHead) * hd;
    __half* kDst = kc + static_cast<int64_t>(max(pos, 0)) * rowWidth;
    __half* vDst = vc + static_cast<int64_t>(max(pos, 0)) * rowWidth;
    for (int item = tid; item < items; item += kThreads) {
      if (item >= qPairs + kPairs) {
        const int d = item - qPairs - kPairs;
        newV[d] = vDst[d] = __float2half_rn(v[d]);
        continue;
      }
      const bool isQuery = item < qPairs;
      const int h = isQuery ? item / half : 0, i = isQuery ? item % half : item - qPairs;
      int first = 0, second = 0;
      detail::ropePairOffsets(a.ropeStyle, i, hd, first, second);
      const float* src = isQuery ? q + h * hd : k;
      float v0 = src[first], v1 = src[second];
      detail::ropeRotate(v0, v1, static_cast<float>(pos), i, hd, a.rope);  // its sincosf overlaps the loads
      if (isQuery) {
        qs[h * hd + first] = v0 * a.scale;
        qs[h * hd + second] = v1 * a.scale;
      } else {
        newK[first] = kDst[first] = __float2half_rn(v0);
        newK[second] = kDst[second] = __float2half_rn(v1);
      }
    }
  }
  __syncthreads();  // the queries and the appended row, visible to the whole block
  if (appends) rows.patch(newK, newV, stepStart, pos, hd);

  AttnWarpState<kGroup, kHeadDimCap> st;
#pragma unroll
  for (int h = 0; h < kGroup; ++h) {
    st.runMax[h] = -INFINITY;
    st.lsum[h] = 0.0f;
#pragma unroll
    for (int j = 0; j < Shape::kDimsPerLane; ++j) st.acc[h][j] = 0.0f;
  }
  for (; stepStart < end; stepStart += kStride) {
    AttnStepRows<kHeadDimCap> next;  // read after the barrier above: sees the appended row
    next.load(kc, vc, rowWidth, stepStart + kStride, end, hd, -1);
    attendStep<kGroup, kHeadDimCap>(rows, qs, group, hd, stepStart + lane / 8 < end, st);
    rows = next;
  }

  // The warp's sum of exp over its positions (each group of 8 lanes holds one position's), then
  // the warps' partial results, combined under the block's largest max.
#pragma unroll
  for (int h = 0; h < kGroup; ++h) {
    if (h >= group) continue;
    float l = st.lsum[h] + __shfl_xor_sync(0xffffffffu, st.lsum[h], 8);
    l += __shfl_xor_sync(0xffffffffu, l, 16);
#pragma unroll
    for (int i = 0; i < Shape::kVChunks; ++i) {
      const int d = 4 * (lane + 32 * i);
      if (d >= hd) continue;
      *reinterpret_cast<float4*>(partial + (warp * group + h) * hd + d) =
          make_float4(st.acc[h][4 * i], st.acc[h][4 * i + 1], st.acc[h][4 * i + 2], st.acc[h][4 * i + 3]);
    }
    if (lane == 0) {
      partMl[2 * (warp * group + h)] = st.runMax[h];
      partMl[2 * (warp * group + h) + 1] = l;
    }
  }
  __syncthreads();
  // The warps' results meet under each head's largest max. Warp h (lane w holding warp w's
  // figures) turns head h's maxima into weights exp(max_w - best) in place and sums the weighted
  // exp-sums with shuffles; then each output adds kWarps weighted partial sums. (A serial loop
  // over the warps' maxima and exps per output put ~1700 dependent cycles on every layer.)
  for (int h = warp; h < group; h += kWarps) {
    const bool holds = lane < kWarps;
    const float m = holds ? partMl[2 * (lane * group + h)] : -INFINITY;
    float best = m;
    for (int offset = 16; offset > 0; offset >>= 1) best = fmaxf(best, __shfl_xor_sync(0xffffffffu, best, offset));
    const float weight = m == -INFINITY ? 0.0f : expf(m - best);
    const float den = detail::warpSum(holds ? weight * partMl[2 * (lane * group + h) + 1] : 0.0f);
    if (holds) partMl[2 * (lane * group + h)] = weight;
    if (lane == 0) {
      headStats[2 * h] = best;
      headStats[2 * h + 1] = den;
    }
  }
  __syncthreads();
  // With a Q8_1 output, group * hd is a multiple of 32: each warp's 32 values of one pass are
  // one Q8_1 block, and every lane of the warp runs the same passes (storeQ81 shuffles).
  for (int i = tid; i < group * hd; i += kThreads) {
    const int h = i / hd, d = i % hd;
    float num = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) num += partMl[2 * (w * group + h)] * partial[(w * group + h) * hd + d];
    const float best = headStats[2 * h], den = headStats[2 * h + 1];
    const int64_t head = static_cast<int64_t>(kvHead) * group + h;
    if (a.mode == AttentionMode::Split) {
      const int64_t part = (row * a.nHeads + head) * a.splits + split;
      a.partOut[part * hd + d] = num;
      if (d == 0) {
        a.partMl[2 * part] = best;
        a.partMl[2 * part + 1] = den;
      }
    } else if (a.outQ81 != nullptr) {
      const int64_t width = a.nHeads * hd;
      const float v[1] = {den > 0.0f ? num / den : 0.0f};
      detail::storeQ81(v, static_cast<uint8_t*>(a.outQ81) + row * (width + width / 8), static_cast<int>(width),
                       static_cast<int>(head * hd + d));
    } else {
      a.out[(row * a.nHeads + head) * hd + d] = den > 0.0f ? num / den : 0.0f;
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
  const float result = den > 0.0f ? num / den : 0.0f;
  if (a.outQ81 != nullptr) {  // headDim a multiple of 32: each warp holds one Q8_1 block
    const int64_t width = a.nHeads * a.headDim;
    const float v[1] = {result};
    detail::storeQ81(v, static_cast<uint8_t*>(a.outQ81) + row * (width + width / 8), static_cast<int>(width),
                     static_cast<int>(head * a.headDim + d));
  } else {
    a.out[(row * a.nHeads + head) * a.headDim + d] = result;
  }
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
  const bool q81Ok = a.outQ81 == nullptr || (a.mode == AttentionMode::Decode && a.out == nullptr &&
                                             a.headDim % 32 == 0 && a.nHeads * a.headDim <= INT32_MAX);
  const bool hasOut = a.out != nullptr || a.outQ81 != nullptr;
  const bool modeOk =
      q81Ok && (a.mode == AttentionMode::Split ? (a.partOut != nullptr && a.partMl != nullptr && a.kvLens != nullptr)
                : a.mode == AttentionMode::Prefill ? (a.out != nullptr && a.positions != nullptr && a.splits == 1)
                                                   : (hasOut && a.kvLens != nullptr && a.splits == 1));
  if (!shapeOk || !modeOk || a.q == nullptr || a.kCache == nullptr || a.vCache == nullptr || a.slots == nullptr) {
    return cudaErrorInvalidValue;
  }
  const bool ropeOk =
      a.newK == nullptr || (a.mode != AttentionMode::Prefill && a.newV != nullptr && a.positions != nullptr &&
                            a.kStride >= a.nKvHeads * a.headDim && a.vStride >= a.nKvHeads * a.headDim);
  if (!ropeOk) return cudaErrorInvalidValue;
  const LaunchDims d = attentionDims(a.m, a.nHeads, a.nKvHeads, a.headDim, a.splits);
  // The instantiation attentionDims sized the block for: attnGroupCap and the head-dim cap.
  const bool wide = a.headDim > 128;
  switch (attnGroupCap(a.nHeads / a.nKvHeads)) {
    case 1:
      return detail::launchEarly(wide ? attentionKernel<1, 256> : attentionKernel<1, 128>, d, stream, a);
    case 2:
      return detail::launchEarly(wide ? attentionKernel<2, 256> : attentionKernel<2, 128>, d, stream, a);
    case 4:
      return detail::launchEarly(wide ? attentionKernel<4, 256> : attentionKernel<4, 128>, d, stream, a);
    default:
      return detail::launchEarly(wide ? attentionKernel<kMaxGroup, 256> : attentionKernel<kMaxGroup, 128>, d, stream,
                                 a);
  }
}

cudaError_t launchAttentionReduce(const AttentionReduceArgs& a, cudaStream_t stream) {
  if (a.m < 1 || a.nHeads < 1 || a.headDim < 1 || a.headDim > 1024 || a.splits < 1 || a.m > 65535 ||
      a.partOut == nullptr || a.partMl == nullptr || (a.out == nullptr) == (a.outQ81 == nullptr) ||
      (a.outQ81 != nullptr && (a.headDim % 32 != 0 || a.nHeads * a.headDim > INT32_MAX))) {
    return cudaErrorInvalidValue;
  }
  const LaunchDims d = attentionReduceDims(a.m, a.nHeads, a.headDim);
  return detail::launchEarly(attentionReduceKernel, d, stream, a);
}

}  // namespace reel::kernels
