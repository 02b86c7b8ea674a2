// Prefill attention on tensor cores (attn_prefill_flash): the rows of a prefill step attend
// causally to their slots' f16 KV cache, a block of 64 query rows of one head at a time.
//
// Block = 4 warps; warp w owns query rows 16w .. 16w + 15 of the block's tile, one m16 tile of
// mma.sync m16n8k16 (f16 inputs, f32 accumulators). In the fragments (PTX ISA, "Matrix Fragments
// for mma.m16n8k16 with floating point type"; g = lane / 4, t = lane % 4):
//   A (16 x 16, row): a0 a1 = [g][2t, 2t+1], a2 a3 = [g+8][2t, 2t+1], a4 a5 = [g][2t+8, 2t+9],
//                     a6 a7 = [g+8][2t+8, 2t+9], as four f16x2 registers (low half first);
//   B (16 x 8, col):  b0 b1 = [2t, 2t+1][g], b2 b3 = [2t+8, 2t+9][g], as two f16x2 registers;
//   C (16 x 8, f32):  c0 c1 = [g][2t, 2t+1], c2 c3 = [g+8][2t, 2t+1].
// So a lane holds two query rows, g and g + 8 of its warp's tile, in every fragment. S = Q K^T:
// A is the warp's queries (score scale and log2(e) folded in, held in registers for the whole
// kernel), B the keys of 8 positions: K rows are dims-contiguous in shared memory, so
// b0 b1 is one 32-bit load. O += P V: the C fragments of two adjacent 8-key S tiles are exactly
// the A fragment of one 16-key step, and B is V[key][dim], read as halves. Q and P are f32
// values; each goes in as an f16 part and an f16 remainder (two mmas with the same B), so the
// scores and the weighted sum keep about 22 bits where one f16 rounding keeps 11, close to the
// f32 kernel (attn_prefill), at twice the mma work.
//
// Rows are arbitrary (slot, position) pairs: row i attends to [max(0, end - window), end) of
// slot slots[i], end = positions[i] + 1. The block runs one pass per distinct slot among its
// rows (one pass in the usual case: a chunk of one sequence); a pass walks the union of the
// key ranges of that slot's rows in tiles of flashPrefillKeys(head_dim) positions and masks per
// row, so rows of other slots, and keys outside a row's range, get probability 0. Where that
// union has holes (rows of one slot far apart), the positions no row attends to may hold
// anything (never written): their V rows are zeroed in shared memory, since 0 * NaN is NaN.
#include "kernels/Attention.h"
#include "kernels/AttentionPrefillShape.h"
#include "kernels/CudaCommon.cuh"

#include <climits>
#include <cstdint>

namespace reel::kernels {
namespace {

constexpr int kRows = kFlashPrefillRows;
constexpr int kThreads = 32 * kFlashPrefillWarps;
constexpr unsigned kFullMask = 0xffffffffu;
constexpr float kLog2e = 1.4426950408889634f;

static_assert(kRows == 16 * kFlashPrefillWarps, "a warp owns one m16 tile of the block's rows");

template <int kHeadDim>
struct FlashShape {
  static constexpr int kKeys = flashPrefillKeys(kHeadDim);  ///< key positions per tile
  static constexpr int kPitch = kHeadDim + 8;  ///< halves per staged row: 16-byte rows, conflict-free fragment loads
  static constexpr int kDimSteps = kHeadDim / 16;  ///< k steps of S = Q K^T
  static constexpr int kDimTiles = kHeadDim / 8;   ///< n tiles of O
  static constexpr int kKeyTiles = kKeys / 8;      ///< n tiles of S
  static constexpr int kKeySteps = kKeys / 16;     ///< k steps of O += P V
  static constexpr int kRowChunks = kHeadDim / 8;  ///< 16-byte chunks per K or V row
  static_assert(kHeadDim % 16 == 0 && kKeys % 16 == 0, "whole m16n8k16 steps");
};

__device__ __forceinline__ uint32_t packFloats(float lo, float hi) {
  const __half2 h = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&h);
}

/// Two floats as an f16x2 pair `hi` plus the f16x2 pair `lo` of what rounding left out: hi + lo
/// carries about 22 bits of each float, so two mmas (hi, then lo) keep the f32 kernel's accuracy.
struct SplitPair {
  uint32_t hi, lo;
};
__device__ __forceinline__ SplitPair splitFloats(float x, float y) {
  const __half2 h = __floats2half2_rn(x, y);
  const float2 back = __half22float2(h);
  return {*reinterpret_cast<const uint32_t*>(&h), packFloats(x - back.x, y - back.y)};
}

/// Two f16 bit patterns as one f16x2 register, `lo` in the low half (the lower-indexed element).
__device__ __forceinline__ uint32_t packHalves(uint16_t lo, uint16_t hi) {
  return static_cast<uint32_t>(lo) | (static_cast<uint32_t>(hi) << 16);
}

/// c += A B for one m16n8k16 step (f16 inputs, f32 accumulators).
__device__ __forceinline__ void mmaF16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/// 16 bytes global -> shared without passing through registers (sm_80+).
__device__ __forceinline__ void copyAsync16(void* smem, const void* gmem) {
  const auto dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(dst), "l"(gmem) : "memory");
}
__device__ __forceinline__ void commitAsync() {
  asm volatile("cp.async.commit_group;" ::: "memory");
}
/// Waits until at most one committed group of this thread's copies is still in flight.
__device__ __forceinline__ void waitAsyncAllButOne() {
  asm volatile("cp.async.wait_group 1;" ::: "memory");
}

