#pragma once
/// \file
/// Rounding a float to the nearest fp16 value (ties to even) without the round trip through
/// quant::f32ToF16 / f16ToF32, which dominated hgemm matmuls on the CPU. Exact: values in
/// the fp16 normal range are rounded with integer arithmetic on the mantissa; everything
/// else (subnormals, overflow, inf, NaN) takes the round trip.

#include "quant/QuantRef.h"

#include <bit>
#include <cstdint>

namespace reel::reference {

/// The fp16 value nearest to x, as a float; identical to f16ToF32(f32ToF16(x)).
inline float roundToF16(float x) {
  constexpr uint32_t kSmallestNormal = 0x38800000u;  // 2^-14
  constexpr uint32_t kRoundsToInf = 0x477ff000u;     // 65520: halfway between 65504 and 2^16
  uint32_t bits = std::bit_cast<uint32_t>(x);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude < kSmallestNormal || magnitude >= kRoundsToInf) return quant::f16ToF32(quant::f32ToF16(x));
  bits += 0xfffu + ((bits >> 13) & 1u);  // round the 13 dropped bits to nearest, ties to even
  return std::bit_cast<float>(bits & ~0x1fffu);
}

}  // namespace reel::reference
