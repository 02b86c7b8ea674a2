// Tensor-core matmul on quantized weights and Q8_1 activations (`mmq_<qtype>`, Mmq.h).
//
// Block: kMmqKSplit warps, kMmqRowsPerBlock (16) weight rows, a tile of 8 * Tiles tokens. Lane
// (g, t) = (lane / 4, lane % 4) holds, as the m16n8 fragments of `mma.sync` lay them out, weight
// rows g and g + 8 and, in each n8 tile j of tokens, the outputs of tokens 8j + 2t and 8j + 2t + 1;
// its B fragment is token 8j + g. Warp w walks the units u = w, w + 4, ... (MmqShape.h), loading
// the next unit's weights before it multiplies the current one. Per scale group one mma gives the
// exact integer dot products of 16 rows with 8 tokens, which the lane turns into float terms
// (quant/MmaMath.h) and adds to its outputs; at the end the warps' sums meet in shared memory and
// are added in warp order: the order quant::dotQ81Mma reproduces.
//
// Within a 32-element block the dot product does not depend on which of its elements a fragment
// slot holds, as long as weights and activations agree: for Q4_K and Q8_0 lane t takes elements
// 8t .. 8t + 7 (one 8-byte load per row or token), in the slots the fragment gives k = 4t .. 4t + 3
// and 16 + 4t .. 16 + 4t + 3. Q6_K's scales cover 16 elements, so it runs k16 mmas on elements
// 4t .. 4t + 3 of each group, where the fragment puts them.

#include "kernels/CudaCommon.cuh"
#include "kernels/Mmq.h"
#include "kernels/MmqShape.h"
#include "quant/MmaMath.h"
#include "quant/QuantRef.h"

namespace reel::kernels {
namespace {

using detail::halfBitsToFloat;
using quant::QType;

/// Activations: plain (coherent) loads, as the GEMV's (GemvDp4a.cuh says why not .nc).
template <typename V>
__device__ __forceinline__ V loadAct(const uint8_t* p) {
  return *reinterpret_cast<const V*>(p);
}

/// Weights are immutable while any kernel runs: the read-only path.
template <typename V>
__device__ __forceinline__ V loadWeight(const uint8_t* p) {
  return __ldg(reinterpret_cast<const V*>(p));
}

/// 8 weight bytes read once (no L1 allocation: a warp's load covers whole sectors).
__device__ __forceinline__ uint2 loadWeightStream8(const uint8_t* p) {
  uint2 v;
  asm volatile("ld.global.nc.L1::no_allocate.v2.u32 {%0, %1}, [%2];" : "=r"(v.x), "=r"(v.y) : "l"(p));
  return v;
}

/// c = A (16 x 32, rows g / g + 8) * B (32 x 8), int8 in, exact int32 out.
__device__ __forceinline__ void mmaK32(int (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t b0,
                                       uint32_t b1) {
  asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%10, %10, %10, %10};"
      : "=r"(c[0]), "=r"(c[1]), "=r"(c[2]), "=r"(c[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1), "r"(0));
}

/// c = A (16 x 16) * B (16 x 8), int8 in, exact int32 out.
__device__ __forceinline__ void mmaK16(int (&c)[4], uint32_t a0, uint32_t a1, uint32_t b0) {
  asm("mma.sync.aligned.m16n8k16.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5}, {%6}, {%7, %7, %7, %7};"
      : "=r"(c[0]), "=r"(c[1]), "=r"(c[2]), "=r"(c[3])
      : "r"(a0), "r"(a1), "r"(b0), "r"(0));
}

/// Sign-extends per byte a 4-, 5- or 6-bit quant with offset 2^(bits-1) (q - 8, q - 16, q - 32):
/// flip the top bit, then copy the flipped bit into the bits above it.
template <int Bits>
__device__ __forceinline__ uint32_t minusOffset(uint32_t q) {
  constexpr uint32_t top = 0x01010101u << (Bits - 1);
  const uint32_t flipped = q ^ top;
  const uint32_t sign = flipped & top;
  uint32_t extended = flipped;
#pragma unroll
  for (int b = Bits; b < 8; ++b) extended |= sign << (b - Bits + 1);
  return extended;
}

/// The 5th bits of 4 elements (bits 0..3 of `bits`) at bit 4 of each byte.
__device__ __forceinline__ uint32_t spreadFifthBits(uint32_t bits) {
  return ((bits & 1u) << 4) | ((bits & 2u) << 11) | ((bits & 4u) << 18) | ((bits & 8u) << 25);
}

/// Where a lane's tokens are: byte offsets of activation rows, clamped to the last row (the
/// outputs of clamped tokens are computed and dropped).
template <int Tiles>
struct TokenRows {
  uint32_t b[Tiles];     ///< the B fragment's token 8j + g
  uint32_t c[Tiles][2];  ///< the outputs' tokens 8j + 2t, 8j + 2t + 1

