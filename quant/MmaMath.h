#pragma once
/// \file
/// The float half of the tensor-core matmul on quantized weights (`mmq_<qtype>`), shared by the
/// CUDA kernel and the CPU reference (quant::dotQ81Mma) so both evaluate the same expressions.
/// The integer half, a dot product of int8 quants over one scale group (a 32-element block, a
/// Q6_K 16-element group), is exact on both sides.
///
/// Per output, each scale group adds one term in increasing element order within the units a
/// warp owns (MmqShape.h), and the kMmqKSplit warps' sums are added in order; Mmq.cu is built
/// with --fmad=false and QuantRef.cpp with -ffp-contract=off, so the sums agree bit for bit.

#if defined(__CUDACC__)
#define REEL_MMA_HD __host__ __device__ __forceinline__
#else
#define REEL_MMA_HD inline
#endif

namespace reel::quant {

/// A group with a scale only (Q8_0: dScale = d; Q6_K: d * scale of the 16-element group):
/// dScale * (d8 * sumi), d8 the Q8_1 scale of the activation block.
REEL_MMA_HD float mmaScaledTerm(float dScale, float d8, int sumi) {
  return dScale * (d8 * static_cast<float>(sumi));
}

/// A Q4_K sub-block: dScale = d * scale, dMin = dmin * min (6-bit scale and min), s8 the Q8_1
/// block's s (d8 * sum of its quants): the weights are dScale * q - dMin.
REEL_MMA_HD float mmaScaleMinTerm(float dScale, float dMin, float d8, float s8, int sumi) {
  return dScale * (d8 * static_cast<float>(sumi)) - dMin * s8;
}

}  // namespace reel::quant
