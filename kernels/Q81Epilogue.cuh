#pragma once
/// \file
/// Writing Q8_1 blocks from registers: the epilogue shared by the activation quantizer and
/// the kernels that write their rows as Q8_1 directly (rms_norm_q8_1, swiglu_q8_1, ...).
/// Row-planar layout (quant::q81BlocksToPlanar): a row of k values is k int8 quants, then
/// k/32 words {f16 d, f16 d * sum(q)}. Bit-identical to quant::quantizeQ81.

#include "kernels/CudaCommon.cuh"

namespace reel::kernels::detail {

/// Quantizes one Q8_1 block of 32 values held by 32 / kVals consecutive lanes (kVals each, in
/// element order; the group starts at a lane that is a multiple of 32 / kVals) and stores it:
/// this lane's quants at rowOut[col..col + kVals), the block's {d, s} word by the group's
/// first lane. Every lane of the warp must call it (shuffles over the full warp); lanes of
/// groups past the row's end pass inRange = false and store nothing.
template <int kVals>
__device__ __forceinline__ void storeQ81(const float (&v)[kVals], uint8_t* rowOut, int k, int col,
                                         bool inRange = true) {
  static_assert(kVals == 1 || kVals == 2 || kVals == 4 || kVals == 8, "a lane holds 1, 2, 4 or 8 values");
  constexpr int kLanes = 32 / kVals;
  float amax = 0.0f;
#pragma unroll
  for (int i = 0; i < kVals; ++i) amax = fmaxf(amax, fabsf(v[i]));
#pragma unroll
  for (int offset = 1; offset < kLanes; offset <<= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, offset));
  const float d = amax / 127.0f;
  int sum = 0;
  uint8_t q[kVals];
#pragma unroll
  for (int i = 0; i < kVals; ++i) {
    const int qi = amax == 0.0f ? 0 : max(-127, min(127, __float2int_rn(v[i] / d)));
    q[i] = static_cast<uint8_t>(static_cast<int8_t>(qi));
    sum += qi;
  }
#pragma unroll
  for (int offset = 1; offset < kLanes; offset <<= 1) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  if (!inRange) return;
#pragma unroll
  for (int i = 0; i < kVals; ++i) rowOut[col + i] = q[i];
  if (col % 32 == 0) {
    const uint32_t ds = static_cast<uint32_t>(__half_as_ushort(__float2half_rn(d))) |
                        (static_cast<uint32_t>(__half_as_ushort(__float2half_rn(d * static_cast<float>(sum)))) << 16);
    *reinterpret_cast<uint32_t*>(rowOut + k + 4 * (col / 32)) = ds;
  }
}

}  // namespace reel::kernels::detail