  __device__ TokenRows(int64_t tokenBase, int64_t m, uint32_t stride, int g, int t) {
#pragma unroll
    for (int j = 0; j < Tiles; ++j) {
      b[j] = static_cast<uint32_t>(min(tokenBase + 8 * j + g, m - 1)) * stride;
#pragma unroll
      for (int h = 0; h < 2; ++h) c[j][h] = static_cast<uint32_t>(min(tokenBase + 8 * j + 2 * t + h, m - 1)) * stride;
    }
  }
};

/// The {d, s} of Q8_1 block `block` of the activation row at `row` (offset k of the row).
struct ActScale {
  float d, s;
};
__device__ __forceinline__ ActScale actScale(const uint8_t* act, uint32_t row, int64_t k, int64_t block) {
  const uint32_t ds = loadAct<uint32_t>(act + row + k + 4 * block);
  return {halfBitsToFloat(static_cast<uint16_t>(ds & 0xFFFFu)), halfBitsToFloat(static_cast<uint16_t>(ds >> 16))};
}

/// What every unit step needs besides the weights.
template <int Tiles>
struct ActView {
  const uint8_t* act;
  int64_t k;
  int t;
  TokenRows<Tiles> rows;
};

/// Adds the four terms of an mma's results (rows g, g + 8 x the lane's two tokens of tile j).
template <int Tiles, bool WithMin>
__device__ __forceinline__ void addTerms(float (&acc)[Tiles][4], int j, const int (&c)[4], const float (&dScale)[2],
                                         const float (&dMin)[2], const ActScale (&a)[2]) {
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int r = i >> 1, h = i & 1;
    acc[j][i] = WithMin ? quant::mmaAddScaleMin(acc[j][i], dScale[r], dMin[r], a[h].d, a[h].s, c[i])
                        : quant::mmaAddScaled(acc[j][i], dScale[r], a[h].d, c[i]);
  }
}

template <QType T>
struct Unit;

/// Q4_K and Q5_K (GGUF rows of 144- and 176-byte super-blocks): the header (d, dmin, 12 scale
/// bytes) and qs bytes 32j + 8t .. + 8 (j < 4) of rows g and g + 8; byte 32j + i holds element i
/// of sub-block 2j (low nibble) and of 2j + 1. Q5_K adds qh bytes 8t .. + 8: bit s of qh byte i
/// is the 5th bit of element i of sub-block s.
template <bool FifthBit>
struct KQuantUnit {
  static constexpr int kElems = 256;
  static constexpr int kBlockBytes = FifthBit ? 176 : 144;
  static constexpr int kQsOffset = FifthBit ? 48 : 16;
  uint4 head[2];
  uint2 qs[2][4];
  uint2 qh[FifthBit ? 2 : 1];

