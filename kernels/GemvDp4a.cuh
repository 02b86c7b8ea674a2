#pragma once
/// \file
/// The DP4A GEMV kernel template (not a public header; GemvQ4K.cu etc. instantiate it).
///
/// Block = kGemvKSplit warps x 32 lanes; with R row sets (GemvShape.h: 1 or 2) block b owns
/// weight rows 4Rb .. 4Rb + 4R - 1, and lane l works on rows 4Rb + l/8 + 4j (j < R) as lane
/// c = l%8 of each 256-element unit (see Dp4aMath.h for which elements lane c owns); warp w takes
/// units w, w+4, w+8, ... of the row, so the 4 warps split K (a row of a 32-element block type,
/// Q8_0/Q5_0/Q5_1/Q4_0, may end in a partial unit). Each lane loads its 16-byte weight chunks of several units before
/// computing any of them (kDepth), reuses each weight chunk for all M activation rows, and the activation chunks
/// (shared by the rows of a warp, L1-resident) are 16-byte loads from the row-planar Q8_1 layout.
/// Partial sums: xor-shuffles within the 8 lanes of a row, then the 4 warps through shared
/// memory, in the order quant::dotQ81 reproduces.

#include "kernels/CudaCommon.cuh"
#include "kernels/Gemv.h"
#include "kernels/GemvShape.h"
#include "kernels/KernelCatalog.h"
#include "quant/Dp4aMath.h"

#include <type_traits>