/// The key range of each of the block's rows (slot -1: a row past m, or a padding row).
struct RowRanges {
  int slot[kRows];
  int first[kRows];
  int end[kRows];

  /// Whether some row of `slot` attends to key position `key`.
  __device__ __forceinline__ bool covers(int slotId, int key) const {
    bool covered = false;
    for (int r = 0; r < kRows; ++r) covered |= slot[r] == slotId && first[r] <= key && key < end[r];
    return covered;
  }
};

/// One lane's two query rows (g and g + 8 of its warp's tile): their slot and key range.
struct LaneRows {
  int slot[2], first[2], end[2];

  /// Whether row h (0 or 1) attends to `key` in the pass over `slotId`.
  __device__ __forceinline__ bool attends(int h, int slotId, int key) const {
    return slot[h] == slotId && first[h] <= key && key < end[h];
  }
  /// Whether either row attends to some key of [begin, begin + count) in the pass over `slotId`.
  __device__ __forceinline__ bool overlaps(int slotId, int begin, int count) const {
    bool any = false;
#pragma unroll
    for (int h = 0; h < 2; ++h) any |= slot[h] == slotId && first[h] < begin + count && end[h] > begin;
    return any;
  }
};

/// A warp's running softmax and output for its lane's two rows: max and sum of exp2 per row
/// (the sum over this lane's keys only, summed over the lane's quad at the end), O in the C
/// fragments of head_dim / 8 n tiles.
template <int kHeadDim>
struct FlashState {
  float rowMax[2] = {-INFINITY, -INFINITY};
  float rowSum[2] = {0.0f, 0.0f};
  float o[FlashShape<kHeadDim>::kDimTiles][4];
};

/// A lane's A fragments of its warp's queries (score scale and log2(e) folded in), split in an
/// f16 part and the f16 remainder (splitFloats).
template <int kHeadDim>
struct QueryFragments {
  uint32_t hi[FlashShape<kHeadDim>::kDimSteps][4];
  uint32_t lo[FlashShape<kHeadDim>::kDimSteps][4];
};

/// The staged K and V tiles (f16 bit patterns), double buffered.
template <int kHeadDim>
struct FlashTiles {
  using Shape = FlashShape<kHeadDim>;
  uint16_t k[2][Shape::kKeys][Shape::kPitch];
  uint16_t v[2][Shape::kKeys][Shape::kPitch];

  /// Stages positions [start, start + kKeys) of one slot and KV head (kBase, vBase: position 0)
  /// into buffer `buf`; positions at or past `hi` are zeros.
  __device__ __forceinline__ void load(int buf, const uint16_t* kBase, const uint16_t* vBase, int64_t rowWidth,
                                       int start, int hi) {
    for (int c = threadIdx.x; c < Shape::kKeys * Shape::kRowChunks; c += kThreads) {
      const int key = c / Shape::kRowChunks, col = (c % Shape::kRowChunks) * 8;
      const int pos = start + key;
      if (pos < hi) {
        const int64_t at = static_cast<int64_t>(pos) * rowWidth + col;
        copyAsync16(&k[buf][key][col], kBase + at);
        copyAsync16(&v[buf][key][col], vBase + at);
      } else {
        *reinterpret_cast<uint4*>(&k[buf][key][col]) = make_uint4(0, 0, 0, 0);
        *reinterpret_cast<uint4*>(&v[buf][key][col]) = make_uint4(0, 0, 0, 0);
      }
    }
  }