  __device__ __forceinline__ void load(const uint8_t* const (&row)[2], int64_t, int64_t u, int t) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const uint8_t* block = row[r] + kBlockBytes * u;
      head[r] = loadWeight<uint4>(block);
#pragma unroll
      for (int j = 0; j < 4; ++j) qs[r][j] = loadWeightStream8(block + kQsOffset + 32 * j + 8 * t);
      if constexpr (FifthBit) qh[r] = loadWeightStream8(block + 16 + 8 * t);
    }
  }

  /// 6-bit scale and min of sub-block s from the header's 12 scale bytes (ggml's get_scale_min_k4).
  static __device__ __forceinline__ void scaleMin(const uint4& head, int s, int& sc, int& mn) {
    const uint32_t words[3] = {head.y, head.z, head.w};
    auto byte = [&](int i) { return static_cast<int>((words[i >> 2] >> (8 * (i & 3))) & 0xFFu); };
    if (s < 4) {
      sc = byte(s) & 63;
      mn = byte(s + 4) & 63;
    } else {
      sc = (byte(s + 4) & 0xF) | ((byte(s - 4) >> 6) << 4);
      mn = (byte(s + 4) >> 4) | ((byte(s) >> 6) << 4);
    }
  }

  /// Four quants of sub-block s of row r from the 4-byte half `word` (0: elements 8t .., 1: 8t + 4 ..).
  __device__ __forceinline__ uint32_t quants(int r, int s, int word) const {
    const uint2 q = qs[r][s >> 1];
    const uint32_t low = ((word == 0 ? q.x : q.y) >> (4 * (s & 1))) & 0x0F0F0F0Fu;
    if constexpr (!FifthBit) {
      return low;
    } else {
      const uint32_t bits = word == 0 ? qh[r].x : qh[r].y;
      return low | (((bits >> s) & 0x01010101u) << 4);
    }
  }

  template <int Tiles>
  __device__ __forceinline__ void multiply(const ActView<Tiles>& v, int64_t u, float (&acc)[Tiles][4]) const {
    float d[2], dmin[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      d[r] = halfBitsToFloat(static_cast<uint16_t>(head[r].x & 0xFFFFu));
      dmin[r] = halfBitsToFloat(static_cast<uint16_t>(head[r].x >> 16));
    }
#pragma unroll
    for (int s = 0; s < 8; ++s) {
      const uint32_t a0 = quants(0, s, 0), a1 = quants(1, s, 0), a2 = quants(0, s, 1), a3 = quants(1, s, 1);
      float dScale[2], dMin[2];
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        int sc, mn;
        scaleMin(head[r], s, sc, mn);
        dScale[r] = d[r] * static_cast<float>(sc);
        dMin[r] = dmin[r] * static_cast<float>(mn);
      }
      const int64_t block = 8 * u + s;
#pragma unroll
      for (int tile = 0; tile < Tiles; ++tile) {
        const uint2 b = loadAct<uint2>(v.act + v.rows.b[tile] + 32 * block + 8 * v.t);
        int c[4];
        mmaK32(c, a0, a1, a2, a3, b.x, b.y);
        const ActScale a[2] = {actScale(v.act, v.rows.c[tile][0], v.k, block),
                               actScale(v.act, v.rows.c[tile][1], v.k, block)};
        addTerms<Tiles, true>(acc, tile, c, dScale, dMin, a);
      }
    }
  }
};

template <>
struct Unit<QType::Q4_K> : KQuantUnit<false> {};
template <>
struct Unit<QType::Q5_K> : KQuantUnit<true> {};

/// Q6_K (row-planar: ql [nb][128], qh [nb][64], scales [nb][16], d [nb]): for sub-block s (32
/// elements; half h = s / 4, quarter q = s % 4) element i is the nibble q / 2 of ql byte
/// 64h + 32(q % 2) + i with bits 2q of qh byte 32h + i on top, minus 32. A lane loads bytes
/// 4t .. 4t + 3 and 16 + 4t .. of each 32-byte chunk: elements 4t .. of both 16-element groups.
template <>
struct Unit<QType::Q6_K> {
  static constexpr int kElems = 256;
  uint32_t ql[2][4][2];  ///< [row][chunk 64h + 32c as 2h + c][group]
  uint32_t qh[2][2][2];  ///< [row][half][group]
  uint4 scales[2];
  uint16_t d[2];