namespace reel::kernels::detail {

using quant::QType;

/// Streaming 16-byte load of weights (read once: no L1 allocation).
__device__ __forceinline__ uint4 loadWeight16(const uint8_t* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

/// Activation loads: plain (coherent) global loads, L1-cached for the rows of a warp that share
/// them. Not the read-only path (__ldg, ld.global.nc): with an early start the previous kernel
/// writes the activations while this grid is alive, which breaks .nc's contract (data read-only
/// for the grid's lifetime); and the compiler may hoist such loads above the wait. A test
/// (a late-writing predecessor) catches either.
template <typename T>
__device__ __forceinline__ T loadActivation(const uint8_t* p) {
  return *reinterpret_cast<const T*>(p);
}

/// 16 activation bytes at a 4-byte aligned p: one 16-byte load where p allows. Q8_1 activation
/// rows are k * 9/8 bytes apart, a multiple of 16 only for k a multiple of 128, which rows of the
/// 32-element block types (k a multiple of 32) need not be.
__device__ __forceinline__ uint4 loadActivation16(const uint8_t* p) {
  if ((reinterpret_cast<uintptr_t>(p) & 15u) == 0) return loadActivation<uint4>(p);
  return make_uint4(loadActivation<uint32_t>(p), loadActivation<uint32_t>(p + 4), loadActivation<uint32_t>(p + 8),
                    loadActivation<uint32_t>(p + 12));
}

/// Weight loads of the small fields (immutable: the read-only path is fine).
__device__ __forceinline__ uint32_t loadU32(const uint8_t* p) {
  return __ldg(reinterpret_cast<const uint32_t*>(p));
}
__device__ __forceinline__ uint16_t loadU16(const uint8_t* p) {
  return __ldg(reinterpret_cast<const uint16_t*>(p));
}

__device__ __forceinline__ int dot16(const uint4& w, const uint4& a) {
  return __dp4a(static_cast<int>(w.w), static_cast<int>(a.w),
                __dp4a(static_cast<int>(w.z), static_cast<int>(a.z),
                       __dp4a(static_cast<int>(w.y), static_cast<int>(a.y),
                              __dp4a(static_cast<int>(w.x), static_cast<int>(a.x), 0))));
}

/// The sum of a's 16 signed bytes (a DP4A against all-ones): what an offset-encoded format
/// subtracts offset times (Q6_K, Q5_0, Q4_0; see LaneOps<Q6_K>::quants).
__device__ __forceinline__ int byteSum16(const uint4& a) {
  return dot16(make_uint4(0x01010101u, 0x01010101u, 0x01010101u, 0x01010101u), a);
}

__device__ __forceinline__ uint4 lowNibbles(const uint4& v) {
  return {v.x & 0x0F0F0F0Fu, v.y & 0x0F0F0F0Fu, v.z & 0x0F0F0F0Fu, v.w & 0x0F0F0F0Fu};
}
__device__ __forceinline__ uint4 highNibbles(const uint4& v) {
  return {(v.x >> 4) & 0x0F0F0F0Fu, (v.y >> 4) & 0x0F0F0F0Fu, (v.z >> 4) & 0x0F0F0F0Fu, (v.w >> 4) & 0x0F0F0F0Fu};
}

/// The 6-bit scales and mins of Q4_K sub-blocks 2g and 2g+1 (one byte each, sub-block 2g in the
/// low byte), from the 12 scale bytes in words y, z, w of the block header. Which 16-bit halves
/// to combine depends only on g, a lane constant, so both layouts are computed and one selected:
/// no divergent branch in the unit loop (sub-blocks 0..3 keep their 6 bits in bytes 0..7;
/// 4..7 take 4 low bits from bytes 8..11 and 2 high bits from the top of bytes 0..7).
__device__ __forceinline__ void q4kScaleMinPairs(const uint4& head, int g, uint32_t& scales, uint32_t& mins) {
  const int shift = 16 * (g & 1);
  const uint32_t y = (head.y >> shift) & 0xFFFFu, z = (head.z >> shift) & 0xFFFFu, w = (head.w >> shift) & 0xFFFFu;
  const bool low = g < 2;
  scales = low ? y & 0x3F3Fu : (w & 0x0F0Fu) | ((y & 0xC0C0u) >> 2);
  mins = low ? z & 0x3F3Fu : ((w >> 4) & 0x0F0Fu) | ((z & 0xC0C0u) >> 2);
}

/// Per-format lane operations: Weights = what a lane loads of one unit of one weight row
/// (load(row, nb, u, c)); Act = what it loads of one activation row: unit u's quants at
/// row + 256 u + actQuantOffset(c) and its Q8_1 {d, s} words at row + k + 32 u + actScaleOffset(c)
/// (lane constants, so the unit loop adds only the unit's stride);
/// dot(weights, act, c) = the lane's float contribution.
template <QType T>
struct LaneOps;

template <>
struct LaneOps<QType::Q4_K> {
  static constexpr int kDepthM1 = 4;  ///< units in flight per warp at m = 1 (register budget: 64)
  static constexpr bool kPartialUnits = false;
  struct Weights {
    uint4 head, qs;
  };
  static __device__ __forceinline__ void load(Weights& w, const uint8_t* row, int, int u, int c) {
    const uint8_t* block = row + 144 * u;
    w.head = loadWeight16(block);
    w.qs = loadWeight16(block + 16 + 16 * c);
  }
  struct Act {
    uint4 lo, hi;
    uint2 ds;  ///< {d, s} of the two Q8_1 blocks
  };
  /// Lane c reads quants 64 (c/2) + 16 (c%2) of each unit (and 32 further), and the {d, s}
  /// words of the unit's Q8_1 blocks 2 (c/2) and 2 (c/2) + 1.
  static __device__ __forceinline__ int actQuantOffset(int c) { return 64 * (c >> 1) + 16 * (c & 1); }
  static __device__ __forceinline__ int actScaleOffset(int c) { return 8 * (c >> 1); }
  static __device__ __forceinline__ void loadAct(Act& a, const uint8_t* quants, const uint8_t* scales) {
    a.lo = loadActivation<uint4>(quants);
    a.hi = loadActivation<uint4>(quants + 32);
    a.ds = loadActivation<uint2>(scales);
  }
  static __device__ __forceinline__ float dot(const Weights& w, const Act& a, int c) {
    return dotQuants(w.head, lowNibbles(w.qs), highNibbles(w.qs), a, c);
  }
  /// The lane's contribution from its unsigned quants lo (sub-block 2g) and hi (2g + 1) and the
  /// block header (d, dmin, scales): shared with Q5_K, whose header is the same.
  static __device__ __forceinline__ float dotQuants(const uint4& head, const uint4& lo, const uint4& hi, const Act& a,
                                                    int c) {
    const int g = c >> 1, h = c & 1;
    uint32_t scales, mins;
    q4kScaleMinPairs(head, g, scales, mins);
    const uint32_t dsMin = h == 0 ? a.ds.x : a.ds.y;
    return quant::q4kLaneContrib(
        halfBitsToFloat(static_cast<uint16_t>(head.x)), halfBitsToFloat(static_cast<uint16_t>(head.x >> 16)),
        static_cast<int>(scales & 0xFFu), dot16(lo, a.lo), halfBitsToFloat(static_cast<uint16_t>(a.ds.x)),
        static_cast<int>(scales >> 8), dot16(hi, a.hi), halfBitsToFloat(static_cast<uint16_t>(a.ds.y)),
        static_cast<int>((mins >> (8 * h)) & 0xFFu), halfBitsToFloat(static_cast<uint16_t>(dsMin >> 16)));
  }
};

/// Q5_K: Q4_K's lane split, header and activation side; each lane also loads the 16 qh bytes that
/// hold the 5th bits of its quants (bit 2g of each byte for the low nibbles, 2g + 1 for the high
/// ones).
template <>
struct LaneOps<QType::Q5_K> : LaneOps<QType::Q4_K> {
  static constexpr int kDepthM1 = 2;  ///< 48 bytes of weights per unit: Q4_K's depth would pass 64 registers
  struct Weights {
    uint4 head, qh, qs;
  };
  static __device__ __forceinline__ void load(Weights& w, const uint8_t* row, int, int u, int c) {
    const uint8_t* block = row + 176 * u;
    w.head = loadWeight16(block);
    w.qh = loadWeight16(block + 16 + 16 * (c & 1));
    w.qs = loadWeight16(block + 48 + 16 * c);
  }
  /// Bit `shift` of each byte of qh, moved to bit 4.
  static __device__ __forceinline__ uint4 fifthBits(const uint4& qh, int shift) {
    return {((qh.x >> shift) & 0x01010101u) << 4, ((qh.y >> shift) & 0x01010101u) << 4,
            ((qh.z >> shift) & 0x01010101u) << 4, ((qh.w >> shift) & 0x01010101u) << 4};
  }
  static __device__ __forceinline__ uint4 orBits(const uint4& a, const uint4& b) {
    return {a.x | b.x, a.y | b.y, a.z | b.z, a.w | b.w};
  }
  static __device__ __forceinline__ float dot(const Weights& w, const Act& a, int c) {
    const int g = c >> 1;
    return dotQuants(w.head, orBits(lowNibbles(w.qs), fifthBits(w.qh, 2 * g)),
                     orBits(highNibbles(w.qs), fifthBits(w.qh, 2 * g + 1)), a, c);
  }
};

template <>
struct LaneOps<QType::Q6_K> {
  static constexpr int kDepthM1 = 2;
  static constexpr bool kPartialUnits = false;
  struct Weights {
    uint4 ql, qh;
    int scA, scB;
    uint16_t d;
  };
  static __device__ __forceinline__ void load(Weights& w, const uint8_t* row, int nb, int u, int c) {
    w.ql = loadWeight16(row + 128 * u + 16 * c);
    w.qh = loadWeight16(row + 128 * nb + 64 * u + 32 * (c >> 2) + 16 * (c & 1));
    const uint8_t* scales = row + 192 * nb + 16 * u + 8 * (c >> 2) + (c & 3);
    w.scA = static_cast<int8_t>(__ldg(scales));
    w.scB = static_cast<int8_t>(__ldg(scales + 4));
    w.d = loadU16(row + 208 * nb + 2 * u);
  }
  /// The unsigned 6-bit quants (0..63) of 4 weights; the -32 offset is applied to the dot
  /// product instead (sum (q - 32) a = sum q a - 32 sum a, exact in int32), cheaper than a
  /// per-byte subtraction, which has no SIMD instruction here.
  static __device__ __forceinline__ uint32_t quants(uint32_t low4, uint32_t qh, int shift) {
    return low4 | (((qh >> shift) & 0x03030303u) << 4);
  }
  static __device__ __forceinline__ int offsetDot(const uint4& q, const uint4& a) {
    return dot16(q, a) - 32 * byteSum16(a);
  }
  struct Act {
    uint4 a, b;
    uint16_t dA, dB;
  };
  /// Lane c reads quants 128 (c/4) + 16 (c%4) of each unit (and 64 further), in Q8_1 blocks
  /// 4 (c/4) + (c%4)/2 and that + 2.
  static __device__ __forceinline__ int actQuantOffset(int c) { return 128 * (c >> 2) + 16 * (c & 3); }
  static __device__ __forceinline__ int actScaleOffset(int c) { return 4 * (4 * (c >> 2) + ((c & 3) >> 1)); }
  static __device__ __forceinline__ void loadAct(Act& x, const uint8_t* quants, const uint8_t* scales) {
    x.a = loadActivation<uint4>(quants);
    x.b = loadActivation<uint4>(quants + 64);
    x.dA = loadActivation<uint16_t>(scales);
    x.dB = loadActivation<uint16_t>(scales + 8);
  }
  static __device__ __forceinline__ float dot(const Weights& w, const Act& x, int c) {
    const int hs = 2 * ((c & 3) >> 1);
    const uint4 qA = {quants(w.ql.x & 0x0F0F0F0Fu, w.qh.x, hs), quants(w.ql.y & 0x0F0F0F0Fu, w.qh.y, hs),
                      quants(w.ql.z & 0x0F0F0F0Fu, w.qh.z, hs), quants(w.ql.w & 0x0F0F0F0Fu, w.qh.w, hs)};
    const uint4 qB = {
        quants((w.ql.x >> 4) & 0x0F0F0F0Fu, w.qh.x, hs + 4), quants((w.ql.y >> 4) & 0x0F0F0F0Fu, w.qh.y, hs + 4),
        quants((w.ql.z >> 4) & 0x0F0F0F0Fu, w.qh.z, hs + 4), quants((w.ql.w >> 4) & 0x0F0F0F0Fu, w.qh.w, hs + 4)};
    return quant::q6kLaneContrib(halfBitsToFloat(w.d), w.scA, offsetDot(qA, x.a), halfBitsToFloat(x.dA), w.scB,
                                 offsetDot(qB, x.b), halfBitsToFloat(x.dB));
  }
};

template <>
struct LaneOps<QType::Q8_0> {
  static constexpr int kDepthM1 = 4;
  static constexpr bool kPartialUnits = true;  ///< 32-element blocks: k need only be a multiple of 32
  struct Weights {
    uint4 q0, q1;
    uint16_t d;
  };
  static __device__ __forceinline__ void load(Weights& w, const uint8_t* row, int nb, int u, int c) {
    const int b = 8 * u + c;
    w.q0 = loadWeight16(row + 32 * b);
    w.q1 = loadWeight16(row + 32 * b + 16);
    w.d = loadU16(row + 32 * nb + 2 * b);
  }
  struct Act {
    uint4 a0, a1;
    uint16_t d;
  };
  /// Lane c reads Q8_1 block c of each unit.
  static __device__ __forceinline__ int actQuantOffset(int c) { return 32 * c; }
  static __device__ __forceinline__ int actScaleOffset(int c) { return 4 * c; }
  static __device__ __forceinline__ void loadAct(Act& x, const uint8_t* quants, const uint8_t* scales) {
    x.a0 = loadActivation16(quants);
    x.a1 = loadActivation16(quants + 16);
    x.d = loadActivation<uint16_t>(scales);
  }
  static __device__ __forceinline__ float dot(const Weights& w, const Act& x, int) {
    const int sumi = dot16(w.q1, x.a1) + dot16(w.q0, x.a0);
    return quant::q32LaneContrib(halfBitsToFloat(w.d), halfBitsToFloat(x.d), sumi);
  }
};

/// Q5_0: Q8_0's activation side (Act, loadAct, offsets, depth), its own weights.
template <>
struct LaneOps<QType::Q5_0> : LaneOps<QType::Q8_0> {
  struct Weights {
    uint4 qs;
    uint32_t qh;
    uint16_t d;
  };
  static __device__ __forceinline__ void load(Weights& w, const uint8_t* row, int nb, int u, int c) {
    const int b = 8 * u + c;
    w.qs = loadWeight16(row + 16 * b);
    w.qh = loadU32(row + 16 * nb + 4 * b);
    w.d = loadU16(row + 20 * nb + 2 * b);
  }
  /// Moves bits 0..3 of x to bit 4 of bytes 0..3.
  static __device__ __forceinline__ uint32_t spreadHighBits(uint32_t x) {
    return ((x & 1u) << 4) | ((x & 2u) << 11) | ((x & 4u) << 18) | ((x & 8u) << 25);
  }
  /// Unsigned 5-bit quants (0..31); the -16 offset is applied to the dot product (as Q6_K's).
  static __device__ __forceinline__ uint32_t quants(uint32_t low4, uint32_t qh, int first) {
    return low4 | spreadHighBits((qh >> first) & 0xFu);
  }
  /// The int dot of a block's 32 unsigned quants (low nibbles of qs: elements 0..15, high
  /// nibbles: 16..31; their 5th bits in qh) with the activation quants (shared with Q5_1).
  static __device__ __forceinline__ int unsignedDot(const uint4& qs, uint32_t qh, const uint4& a0, const uint4& a1) {
    const uint4 lo = {quants(qs.x & 0x0F0F0F0Fu, qh, 0), quants(qs.y & 0x0F0F0F0Fu, qh, 4),
                      quants(qs.z & 0x0F0F0F0Fu, qh, 8), quants(qs.w & 0x0F0F0F0Fu, qh, 12)};
    const uint4 hi = {quants((qs.x >> 4) & 0x0F0F0F0Fu, qh, 16), quants((qs.y >> 4) & 0x0F0F0F0Fu, qh, 20),
                      quants((qs.z >> 4) & 0x0F0F0F0Fu, qh, 24), quants((qs.w >> 4) & 0x0F0F0F0Fu, qh, 28)};
    return dot16(hi, a1) + dot16(lo, a0);
  }
  static __device__ __forceinline__ float dot(const Weights& w, const Act& x, int) {
    const int sumi = unsignedDot(w.qs, w.qh, x.a0, x.a1) - 16 * (byteSum16(x.a1) + byteSum16(x.a0));
    return quant::q32LaneContrib(halfBitsToFloat(w.d), halfBitsToFloat(x.d), sumi);
  }
};

/// Q5_1: Q5_0's quants with a scale and a min (row-planar: qs [nb][16], qh [nb][4], {d, m}
/// [nb]); Q8_0's activation quants plus each Q8_1 block's s, which carries the min term.
template <>
struct LaneOps<QType::Q5_1> : LaneOps<QType::Q5_0> {
  struct Weights {
    uint4 qs;
    uint32_t qh;
    uint32_t dm;  ///< d (low half) and m (high half), f16
  };
  static __device__ __forceinline__ void load(Weights& w, const uint8_t* row, int nb, int u, int c) {
    const int b = 8 * u + c;
    w.qs = loadWeight16(row + 16 * b);
    w.qh = loadU32(row + 16 * nb + 4 * b);
    w.dm = loadU32(row + 20 * nb + 4 * b);
  }
  struct Act {
    uint4 a0, a1;
    uint32_t ds;  ///< the Q8_1 block's d (low half) and s (high half), f16
  };
  static __device__ __forceinline__ void loadAct(Act& x, const uint8_t* quants, const uint8_t* scales) {
    x.a0 = loadActivation16(quants);
    x.a1 = loadActivation16(quants + 16);
    x.ds = loadActivation<uint32_t>(scales);
  }
  static __device__ __forceinline__ float dot(const Weights& w, const Act& x, int) {
    return quant::q51LaneContrib(
        halfBitsToFloat(static_cast<uint16_t>(w.dm)), halfBitsToFloat(static_cast<uint16_t>(w.dm >> 16)),
        halfBitsToFloat(static_cast<uint16_t>(x.ds)), halfBitsToFloat(static_cast<uint16_t>(x.ds >> 16)),
        unsignedDot(w.qs, w.qh, x.a0, x.a1));
  }
};

/// Q4_0: Q5_0 without the 5th bits (row-planar: qs [nb][16], d [nb]); Q8_0's activation side.
template <>
struct LaneOps<QType::Q4_0> : LaneOps<QType::Q8_0> {
  struct Weights {
    uint4 qs;
    uint16_t d;
  };
  static __device__ __forceinline__ void load(Weights& w, const uint8_t* row, int nb, int u, int c) {
    const int b = 8 * u + c;
    w.qs = loadWeight16(row + 16 * b);
    w.d = loadU16(row + 16 * nb + 2 * b);
  }
  /// Unsigned 4-bit quants (0..15); the -8 offset is applied to the dot product (as Q5_0's).
  static __device__ __forceinline__ float dot(const Weights& w, const Act& x, int) {
    const int sumi =
        dot16(highNibbles(w.qs), x.a1) + dot16(lowNibbles(w.qs), x.a0) - 8 * (byteSum16(x.a1) + byteSum16(x.a0));
    return quant::q32LaneContrib(halfBitsToFloat(w.d), halfBitsToFloat(x.d), sumi);
  }
};

/// Kernel parameters. NW == 2: weights[0] and weights[1] are two matrices of one shape (gate
/// and up). NW == 1: up to kGemvMaxStack matrices of one type and k stacked along the rows
/// (fuse-qkv's q, k, v): launch row r belongs to matrix s with stackEnd[s-1] <= r < stackEnd[s]
/// and writes out[s], which has stackEnd[s] - stackEnd[s-1] columns; unused entries hold n.
struct GemvKernelParams {
  const uint8_t* weights[kGemvMaxStack];
  const uint8_t* act;
  float* out[kGemvMaxStack];
  int stackEnd[kGemvMaxStack];
  int n, k, units, nb;
  int tailBlocks;        ///< 32-element blocks of a last partial unit (k % 256 / 32; 32-element types only)
  int64_t weightStride;  ///< bytes between weight rows
  int64_t actStride;     ///< bytes between activation rows
  int swiglu;            ///< NW == 2: write silu(out0) * out1 into out[0]
  /// Mixed stacks (gemvDp4aMixedKernel): rows from lastFrom on are the last matrix's, of the
  /// second type, with its own row stride and blocks per row.
  int lastFrom, lastNb;
  int64_t lastWeightStride;
};

/// Element s (0..2) of a kernel-parameter array, by selects: a dynamic index into the
/// parameters would copy them to local memory, which slows decode (docs/performance-log.md).
template <typename T>
__device__ __forceinline__ T pick(const T (&v)[kGemvMaxStack], int s) {
  return s == 0 ? v[0] : (s == 1 ? v[1] : v[2]);
}

/// The stacked matrix holding launch row `row`, the row's index within it and its row count.
__device__ __forceinline__ int stackedMatrix(const GemvKernelParams& p, int row, int& local, int& rowsOfMatrix) {
  const int s = row < p.stackEnd[0] ? 0 : (row < p.stackEnd[1] ? 1 : 2);
  const int start = s == 0 ? 0 : (s == 1 ? p.stackEnd[0] : p.stackEnd[1]);
  local = row - start;
  rowsOfMatrix = pick(p.stackEnd, s) - start;
  return s;
}

/// One block's rows: NW matrices (gate, up) times RS row sets are the weight rows a lane
/// streams, each with its own accumulators; row set j of the lane is block row rowInBlock + 4 j.
/// The block's matrices are all of type T, with rows weightStride bytes apart and nb blocks each.
template <QType T, int M, int NW, int RS>
__device__ __forceinline__ void gemvBlock(const GemvKernelParams& p, int64_t weightStride, int nb) {
  using Ops = LaneOps<T>;
  constexpr int kWarps = quant::kGemvKSplit, kRows = kGemvRowsPerWarp * RS;
  const int warp = static_cast<int>(threadIdx.x) >> 5, lane = static_cast<int>(threadIdx.x) & 31;
  const int c = lane & 7, rowInBlock = lane >> 3;
  const int firstRow = static_cast<int>(blockIdx.x) * kRows;
  const uint8_t* rows[NW][RS];
#pragma unroll
  for (int j = 0; j < RS; ++j) {
    const int row = min(firstRow + rowInBlock + kGemvRowsPerWarp * j, p.n - 1);
    if constexpr (NW == 1) {
      int local = 0, rowsOfMatrix = 0;
      const int s = stackedMatrix(p, row, local, rowsOfMatrix);
      rows[0][j] = pick(p.weights, s) + static_cast<int64_t>(local) * weightStride;
    } else {
#pragma unroll
      for (int w = 0; w < NW; ++w) rows[w][j] = p.weights[w] + static_cast<int64_t>(row) * weightStride;
    }
  }

  float acc[NW][RS][M];
#pragma unroll
  for (int w = 0; w < NW; ++w) {
#pragma unroll
    for (int j = 0; j < RS; ++j) {
#pragma unroll
      for (int i = 0; i < M; ++i) acc[w][j][i] = 0.0f;
    }
  }
  // Batches of kDepth units per warp: all their weight loads are issued before any is used
  // (for k = 4096 at m <= 2, a warp's whole slice of the row is in flight at once). Full batches
  // run without per-unit bounds checks; a last partial batch, if any, with them.
  // The depth budget is per lane, shared by its streams: twice the depth at two row sets
  // decodes slower (docs/performance-log.md).
  constexpr int kStreams = NW * RS, kDepthAll = M == 1 ? Ops::kDepthM1 : 2;
  constexpr int kDepth = kDepthAll / kStreams > 0 ? kDepthAll / kStreams : 1;
  constexpr int kBatch = kWarps * kDepth;
  const uint8_t* actQuants = p.act + Ops::actQuantOffset(c);
  const uint8_t* actScales = p.act + p.k + Ops::actScaleOffset(c);
  bool waited = false;
  auto runBatch = [&](int base, int validUnits) {
    typename Ops::Weights wts[kDepth][NW][RS];
#pragma unroll
    for (int d = 0; d < kDepth; ++d) {
      if (d < validUnits) {
#pragma unroll
        for (int w = 0; w < NW; ++w) {
#pragma unroll
          for (int j = 0; j < RS; ++j) Ops::load(wts[d][w][j], rows[w][j], nb, base + d * kWarps, c);
        }
      }
    }
    if (!waited) {  // weights are immutable: their first loads may precede the previous kernel's end
      waitForPrerequisites();
      waited = true;
    }
#pragma unroll
    for (int d = 0; d < kDepth; ++d) {
      if (d < validUnits) {
        const int u = base + d * kWarps;
#pragma unroll
        for (int i = 0; i < M; ++i) {
          typename Ops::Act a;  // one activation chunk serves every row the lane streams
          Ops::loadAct(a, actQuants + i * p.actStride + 256 * u, actScales + i * p.actStride + 32 * u);
#pragma unroll
          for (int w = 0; w < NW; ++w) {
#pragma unroll
            for (int j = 0; j < RS; ++j) acc[w][j][i] += Ops::dot(wts[d][w][j], a, c);
          }
        }
      }
    }
  };
  int base = warp;
  for (; base + (kDepth - 1) * kWarps < p.units; base += kBatch) runBatch(base, kDepth);
  if (base < p.units) runBatch(base, (p.units - base + kWarps - 1) / kWarps);
  // A last partial unit (32-element blocks, k % 256 != 0, e.g. Qwen2.5-0.5B's 896): the warp
  // whose turn it is adds it after its full units, lanes past the row's last block adding 0,
  // as quant::dotQ81 does.
  if constexpr (Ops::kPartialUnits) {
    if (p.tailBlocks > 0 && warp == p.units % kWarps) {
      const bool inRow = c < p.tailBlocks;
      typename Ops::Weights wts[NW][RS] = {};
#pragma unroll
      for (int w = 0; w < NW; ++w) {
#pragma unroll
        for (int j = 0; j < RS; ++j) {
          if (inRow) Ops::load(wts[w][j], rows[w][j], nb, p.units, c);
        }
      }
      waitForPrerequisites();
#pragma unroll
      for (int i = 0; i < M; ++i) {
        typename Ops::Act a = {};
        if (inRow)
          Ops::loadAct(a, actQuants + i * p.actStride + 256 * p.units, actScales + i * p.actStride + 32 * p.units);
#pragma unroll
        for (int w = 0; w < NW; ++w) {
#pragma unroll
          for (int j = 0; j < RS; ++j) acc[w][j][i] += inRow ? Ops::dot(wts[w][j], a, c) : 0.0f;
        }
      }
    }
  }

  waitForPrerequisites();  // warps without units; before any write
  allowDependents();
  __shared__ float partial[kWarps][NW][M][kRows];
#pragma unroll
  for (int w = 0; w < NW; ++w) {
#pragma unroll
    for (int j = 0; j < RS; ++j) {
#pragma unroll
      for (int i = 0; i < M; ++i) {
        float v = acc[w][j][i];
        v += __shfl_xor_sync(0xffffffffu, v, 1);
        v += __shfl_xor_sync(0xffffffffu, v, 2);
        v += __shfl_xor_sync(0xffffffffu, v, 4);
        if (c == 0) partial[warp][w][i][rowInBlock + kGemvRowsPerWarp * j] = v;
      }
    }
  }
  __syncthreads();
  for (int t = static_cast<int>(threadIdx.x); t < M * kRows; t += static_cast<int>(blockDim.x)) {
    const int i = t / kRows, r = t % kRows;
    const int outRow = firstRow + r;
    if (outRow >= p.n) continue;
    float total[NW];
#pragma unroll
    for (int w = 0; w < NW; ++w) {
      total[w] = partial[0][w][i][r];
#pragma unroll
      for (int x = 1; x < kWarps; ++x) total[w] += partial[x][w][i][r];
    }
    const int64_t o = static_cast<int64_t>(i) * p.n + outRow;
    if constexpr (NW == 1) {
      int local = 0, rowsOfMatrix = 0;
      const int s = stackedMatrix(p, outRow, local, rowsOfMatrix);
      pick(p.out, s)[static_cast<int64_t>(i) * rowsOfMatrix + local] = total[0];
    } else if (p.swiglu) {
      p.out[0][o] = siluMul(total[0], total[1]);
    } else {
      p.out[0][o] = total[0];
      p.out[1][o] = total[1];
    }
  }
}

template <QType T, int M, int NW, int RS>
__global__ void __launch_bounds__(128, M == 1 && RS == 1 ? 8 : 4) gemvDp4aKernel(const GemvKernelParams p) {
  gemvBlock<T, M, NW, RS>(p, p.weightStride, p.nb);
}

/// Stacked matrices whose last one has another type: Q4_K_M's q and k (Q4_K) with a Q6_K v in
/// one launch, not two. Each block is of one type: the catalog keeps lastFrom a multiple of 8
/// rows, and a block owns at most 8.
template <QType T, QType TLast, int M, int RS>
__global__ void __launch_bounds__(128, M == 1 && RS == 1 ? 8 : 4) gemvDp4aMixedKernel(const GemvKernelParams p) {
  if (static_cast<int>(blockIdx.x) * kGemvRowsPerWarp * RS >= p.lastFrom)
    gemvBlock<TLast, M, 1, RS>(p, p.lastWeightStride, p.lastNb);
  else
    gemvBlock<T, M, 1, RS>(p, p.weightStride, p.nb);
}

/// One launch of the typed kernels: parameters, m, matrices per row and row sets per lane.
struct GemvLaunch {
  GemvKernelParams p;
  int m, nw, rowSets;
  bool earlyStart;
};

/// ceil(n / rows per block) blocks.
inline dim3 gemvGrid(const GemvLaunch& l) {
  return dim3((l.p.n + kGemvRowsPerWarp * l.rowSets - 1) / (kGemvRowsPerWarp * l.rowSets));
}

/// Launches gemvDp4aKernel<T, M, NW, rowSets>.
template <QType T, int M, int NW>
cudaError_t launchGemvRowSets(const GemvLaunch& l, cudaStream_t stream) {
  const dim3 grid = gemvGrid(l), block(32 * quant::kGemvKSplit);
  switch (l.rowSets) {
    case 1:
      return launchKernelEx(gemvDp4aKernel<T, M, NW, 1>, grid, block, stream, l.earlyStart, l.p);
    case 2:
      return launchKernelEx(gemvDp4aKernel<T, M, NW, 2>, grid, block, stream, l.earlyStart, l.p);
    default:
      return cudaErrorInvalidValue;
  }
}

/// f(std::integral_constant<int, M>{}) for the runtime m (1..kGemvMaxM): the M a kernel is
/// instantiated for.
template <typename F>
cudaError_t withM(int m, const F& f) {
  switch (m) {
    case 1:
      return f(std::integral_constant<int, 1>{});
    case 2:
      return f(std::integral_constant<int, 2>{});
    case 3:
      return f(std::integral_constant<int, 3>{});
    case 4:
      return f(std::integral_constant<int, 4>{});
    case 5:
      return f(std::integral_constant<int, 5>{});
    case 6:
      return f(std::integral_constant<int, 6>{});
    case 7:
      return f(std::integral_constant<int, 7>{});
    case 8:
      return f(std::integral_constant<int, 8>{});
    default:
      return cudaErrorInvalidValue;
  }
}

/// Launches the instantiation for (T, m, nw, row sets).
template <QType T>
cudaError_t launchGemvTyped(const GemvLaunch& l, cudaStream_t stream) {
  return withM(l.m, [&](auto m) {
    return l.nw == 1 ? launchGemvRowSets<T, m.value, 1>(l, stream) : launchGemvRowSets<T, m.value, 2>(l, stream);
  });
}

/// Launches gemvDp4aMixedKernel<T, TLast, m, rowSets>.
template <QType T, QType TLast>
cudaError_t launchGemvMixed(const GemvLaunch& l, cudaStream_t stream) {
  const dim3 grid = gemvGrid(l), block(32 * quant::kGemvKSplit);
  if (l.nw != 1 || (l.rowSets != 1 && l.rowSets != 2)) return cudaErrorInvalidValue;
  return withM(l.m, [&](auto m) {
    return l.rowSets == 1
               ? launchKernelEx(gemvDp4aMixedKernel<T, TLast, m.value, 1>, grid, block, stream, l.earlyStart, l.p)
               : launchKernelEx(gemvDp4aMixedKernel<T, TLast, m.value, 2>, grid, block, stream, l.earlyStart, l.p);
  });
}

}  // namespace reel::kernels::detail
