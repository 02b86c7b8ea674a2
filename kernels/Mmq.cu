// Tensor-core matmul on quantized weights and Q8_1 activations (`mmq_<qtype>`, Mmq.h).
//
// A cluster of kMmqKSplit blocks (MmqShape.h) owns 64 weight rows and a tile of 8 * Tiles tokens;
// block z walks the K units u = z, z + 4, ... in chunks of 256 activation elements (a K-quant
// unit, or 8 units of 32), which its threads copy into shared memory (cp.async, two buffers) while
// its warps multiply the previous chunk. Warp w owns rows 16w .. 16w + 15. Lane (g, t) =
// (lane / 4, lane % 4) holds, as the m16n8 fragments of `mma.sync` lay them out, weight rows g and
// g + 8 of its warp and, in each n8 tile j of tokens, the outputs of tokens 8j + 2t and
// 8j + 2t + 1; its B fragment is token 8j + g. A warp loads the next unit's weights into registers
// before it multiplies the current one. Per scale group one mma gives the exact integer dot
// products of 16 rows with 8 tokens, which the lane turns into float terms (quant/MmaMath.h) and
// adds to its outputs; at the end the blocks' sums meet through distributed shared memory and
// are added in block order: the order quant::dotQ81Mma reproduces.
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

#include <cooperative_groups.h>