  __device__ __forceinline__ void load(const uint8_t* const (&row)[2], int64_t nb, int64_t u, int t) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
#pragma unroll
      for (int chunk = 0; chunk < 4; ++chunk)
#pragma unroll
        for (int grp = 0; grp < 2; ++grp)
          ql[r][chunk][grp] = loadWeight<uint32_t>(row[r] + 128 * u + 32 * chunk + 16 * grp + 4 * t);
#pragma unroll
      for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int grp = 0; grp < 2; ++grp)
          qh[r][h][grp] = loadWeight<uint32_t>(row[r] + 128 * nb + 64 * u + 32 * h + 16 * grp + 4 * t);
      scales[r] = loadWeight<uint4>(row[r] + 192 * nb + 16 * u);
      d[r] = loadWeight<uint16_t>(row[r] + 208 * nb + 2 * u);
    }
  }

  /// Four signed quants (q - 32) of sub-block s, group grp, row r.
  __device__ __forceinline__ uint32_t quants(int r, int s, int grp) const {
    const int h = s >> 2, q = s & 3;
    const uint32_t low = (ql[r][2 * h + (q & 1)][grp] >> (4 * (q >> 1))) & 0x0F0F0F0Fu;
    const uint32_t high = ((qh[r][h][grp] >> (2 * q)) & 0x03030303u) << 4;
    return minusOffset<6>(low | high);
  }

  static __device__ __forceinline__ int scaleOf(const uint4& s, int group) {
    const uint32_t words[4] = {s.x, s.y, s.z, s.w};
    return static_cast<int8_t>((words[group >> 2] >> (8 * (group & 3))) & 0xFFu);
  }

  template <int Tiles>
  __device__ __forceinline__ void multiply(const ActView<Tiles>& v, int64_t u, float (&acc)[Tiles][4]) const {
    const float dRow[2] = {halfBitsToFloat(d[0]), halfBitsToFloat(d[1])};
    const float none[2] = {0.0f, 0.0f};
#pragma unroll
    for (int s = 0; s < 8; ++s) {
      const int64_t block = 8 * u + s;
#pragma unroll
      for (int grp = 0; grp < 2; ++grp) {
        const uint32_t a0 = quants(0, s, grp), a1 = quants(1, s, grp);
        const float dScale[2] = {dRow[0] * static_cast<float>(scaleOf(scales[0], 2 * s + grp)),
                                 dRow[1] * static_cast<float>(scaleOf(scales[1], 2 * s + grp))};
#pragma unroll
        for (int tile = 0; tile < Tiles; ++tile) {
          const uint32_t b = loadAct<uint32_t>(v.act + v.rows.b[tile] + 32 * block + 16 * grp + 4 * v.t);
          int c[4];
          mmaK16(c, a0, a1, b);
          const ActScale a[2] = {actScale(v.act, v.rows.c[tile][0], v.k, block),
                                 actScale(v.act, v.rows.c[tile][1], v.k, block)};
          addTerms<Tiles, false>(acc, tile, c, dScale, none, a);
        }
      }
    }
  }
};

/// Q8_0 (row-planar: qs [nb][32], d [nb]): one 32-element block per unit.
template <>
struct Unit<QType::Q8_0> {
  static constexpr int kElems = 32;
  uint2 qs[2];
  uint16_t d[2];