  /// Zeroes the V rows of buffer `buf` (positions from `start`) that no row of the pass over
  /// `slotId` attends to: they may be positions never written.
  __device__ __forceinline__ void zeroUnattended(int buf, const RowRanges& rows, int slotId, int start, int hi) {
    for (int key = threadIdx.x; key < Shape::kKeys; key += kThreads) {
      if (start + key >= hi || rows.covers(slotId, start + key)) continue;
      for (int col = 0; col < kHeadDim; col += 8) *reinterpret_cast<uint4*>(&v[buf][key][col]) = make_uint4(0, 0, 0, 0);
    }
  }
};

/// One warp, one staged tile of keys (positions start ..): S = Q K^T, the row masks, the online
/// softmax update and O += P V.
template <int kHeadDim>
__device__ __forceinline__ void attendTile(const FlashTiles<kHeadDim>& tiles, int buf, const QueryFragments<kHeadDim>& qf,
                                           const LaneRows& lane, int slotId, int start, FlashState<kHeadDim>& st) {
  using Shape = FlashShape<kHeadDim>;
  const int g = (threadIdx.x % 32) / 4, t = threadIdx.x % 4;
  float s[Shape::kKeyTiles][4];
#pragma unroll
  for (int j = 0; j < Shape::kKeyTiles; ++j) {
#pragma unroll
    for (int e = 0; e < 4; ++e) s[j][e] = 0.0f;
#pragma unroll
    for (int kc = 0; kc < Shape::kDimSteps; ++kc) {
      const uint16_t* key = &tiles.k[buf][8 * j + g][16 * kc + 2 * t];
      const uint32_t b0 = *reinterpret_cast<const uint32_t*>(key), b1 = *reinterpret_cast<const uint32_t*>(key + 8);
      mmaF16(s[j], qf.hi[kc], b0, b1);
      mmaF16(s[j], qf.lo[kc], b0, b1);
    }
  }
  // Masks (a select: a never-written key may give NaN scores), then each row's max over the
  // tile: the lane's own keys, then its quad's (the 4 lanes holding the same two rows).
  float tileMax[2] = {-INFINITY, -INFINITY};
#pragma unroll
  for (int j = 0; j < Shape::kKeyTiles; ++j) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int h = e / 2, key = start + 8 * j + 2 * t + (e & 1);
      s[j][e] = lane.attends(h, slotId, key) ? s[j][e] : -INFINITY;
      tileMax[h] = fmaxf(tileMax[h], s[j][e]);
    }
  }
  float corr[2], base[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    tileMax[h] = fmaxf(tileMax[h], __shfl_xor_sync(kFullMask, tileMax[h], 1));
    tileMax[h] = fmaxf(tileMax[h], __shfl_xor_sync(kFullMask, tileMax[h], 2));
    const float newMax = fmaxf(st.rowMax[h], tileMax[h]);
    // No key of the row so far: nothing to rescale, and every probability is exp2(-inf) = 0.
    corr[h] = newMax == -INFINITY ? 1.0f : exp2f(st.rowMax[h] - newMax);
    base[h] = newMax == -INFINITY ? 0.0f : newMax;
    st.rowMax[h] = newMax;
    st.rowSum[h] *= corr[h];
  }
#pragma unroll
  for (int j = 0; j < Shape::kKeyTiles; ++j) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      s[j][e] = exp2f(s[j][e] - base[e / 2]);
      st.rowSum[e / 2] += s[j][e];
    }
  }
#pragma unroll
  for (int n = 0; n < Shape::kDimTiles; ++n) {
    st.o[n][0] *= corr[0];
    st.o[n][1] *= corr[0];
    st.o[n][2] *= corr[1];
    st.o[n][3] *= corr[1];
  }
  // O += P V, 16 keys a step: P's A fragment is S tiles 2ks (a0..a3) and 2ks + 1 (a4..a7), split
  // like the queries so that P keeps its f32 accuracy.