namespace reel::kernels {
namespace {

using detail::halfBitsToFloat;
using quant::QType;

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

/// Starts copying 4 bytes from global to shared memory (completed by waitCopies).
__device__ __forceinline__ void copyAsync4(void* smem, const void* global) {
  const auto dst = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" ::"r"(dst), "l"(global) : "memory");
}

/// Waits for this thread's cp.async copies.
__device__ __forceinline__ void waitCopies() {
  asm volatile("cp.async.wait_all;" ::: "memory");
}

/// The int32 of an mma as a float, exactly (|v| < 2^22 for every int8 dot product of 32
/// elements): v lands in the mantissa of 1.5 * 2^23, which then subtracts out. Two full-rate
/// instructions instead of one quarter-rate conversion.
__device__ __forceinline__ float exactFloat(int v) {
  return __int_as_float(v + 0x4B400000) - 12582912.0f;
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

/// Activation elements per chunk: 8 Q8_1 blocks ("pieces") per token.
constexpr int kChunkPieces = 8;

/// Bytes between two tokens' quants in a stage buffer: 256 plus padding that spreads the rows
/// of one fragment load over the banks (8-byte loads: 32 mod 128 bytes; Q6_K's 4-byte loads:
/// 16 mod 128).
template <QType T>
constexpr int stageQuantStride() {
  return T == QType::Q6_K ? 272 : 288;
}

/// Shared memory of a block: two stage buffers, each the chunk's quants [token][stride] and its
/// raw {d, s} half pairs [piece][token]; the float pairs of the chunk being multiplied
/// [piece][token]. At the end the same bytes hold the block's sums [row][token + 1].
template <QType T, int Tokens>
struct MmqSmem {
  static constexpr int kQuantBytes = Tokens * stageQuantStride<T>();
  static constexpr int kRawBytes = kChunkPieces * Tokens * 4;
  static constexpr int kStageBytes = kQuantBytes + kRawBytes;
  static constexpr int kScaleOffset = 2 * kStageBytes;
  static constexpr int kBytes = kScaleOffset + kChunkPieces * Tokens * 8;
  static constexpr int kSumStride = Tokens + 1;
  static_assert(kMmqRowsPerBlock * kSumStride * 4 <= kBytes, "the sums reuse the stage buffers");

  static __device__ __forceinline__ uint8_t* quants(uint8_t* smem, int buffer) { return smem + buffer * kStageBytes; }
  static __device__ __forceinline__ uint32_t* raw(uint8_t* smem, int buffer) {
    return reinterpret_cast<uint32_t*>(smem + buffer * kStageBytes + kQuantBytes);
  }
  static __device__ __forceinline__ float2* scales(uint8_t* smem) {
    return reinterpret_cast<float2*>(smem + kScaleOffset);
  }
};

/// A lane's view of the chunk being multiplied: the B fragments and Q8_1 scales of its tokens.
template <QType T, int Tiles>
struct StageView {
  static constexpr int kStride = stageQuantStride<T>();
  const uint8_t* quants;  ///< token g's quants, offset 8t (4t for Q6_K)
  const float* scales;    ///< piece 0's {d, s} of token 2t

  /// Lane t's 8 quants of piece `piece` for token 8 tile + g (elements 8t .. 8t + 7).
  __device__ __forceinline__ uint2 b8(int piece, int tile) const {
    return *reinterpret_cast<const uint2*>(quants + 8 * tile * kStride + 32 * piece);
  }
  /// Lane t's 4 quants of 16-element group `group` of piece `piece` for token 8 tile + g.
  __device__ __forceinline__ uint32_t b4(int piece, int group, int tile) const {
    return *reinterpret_cast<const uint32_t*>(quants + 8 * tile * kStride + 32 * piece + 16 * group);
  }
  /// {d, s} of tokens 8 tile + 2t and 8 tile + 2t + 1 for piece `piece`.
  __device__ __forceinline__ float4 actScales(int piece, int tile) const {
    return *reinterpret_cast<const float4*>(scales + 2 * (piece * 8 * Tiles + 8 * tile));
  }
};

/// Adds the four terms of an mma's results (rows g, g + 8 x the lane's two tokens of tile j).
template <int Tiles, bool WithMin>
__device__ __forceinline__ void addTerms(float (&acc)[Tiles][4], int j, const int (&c)[4], const float (&dScale)[2],
                                         const float (&dMin)[2], const float4& a) {
  const float d8[2] = {a.x, a.z}, s8[2] = {a.y, a.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int r = i >> 1, h = i & 1;
    const float sum = exactFloat(c[i]);
    acc[j][i] = acc[j][i] + (WithMin ? quant::mmaScaleMinTerm(dScale[r], dMin[r], d8[h], s8[h], sum)
                                     : quant::mmaScaledTerm(dScale[r], d8[h], sum));
  }
}

template <QType T>
struct Unit;

/// Q4_K and Q5_K (GGUF rows of 144- and 176-byte super-blocks): the header (d, dmin, 12 scale
/// bytes) and qs bytes 32j + 8t .. + 8 (j < 4) of rows g and g + 8; byte 32j + i holds element i
/// of sub-block 2j (low nibble) and of 2j + 1. Q5_K adds qh bytes 8t .. + 8: bit s of qh byte i
/// is the 5th bit of element i of sub-block s. A unit is one chunk: sub-block s is piece s.
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

  template <QType T, int Tiles>
  __device__ __forceinline__ void multiply(const StageView<T, Tiles>& v, int, float (&acc)[Tiles][4]) const {
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
#pragma unroll
      for (int tile = 0; tile < Tiles; ++tile) {
        const uint2 b = v.b8(s, tile);
        int c[4];
        mmaK32(c, a0, a1, a2, a3, b.x, b.y);
        addTerms<Tiles, true>(acc, tile, c, dScale, dMin, v.actScales(s, tile));
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
  __device__ __forceinline__ void multiply(const StageView<QType::Q6_K, Tiles>& v, int, float (&acc)[Tiles][4]) const {
    const float dRow[2] = {halfBitsToFloat(d[0]), halfBitsToFloat(d[1])};
    const float none[2] = {0.0f, 0.0f};
#pragma unroll
    for (int s = 0; s < 8; ++s) {
#pragma unroll
      for (int grp = 0; grp < 2; ++grp) {
        const uint32_t a0 = quants(0, s, grp), a1 = quants(1, s, grp);
        const float dScale[2] = {dRow[0] * static_cast<float>(scaleOf(scales[0], 2 * s + grp)),
                                 dRow[1] * static_cast<float>(scaleOf(scales[1], 2 * s + grp))};
#pragma unroll
        for (int tile = 0; tile < Tiles; ++tile) {
          int c[4];
          mmaK16(c, a0, a1, v.b4(s, grp, tile));
          addTerms<Tiles, false>(acc, tile, c, dScale, none, v.actScales(s, tile));
        }
      }
    }
  }
};

/// Q8_0 (row-planar: qs [nb][32], d [nb]): one 32-element block per unit, piece `piece` of its chunk.
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
  __device__ __forceinline__ void multiply(const StageView<QType::Q8_0, Tiles>& v, int piece,
                                           float (&acc)[Tiles][4]) const {
    const float dScale[2] = {halfBitsToFloat(d[0]), halfBitsToFloat(d[1])};
    const float none[2] = {0.0f, 0.0f};
#pragma unroll
    for (int tile = 0; tile < Tiles; ++tile) {
      const uint2 b = v.b8(piece, tile);
      int c[4];
      mmaK32(c, qs[0].x, qs[1].x, qs[0].y, qs[1].y, b.x, b.y);
      addTerms<Tiles, false>(acc, tile, c, dScale, none, v.actScales(piece, tile));
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
  __device__ __forceinline__ void multiply(const StageView<T, Tiles>& v, int piece, float (&acc)[Tiles][4]) const {
    float dScale[2], dMin[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      dScale[r] = halfBitsToFloat(static_cast<uint16_t>(scale[r] & 0xFFFFu));
      dMin[r] = -halfBitsToFloat(static_cast<uint16_t>(scale[r] >> 16));  // Q5_1: + m * s
    }
    const int t = static_cast<int>(threadIdx.x) & 3;
    const uint32_t a0 = quants(0, 0, t), a1 = quants(1, 0, t), a2 = quants(0, 1, t), a3 = quants(1, 1, t);
#pragma unroll
    for (int tile = 0; tile < Tiles; ++tile) {
      const uint2 b = v.b8(piece, tile);
      int c[4];
      mmaK32(c, a0, a1, a2, a3, b.x, b.y);
      addTerms<Tiles, T == QType::Q5_1>(acc, tile, c, dScale, dMin, v.actScales(piece, tile));
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

/// Which K units a block of the cluster takes, and how they group into chunks of 256 activation
/// elements: a K-quant unit is one chunk (its sub-blocks the pieces); 32-element units go 8 to
/// a chunk, piece i of chunk c being the block's unit 8c + i.
template <QType T>
struct SliceUnits {
  static constexpr int kPerChunk = Unit<T>::kElems == 256 ? 1 : kChunkPieces;
  int64_t slice, count, chunks;

  __device__ SliceUnits(int64_t units, int64_t z)
      : slice(z),
        count(z < units ? (units - 1 - z) / kMmqKSplit + 1 : 0),
        chunks((count + kPerChunk - 1) / kPerChunk) {}

  /// The global unit of this block's unit v.
  __device__ __forceinline__ int64_t unit(int64_t v) const { return slice + kMmqKSplit * v; }
  /// The Q8_1 block holding piece `piece` of chunk c, or -1 past the block's units.
  __device__ __forceinline__ int64_t actBlock(int64_t c, int piece) const {
    if constexpr (kPerChunk == 1) {
      return kChunkPieces * unit(c) + piece;
    } else {
      const int64_t v = kPerChunk * c + piece;
      return v < count ? unit(v) : -1;
    }
  }
};

/// Starts copying chunk c's quants and raw scales of the tile's tokens into stage buffer `buffer`
/// (tokens past m read the last row: their outputs are dropped).
template <QType T, int Tokens>
__device__ __forceinline__ void stageChunk(uint8_t* smem, int buffer, const MmqParams& p, const SliceUnits<T>& slice,
                                           int64_t c, int64_t tokenBase) {
  using Smem = MmqSmem<T, Tokens>;
  constexpr int kWordsPerToken = kChunkPieces * 8 + kChunkPieces;  // 8 pieces of 32 quants, 8 scale pairs
  uint8_t* quants = Smem::quants(smem, buffer);
  uint32_t* raw = Smem::raw(smem, buffer);
  for (int w = static_cast<int>(threadIdx.x); w < Tokens * kWordsPerToken; w += kMmqThreads) {
    const int token = w / kWordsPerToken, j = w % kWordsPerToken;
    const bool isQuant = j < kChunkPieces * 8;
    const int piece = isQuant ? j >> 3 : j - kChunkPieces * 8;
    const int64_t block = slice.actBlock(c, piece);
    if (block < 0) continue;
    const uint8_t* row = p.act + static_cast<int64_t>(min(tokenBase + token, p.m - 1)) * p.actStride;
    if (isQuant)
      copyAsync4(quants + token * stageQuantStride<T>() + 32 * piece + 4 * (j & 7), row + 32 * block + 4 * (j & 7));
    else
      copyAsync4(raw + piece * Tokens + token, row + p.k + 4 * block);
  }
}

/// Turns the raw {d, s} halves of stage buffer `buffer` into the float pairs the warps read.
template <QType T, int Tokens>
__device__ __forceinline__ void convertScales(uint8_t* smem, int buffer) {
  using Smem = MmqSmem<T, Tokens>;
  const uint32_t* raw = Smem::raw(smem, buffer);
  float2* scales = Smem::scales(smem);
  for (int i = static_cast<int>(threadIdx.x); i < kChunkPieces * Tokens; i += kMmqThreads) {
    const uint32_t ds = raw[i];
    scales[i] = make_float2(halfBitsToFloat(static_cast<uint16_t>(ds & 0xFFFFu)),
                            halfBitsToFloat(static_cast<uint16_t>(ds >> 16)));
  }
}

/// Blocks per SM the register budget is set for (170 registers a thread): the 8-tile
/// instantiations hold 32 accumulators besides two units of weights.
constexpr int kMmqMinBlocks = 3;

template <QType T, int Tiles, bool Prefetch>
__global__ void __cluster_dims__(1, 1, kMmqKSplit) __launch_bounds__(kMmqThreads, kMmqMinBlocks)
    mmqKernel(MmqParams p) {
  constexpr int kTokens = 8 * Tiles;
  using Smem = MmqSmem<T, kTokens>;
  __shared__ __align__(16) uint8_t smem[Smem::kBytes];
  namespace cg = cooperative_groups;
  const cg::cluster_group cluster = cg::this_cluster();
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int g = lane >> 2, t = lane & 3;
  const int64_t rowBase = static_cast<int64_t>(blockIdx.y) * kMmqRowsPerBlock;
  const int64_t warpRow = rowBase + 16 * warp;
  const int64_t tokenBase = static_cast<int64_t>(blockIdx.x) * kTokens;
  const uint8_t* const row[2] = {p.weights + min(warpRow + g, p.n - 1) * p.weightStride,
                                 p.weights + min(warpRow + g + 8, p.n - 1) * p.weightStride};
  const int64_t nb = p.k / quant::blockElems(T);
  const SliceUnits<T> slice(p.k / Unit<T>::kElems, static_cast<int64_t>(cluster.block_rank()));
  constexpr int kPerChunk = SliceUnits<T>::kPerChunk;

  Unit<T> current{};
  if (slice.count > 0) current.load(row, nb, slice.unit(0), t);
  detail::waitForPrerequisites();  // the activations are the previous kernel's output
  if (slice.chunks > 0) {
    stageChunk<T, kTokens>(smem, 0, p, slice, 0, tokenBase);
    waitCopies();
    __syncthreads();
    convertScales<T, kTokens>(smem, 0);
    __syncthreads();
  }
  float acc[Tiles][4];
#pragma unroll
  for (int j = 0; j < Tiles; ++j)
#pragma unroll
    for (int i = 0; i < 4; ++i) acc[j][i] = 0.0f;
  const int pairOffset = T == QType::Q6_K ? 4 * t : 8 * t;
  for (int64_t c = 0; c < slice.chunks; ++c) {
    const int buffer = static_cast<int>(c & 1);
    if (c + 1 < slice.chunks) stageChunk<T, kTokens>(smem, buffer ^ 1, p, slice, c + 1, tokenBase);
    const StageView<T, Tiles> view{Smem::quants(smem, buffer) + g * stageQuantStride<T>() + pairOffset,
                                   reinterpret_cast<const float*>(Smem::scales(smem) + 2 * t)};
#pragma unroll
    for (int piece = 0; piece < kPerChunk; ++piece) {
      const int64_t v = kPerChunk * c + piece;
      if (v >= slice.count) break;
      if constexpr (Prefetch) {
        Unit<T> next{};
        if (v + 1 < slice.count) next.load(row, nb, slice.unit(v + 1), t);
        current.multiply(view, piece, acc);
        current = next;
      } else {
        if (v != 0) current.load(row, nb, slice.unit(v), t);
        current.multiply(view, piece, acc);
      }
    }
    waitCopies();
    __syncthreads();  // the next chunk has landed; every warp is done with this one's scales
    if (c + 1 < slice.chunks) {
      convertScales<T, kTokens>(smem, buffer ^ 1);
      __syncthreads();
    }
  }
  detail::allowDependents();

  // The block's sums, [row][token] over the stage buffers (every warp is past its last read of
  // them), then each block adds one quarter of the rows over the cluster in block order.
  __syncthreads();
  float* sums = reinterpret_cast<float*>(smem);
#pragma unroll
  for (int j = 0; j < Tiles; ++j)
#pragma unroll
    for (int i = 0; i < 4; ++i)
      sums[(16 * warp + g + 8 * (i >> 1)) * Smem::kSumStride + 8 * j + 2 * t + (i & 1)] = acc[j][i];
  cluster.sync();
  const float* blockSums[kMmqKSplit];
#pragma unroll
  for (int z = 0; z < kMmqKSplit; ++z) blockSums[z] = cluster.map_shared_rank(sums, z);
  constexpr int kRowsPerRank = kMmqRowsPerBlock / kMmqKSplit;
  const int rank = static_cast<int>(cluster.block_rank());
  for (int o = static_cast<int>(threadIdx.x); o < kRowsPerRank * kTokens; o += kMmqThreads) {
    const int r = kRowsPerRank * rank + o % kRowsPerRank, token = o / kRowsPerRank;
    const int64_t outRow = rowBase + r, outToken = tokenBase + token;
    if (outRow >= p.n || outToken >= p.m) continue;
    const int at = r * Smem::kSumStride + token;
    float total = blockSums[0][at];
#pragma unroll
    for (int z = 1; z < kMmqKSplit; ++z) total = total + blockSums[z][at];
    p.out[outToken * p.n + outRow] = total;
  }
  cluster.sync();  // the other blocks' sums stay in place until every block has read them
}

template <QType T, bool Prefetch>
cudaError_t launchTiles(const MmqArgs& a, const MmqParams& p, cudaStream_t stream) {
  const int tile = a.tileTokens != 0 ? a.tileTokens : mmqTileTokens(a.m);
  const int64_t tiles = (a.m + tile - 1) / tile;
  const dim3 dims(static_cast<unsigned>(tiles), static_cast<unsigned>(mmqGrid(a.n, a.m).y), kMmqKSplit);
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