  __device__ __forceinline__ void load(const uint8_t* const (&row)[2], int64_t nb, int64_t u, int t) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      qs[r] = loadWeightStream8(row[r] + 32 * u + 8 * t);
      d[r] = loadWeight<uint16_t>(row[r] + 32 * nb + 2 * u);
    }
  }

  template <int Tiles>
  __device__ __forceinline__ void multiply(const ActView<Tiles>& v, int64_t u, float (&acc)[Tiles][4]) const {
    const float dScale[2] = {halfBitsToFloat(d[0]), halfBitsToFloat(d[1])};
    const float none[2] = {0.0f, 0.0f};
#pragma unroll
    for (int tile = 0; tile < Tiles; ++tile) {
      // Activation rows are 36 bytes per block apart: 4-byte aligned only.
      const uint8_t* p = v.act + v.rows.b[tile] + 32 * u + 8 * v.t;
      int c[4];
      mmaK32(c, qs[0].x, qs[1].x, qs[0].y, qs[1].y, loadAct<uint32_t>(p), loadAct<uint32_t>(p + 4));
      const ActScale a[2] = {actScale(v.act, v.rows.c[tile][0], v.k, u), actScale(v.act, v.rows.c[tile][1], v.k, u)};
      addTerms<Tiles, false>(acc, tile, c, dScale, none, a);
    }
  }
};

/// Q4_0, Q5_0, Q5_1 (row-planar: qs [nb][16], Q5's qh [nb][4], then d [nb] or Q5_1's {d, m} [nb]):
/// one 32-element block per unit. Element e < 16 is the low nibble of qs byte e, e >= 16 the high
/// nibble of byte e - 16, so lane t's elements 8t .. 8t + 7 are one 8-byte load at 8 (t % 2),
/// nibble t / 2; Q5's 5th bits are bits 8t .. 8t + 7 of qh. Q4_0 and Q5_0 are signed (q - 8,
/// q - 16); Q5_1's quants stay unsigned and its min m joins the term as -dMin.
template <QType T>
struct SmallBlockUnit {
  static constexpr int kElems = 32;
  static constexpr bool kFifthBit = T != QType::Q4_0;
  static constexpr int kScaleOffset = kFifthBit ? 20 : 16;  ///< scales after qs (and qh), per block
  static constexpr int kScaleBytes = T == QType::Q5_1 ? 4 : 2;
  uint2 qs[2];
  uint32_t qh[2];
  uint32_t scale[2];  ///< d (and Q5_1's m in the high half)

  __device__ __forceinline__ void load(const uint8_t* const (&row)[2], int64_t nb, int64_t u, int t) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      qs[r] = loadWeight<uint2>(row[r] + 16 * u + 8 * (t & 1));
      qh[r] = kFifthBit ? loadWeight<uint32_t>(row[r] + 16 * nb + 4 * u) : 0u;
      scale[r] = kScaleBytes == 4 ? loadWeight<uint32_t>(row[r] + kScaleOffset * nb + 4 * u)
                                  : loadWeight<uint16_t>(row[r] + kScaleOffset * nb + 2 * u);
    }
  }

  /// Lane t's quants of row r, elements 8t + 4 word .. + 3, as the mma reads them.
  __device__ __forceinline__ uint32_t quants(int r, int word, int t) const {
    const uint32_t low = ((word == 0 ? qs[r].x : qs[r].y) >> (4 * (t >> 1))) & 0x0F0F0F0Fu;
    if constexpr (T == QType::Q4_0) {
      return minusOffset<4>(low);
    } else {
      const uint32_t q = low | spreadFifthBits((qh[r] >> (8 * t + 4 * word)) & 0xFu);
      return T == QType::Q5_0 ? minusOffset<5>(q) : q;
    }
  }

  template <int Tiles>
  __device__ __forceinline__ void multiply(const ActView<Tiles>& v, int64_t u, float (&acc)[Tiles][4]) const {
    float dScale[2], dMin[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      dScale[r] = halfBitsToFloat(static_cast<uint16_t>(scale[r] & 0xFFFFu));
      dMin[r] = -halfBitsToFloat(static_cast<uint16_t>(scale[r] >> 16));  // Q5_1: + m * s
    }
    const int t = v.t;
    const uint32_t a0 = quants(0, 0, t), a1 = quants(1, 0, t), a2 = quants(0, 1, t), a3 = quants(1, 1, t);
#pragma unroll
    for (int tile = 0; tile < Tiles; ++tile) {
      const uint8_t* p = v.act + v.rows.b[tile] + 32 * u + 8 * t;
      int c[4];
      mmaK32(c, a0, a1, a2, a3, loadAct<uint32_t>(p), loadAct<uint32_t>(p + 4));
      const ActScale a[2] = {actScale(v.act, v.rows.c[tile][0], v.k, u), actScale(v.act, v.rows.c[tile][1], v.k, u)};
      addTerms<Tiles, T == QType::Q5_1>(acc, tile, c, dScale, dMin, a);
    }
  }
};