#pragma unroll
  for (int ks = 0; ks < Shape::kKeySteps; ++ks) {
    const SplitPair p[4] = {splitFloats(s[2 * ks][0], s[2 * ks][1]), splitFloats(s[2 * ks][2], s[2 * ks][3]),
                            splitFloats(s[2 * ks + 1][0], s[2 * ks + 1][1]),
                            splitFloats(s[2 * ks + 1][2], s[2 * ks + 1][3])};
    const uint32_t hi[4] = {p[0].hi, p[1].hi, p[2].hi, p[3].hi};
    const uint32_t lo[4] = {p[0].lo, p[1].lo, p[2].lo, p[3].lo};
#pragma unroll
    for (int n = 0; n < Shape::kDimTiles; ++n) {
      const uint16_t* v = &tiles.v[buf][16 * ks + 2 * t][8 * n + g];
      const uint32_t b0 = packHalves(v[0], v[Shape::kPitch]), b1 = packHalves(v[8 * Shape::kPitch], v[9 * Shape::kPitch]);
      mmaF16(st.o[n], hi, b0, b1);
      mmaF16(st.o[n], lo, b0, b1);
    }
  }
}

/// The next pass of a block: the smallest slot above `previous` among its rows (INT_MAX when
/// none is left) and the union [lo, hi) of its rows' key ranges.
struct Pass {
  int slot = INT_MAX, lo = INT_MAX, hi = 0;
};
__device__ __forceinline__ Pass nextPass(const RowRanges& rows, int previous) {
  Pass p;
  for (int r = 0; r < kRows; ++r)
    if (rows.slot[r] > previous && rows.slot[r] < p.slot) p.slot = rows.slot[r];
  for (int r = 0; r < kRows; ++r) {
    if (rows.slot[r] != p.slot || p.slot == INT_MAX) continue;
    p.lo = min(p.lo, rows.first[r]);
    p.hi = max(p.hi, rows.end[r]);
  }
  return p;
}

/// Block (row tile, query head). Everything it reads (q, the cache) is written by earlier
/// kernels, so it waits for them first.
template <int kHeadDim>
__global__ void __launch_bounds__(kThreads) flashPrefillKernel(const AttentionArgs a) {
  using Shape = FlashShape<kHeadDim>;
  __shared__ __align__(16) FlashTiles<kHeadDim> tiles;
  __shared__ RowRanges rows;
  detail::startAfterPrerequisites();

  const int tid = threadIdx.x, warp = tid / 32, g = (tid % 32) / 4, t = tid % 4;
  const int64_t firstRow = static_cast<int64_t>(gridDim.x - 1 - blockIdx.x) * kRows;  // the longest rows first
  const int head = static_cast<int>(blockIdx.y);
  const int kvHead = head / static_cast<int>(a.nHeads / a.nKvHeads);
  if (tid < kRows) {
    const int64_t row = firstRow + tid;
    int slot = -1, first = 0, end = 0;
    if (row < a.m && a.slots[row] >= 0 && a.positions[row] >= 0) {
      slot = a.slots[row];
      const int64_t last = a.positions[row] < a.maxCtx ? a.positions[row] : a.maxCtx - 1;  // within the slot
      end = static_cast<int>(last + 1);
      first = a.window > 0 && end > a.window ? static_cast<int>(end - a.window) : 0;
    }
    rows.slot[tid] = slot;
    rows.first[tid] = first;
    rows.end[tid] = end;
  }
  __syncthreads();

  LaneRows lane;
  QueryFragments<kHeadDim> qf;
  {
    const float qScale = a.scale * kLog2e;  // scores in log2 units: exp2f below
    const float* q[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int r = 16 * warp + g + 8 * h;
      lane.slot[h] = rows.slot[r];
      lane.first[h] = rows.first[r];
      lane.end[h] = rows.end[r];
      q[h] = lane.slot[h] >= 0 ? a.q + (firstRow + r) * a.qStride + static_cast<int64_t>(head) * kHeadDim : nullptr;
    }
    const auto pair = [&](int h, int d) {
      return q[h] == nullptr ? SplitPair{0u, 0u} : splitFloats(q[h][d] * qScale, q[h][d + 1] * qScale);
    };
#pragma unroll
    for (int kc = 0; kc < Shape::kDimSteps; ++kc) {
      const int d = 16 * kc + 2 * t;
      const SplitPair pairs[4] = {pair(0, d), pair(1, d), pair(0, d + 8), pair(1, d + 8)};
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        qf.hi[kc][i] = pairs[i].hi;
        qf.lo[kc][i] = pairs[i].lo;
      }
    }
  }
  FlashState<kHeadDim> st;
