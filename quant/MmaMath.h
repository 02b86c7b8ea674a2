#pragma once
/// \file
/// The float half of the tensor-core matmul on quantized weights (`mmq_<qtype>`), shared by the
/// CUDA kernel and the CPU reference (quant::dotQ81Mma) so both evaluate the same expressions.
/// The integer half, a dot product of int8 quants over one scale group (a 32-element block, a
/// Q6_K 16-element group), is exact on both sides.
///
/// Per output, each scale group adds its term in increasing element order within the units a
/// warp owns (MmqShape.h), and the kMmqKSplit warps' sums are added in order. The terms fold into
/// the sum with explicit fused multiply-adds (one rounding each, the same on both sides); Mmq.cu
/// is built with --fmad=false and QuantRef.cpp with -ffp-contract=off, so nothing else is
/// contracted and the sums agree bit for bit.

#if defined(__CUDACC__)
#define REEL_MMA_HD __host__ __device__ __forceinline__
#else
#define REEL_MMA_HD inline
#endif

#include <cmath>

namespace reel::quant {

/// acc plus a group with a scale only (Q8_0: dScale = d; Q6_K: d * the 16-element group's scale):
/// fma(dScale, d8 * sumi, acc), d8 the Q8_1 scale of the activation block.
REEL_MMA_HD float mmaAddScaled(float acc, float dScale, float d8, int sumi) {
  return fmaf(dScale, d8 * static_cast<float>(sumi), acc);
}

/// acc plus a sub-block with a min (Q4_K, Q5_K: dScale = d * scale, dMin = dmin * min; Q5_1:
/// dScale = d, dMin = -m): the weights are dScale * q - dMin, and s8 is the Q8_1 block's s (d8
/// times the sum of its quants): fma(-dMin, s8, fma(dScale, d8 * sumi, acc)).
REEL_MMA_HD float mmaAddScaleMin(float acc, float dScale, float dMin, float d8, float s8, int sumi) {
  return fmaf(-dMin, s8, fmaf(dScale, d8 * static_cast<float>(sumi), acc));
}

}  // namespace reel::quant