template <>
struct Unit<QType::Q4_0> : SmallBlockUnit<QType::Q4_0> {};
template <>
struct Unit<QType::Q5_0> : SmallBlockUnit<QType::Q5_0> {};
template <>
struct Unit<QType::Q5_1> : SmallBlockUnit<QType::Q5_1> {};

/// Bytes of one weight row in the layout the kernel reads.
int64_t weightRowStride(QType type, int64_t k) {
  return static_cast<int64_t>(quant::needsRowPlanar(type) ? quant::planarRowBytes(type, k) : quant::rowBytes(type, k));
}

struct MmqParams {
  const uint8_t* weights;
  const uint8_t* act;
  float* out;
  int64_t n, k, m;
  int64_t weightStride;  ///< bytes of a weight row
  uint32_t actStride;    ///< bytes of an activation row (quant::q81RowBytes(k))
};

/// Blocks per SM the register budget is set for: the 4- and 8-tile instantiations hold 16 and 32
/// accumulators besides two units of weights, which 128 registers would spill; without the
/// prefetched unit the 4-tile one fits three blocks.
constexpr int mmqMinBlocks(int tiles, bool prefetch) {
  return tiles >= 8 || (tiles >= 4 && prefetch) ? 2 : tiles >= 4 ? 3 : 4;
}

template <QType T, int Tiles, bool Prefetch>
__global__ void __launch_bounds__(kMmqThreads, mmqMinBlocks(Tiles, Prefetch)) mmqKernel(MmqParams p) {
  __shared__ float partial[kMmqKSplit][kMmqRowsPerBlock][8 * Tiles];
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int g = lane >> 2, t = lane & 3;
  const int64_t rowBase = static_cast<int64_t>(blockIdx.y) * kMmqRowsPerBlock;
  const int64_t tokenBase = static_cast<int64_t>(blockIdx.x) * 8 * Tiles;
  const uint8_t* const row[2] = {p.weights + min(rowBase + g, p.n - 1) * p.weightStride,
                                 p.weights + min(rowBase + g + 8, p.n - 1) * p.weightStride};
  const int64_t units = p.k / Unit<T>::kElems;
  const int64_t nb = p.k / quant::blockElems(T);

  Unit<T> current{};
  if (warp < units) current.load(row, nb, warp, t);
  detail::waitForPrerequisites();  // the activations are the previous kernel's output
  const ActView<Tiles> view{p.act, p.k, t, TokenRows<Tiles>(tokenBase, p.m, p.actStride, g, t)};
  float acc[Tiles][4];
#pragma unroll
  for (int j = 0; j < Tiles; ++j)
#pragma unroll
    for (int i = 0; i < 4; ++i) acc[j][i] = 0.0f;
  for (int64_t u = warp; u < units; u += kMmqKSplit) {
    if constexpr (Prefetch) {
      Unit<T> next{};
      if (u + kMmqKSplit < units) next.load(row, nb, u + kMmqKSplit, t);
      current.multiply(view, u, acc);
      current = next;
    } else {
      if (u != warp) current.load(row, nb, u, t);
      current.multiply(view, u, acc);
    }
  }
  detail::allowDependents();

#pragma unroll
  for (int j = 0; j < Tiles; ++j)
#pragma unroll
    for (int i = 0; i < 4; ++i) partial[warp][g + 8 * (i >> 1)][8 * j + 2 * t + (i & 1)] = acc[j][i];
  __syncthreads();
  for (int o = static_cast<int>(threadIdx.x); o < kMmqRowsPerBlock * 8 * Tiles; o += kMmqThreads) {
    const int r = o % kMmqRowsPerBlock, token = o / kMmqRowsPerBlock;
    const int64_t outRow = rowBase + r, outToken = tokenBase + token;
    if (outRow >= p.n || outToken >= p.m) continue;
    float total = partial[0][r][token];
#pragma unroll
    for (int w = 1; w < kMmqKSplit; ++w) total = total + partial[w][r][token];
    p.out[outToken * p.n + outRow] = total;
  }
}