#pragma unroll
  for (int n = 0; n < Shape::kDimTiles; ++n) st.o[n][0] = st.o[n][1] = st.o[n][2] = st.o[n][3] = 0.0f;

  const int64_t rowWidth = a.nKvHeads * kHeadDim;
  for (Pass pass = nextPass(rows, -1); pass.slot != INT_MAX; pass = nextPass(rows, pass.slot)) {
    // Holes in the pass's key range: some row's end is attended by no row of the slot (if there is
    // a hole, the row whose range ends last before it ends at an unattended position).
    bool hole = false;
    if (tid < kRows && rows.slot[tid] == pass.slot && rows.end[tid] < pass.hi)
      hole = !rows.covers(pass.slot, rows.end[tid]);
    const bool holes = __syncthreads_or(hole) != 0;  // also: the previous pass is done with the buffers

    const int64_t base =
        static_cast<int64_t>(pass.slot) * a.maxCtx * rowWidth + static_cast<int64_t>(kvHead) * kHeadDim;
    const uint16_t* kBase = static_cast<const uint16_t*>(a.kCache) + base;
    const uint16_t* vBase = static_cast<const uint16_t*>(a.vCache) + base;
    const int tileCount = static_cast<int>((static_cast<int64_t>(pass.hi) - pass.lo + Shape::kKeys - 1) / Shape::kKeys);
    tiles.load(0, kBase, vBase, rowWidth, pass.lo, pass.hi);
    commitAsync();
    for (int i = 0; i < tileCount; ++i) {
      const int buf = i & 1, start = pass.lo + i * Shape::kKeys;
      // The other buffer was last read in iteration i - 1, before its closing barrier.
      if (i + 1 < tileCount) tiles.load(buf ^ 1, kBase, vBase, rowWidth, start + Shape::kKeys, pass.hi);
      commitAsync();  // possibly empty: keeps "all but the newest group" meaning tile i
      waitAsyncAllButOne();
      __syncthreads();  // tile i, staged by every thread, visible to all
      if (holes) {
        tiles.zeroUnattended(buf, rows, pass.slot, start, pass.hi);
        __syncthreads();
      }
      if (__any_sync(kFullMask, lane.overlaps(pass.slot, start, Shape::kKeys)))
        attendTile<kHeadDim>(tiles, buf, qf, lane, pass.slot, start, st);
      __syncthreads();  // buffer `buf` is refilled in iteration i + 1
    }
  }

  // out = O / (sum of exp2 over the row's keys): the lane's partial sums meet over its quad.
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    float l = st.rowSum[h];
    l += __shfl_xor_sync(kFullMask, l, 1);
    l += __shfl_xor_sync(kFullMask, l, 2);
    const int64_t row = firstRow + 16 * warp + g + 8 * h;
    if (row >= a.m) continue;
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    float* out = a.out + (row * a.nHeads + head) * kHeadDim + 2 * t;
#pragma unroll
    for (int n = 0; n < Shape::kDimTiles; ++n) {
      out[8 * n] = st.o[n][2 * h] * inv;
      out[8 * n + 1] = st.o[n][2 * h + 1] * inv;
    }
  }
}

bool aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

}  // namespace

cudaError_t launchAttentionPrefillFlash(const AttentionArgs& a, cudaStream_t stream) {
  const bool shapeOk = a.mode == AttentionMode::Prefill && a.m >= 1 && a.m <= 65535 && a.nKvHeads >= 1 &&
                       a.nHeads >= a.nKvHeads && a.nHeads % a.nKvHeads == 0 && a.nHeads <= 65535 &&
                       flashPrefillSupportsHeadDim(a.headDim) && a.maxCtx >= 1 && a.maxCtx <= INT32_MAX &&
                       a.window >= 0 && a.splits == 1 && a.qStride >= 0;
  const bool pointersOk = a.q != nullptr && a.kCache != nullptr && a.vCache != nullptr && a.slots != nullptr &&
                          a.positions != nullptr && a.out != nullptr && a.outQ81 == nullptr && a.newK == nullptr &&
                          aligned16(a.kCache) && aligned16(a.vCache);
  if (!shapeOk || !pointersOk) return cudaErrorInvalidValue;
  const LaunchDims d = flashPrefillDims(a.m, a.nHeads);
  switch (a.headDim) {
    case 32:
      return detail::launchEarly(flashPrefillKernel<32>, d, stream, a);
    case 64:
      return detail::launchEarly(flashPrefillKernel<64>, d, stream, a);
    default:
      return detail::launchEarly(flashPrefillKernel<128>, d, stream, a);
  }
}

}  // namespace reel::kernels
