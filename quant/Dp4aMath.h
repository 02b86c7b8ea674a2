#pragma once
/// \file
/// The float half of the DP4A GEMV arithmetic, shared verbatim by the CUDA kernels and the
/// CPU reference (QuantRef's dotQ81), so that both evaluate the same expressions in the
/// same order. The integer half (sums of int8 products) is exact on both sides.
///
/// Work split of one weight row: the row is cut into units of 256 elements; 8 lanes share
/// a unit, lane c (0..7) owns a fixed set of 32 elements of it:
///  * Q4_K: qs bytes [16c, 16c+16) of the super-block: the low nibbles are elements
///    64(c/2) + 16(c%2) + [0,16) of sub-block 2(c/2), the high nibbles the same offsets +32
///    of sub-block 2(c/2)+1. Lane c also applies the min of sub-block 2(c/2) + c%2.
///  * Q5_K: as Q4_K, each quant's 5th bit from qh bytes [16(c%2), 16(c%2)+16): bit 2(c/2) for
///    the low nibbles, bit 2(c/2)+1 for the high ones.
///  * Q6_K: ql bytes 64(c/4) + 16(c%4) + [0,16): low nibbles are elements 128(c/4) + 16(c%4)
///    + [0,16), high nibbles those + 64; each group of 16 is one scale sub-block.
///  * Q8_0, Q5_0, Q5_1, Q4_0: block 8u + c (32 elements).
/// Lane sums run over the units of the row assigned to its warp (unit u -> warp u % kGemvKSplit,
/// in increasing u), then a butterfly over the 8 lanes (xor 1, 2, 4), then warps 0..3 in order.

#include <cstdint>

#if defined(__CUDACC__)
#define REEL_HD __host__ __device__ __forceinline__
#else
#define REEL_HD inline
#endif

namespace reel::quant {

/// Q4_K and Q5_K lane: sumiLo/sumiHi are the int dot products of the 16 low/high nibbles with the
/// activations, scLo/scHi the 6-bit scales of their sub-blocks, d8Lo/d8Hi the Q8_1 scales of
/// their activation blocks; minQ is the 6-bit min of the lane's min sub-block, s8Min the Q8_1
/// s (d*sum q) of that sub-block's activation block.
REEL_HD float q4kLaneContrib(float d, float dmin, int scLo, int sumiLo, float d8Lo, int scHi, int sumiHi, float d8Hi,
                             int minQ, float s8Min) {
  const float accD = d8Lo * static_cast<float>(scLo * sumiLo) + d8Hi * static_cast<float>(scHi * sumiHi);
  const float accM = static_cast<float>(minQ) * s8Min;
  return d * accD - dmin * accM;
}

/// Q6_K lane: two groups of 16 (signed quants q-32), each with its int8 scale and the Q8_1 scale
/// of the activation block it falls in.
REEL_HD float q6kLaneContrib(float d, int scA, int sumiA, float d8A, int scB, int sumiB, float d8B) {
  return d * (d8A * static_cast<float>(scA * sumiA) + d8B * static_cast<float>(scB * sumiB));
}

/// Q8_0 / Q5_0 / Q4_0 lane: one 32-block of signed quants (Q5_0: q-16, Q4_0: q-8) against one
/// Q8_1 block.
REEL_HD float q32LaneContrib(float dWeight, float d8, int sumi) {
  return (dWeight * d8) * static_cast<float>(sumi);
}

/// Q5_1 lane: one 32-block of unsigned quants (0..31) with scale dWeight and min mWeight against
/// one Q8_1 block: d_w d_a sum(q_w q_a) + m_w s_a, where s8 = d_a sum(q_a) is the Q8_1 block's s
/// (as ggml's vec_dot_q5_1_q8_1).
REEL_HD float q51LaneContrib(float dWeight, float mWeight, float d8, float s8, int sumi) {
  return (dWeight * d8) * static_cast<float>(sumi) + mWeight * s8;
}

/// Butterfly sum over the 8 lanes of a unit as the kernels' xor-shuffles compute it.
REEL_HD float laneTreeSum8(const float* v) {
  return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

}  // namespace reel::quant