template <QType T, bool Prefetch>
cudaError_t launchTiles(const MmqArgs& a, const MmqParams& p, cudaStream_t stream) {
  const int tile = a.tileTokens != 0 ? a.tileTokens : mmqTileTokens(a.m);
  const int64_t tiles = (a.m + tile - 1) / tile;
  const dim3 dims(static_cast<unsigned>(tiles), static_cast<unsigned>(mmqGrid(a.n, a.m).y));
  const dim3 block(kMmqThreads);
  switch (tile) {
    case 8:
      return detail::launchKernelEx(mmqKernel<T, 1, Prefetch>, dims, block, stream, a.earlyStart, p);
    case 16:
      return detail::launchKernelEx(mmqKernel<T, 2, Prefetch>, dims, block, stream, a.earlyStart, p);
    case 32:
      return detail::launchKernelEx(mmqKernel<T, 4, Prefetch>, dims, block, stream, a.earlyStart, p);
    default:
      return detail::launchKernelEx(mmqKernel<T, 8, Prefetch>, dims, block, stream, a.earlyStart, p);
  }
}

template <QType T>
cudaError_t launchTyped(const MmqArgs& a, const MmqParams& p, cudaStream_t stream) {
  return a.prefetch ? launchTiles<T, true>(a, p, stream) : launchTiles<T, false>(a, p, stream);
}

}  // namespace

cudaError_t launchMmq(const MmqArgs& a, cudaStream_t stream) {
  const bool tileOk = a.tileTokens == 0 || a.tileTokens == 8 || a.tileTokens == 16 || a.tileTokens == 32 ||
                      a.tileTokens == kMmqMaxTokens;
  if (!tileOk || !mmqSupports(a.type) || a.weights == nullptr || a.act == nullptr || a.out == nullptr || a.n < 1 ||
      a.m < 1 || a.k < 1 ||
      a.k % static_cast<int64_t>(quant::blockElems(a.type) == quant::kQK32 ? quant::kQK32 : quant::kQK_K) != 0)
    return cudaErrorInvalidValue;
  const MmqGrid grid = mmqGrid(a.n, a.m);
  if (grid.y > 65535 || grid.x > 0x7FFFFFFF || a.m * static_cast<int64_t>(quant::q81RowBytes(a.k)) > 0xFFFFFFFFll)
    return cudaErrorInvalidValue;
  const MmqParams p{static_cast<const uint8_t*>(a.weights),
                    static_cast<const uint8_t*>(a.act),
                    a.out,
                    a.n,
                    a.k,
                    a.m,
                    weightRowStride(a.type, a.k),
                    static_cast<uint32_t>(quant::q81RowBytes(a.k))};
  switch (a.type) {
    case QType::Q4_K:
      return launchTyped<QType::Q4_K>(a, p, stream);
    case QType::Q5_K:
      return launchTyped<QType::Q5_K>(a, p, stream);
    case QType::Q6_K:
      return launchTyped<QType::Q6_K>(a, p, stream);
    case QType::Q8_0:
      return launchTyped<QType::Q8_0>(a, p, stream);
    case QType::Q4_0:
      return launchTyped<QType::Q4_0>(a, p, stream);
    case QType::Q5_0:
      return launchTyped<QType::Q5_0>(a, p, stream);
    case QType::Q5_1:
      return launchTyped<QType::Q5_1>(a, p, stream);
    default:
      return cudaErrorInvalidValue;
  }
}

}  // namespace reel::kernels
