#pragma once
/// \file
/// Block layouts of the quantized tensor formats reel reads and writes. They follow the
/// published GGUF/ggml block formats byte for byte, so a weight block read from a GGUF
/// file is used as is by the CPU reference and by the CUDA kernels. Half-precision
/// fields are stored as raw IEEE binary16 bits (uint16_t) so this header needs no CUDA.

#include <cstddef>
#include <cstdint>

namespace reel::quant {

/// Elements per super-block of the K-quant formats.
inline constexpr int kQK_K = 256;
/// Elements per block of the legacy formats (Q8_0, Q5_0, Q5_1, Q4_0) and of Q8_1 activations.
inline constexpr int kQK32 = 32;

/// Q4_K: 8 sub-blocks of 32 weights, 4-bit quants, 6-bit sub-block scales and mins.
/// w = d * scale_j * q - dmin * min_j.
struct BlockQ4K {
  uint16_t d;             ///< super-block scale for the sub-block scales (f16 bits)
  uint16_t dmin;          ///< super-block scale for the sub-block mins (f16 bits)
  uint8_t scales[12];     ///< 8 scales and 8 mins, 6 bits each, packed
  uint8_t qs[kQK_K / 2];  ///< 4-bit quants
};
static_assert(sizeof(BlockQ4K) == 144);

/// Q6_K: 16 sub-blocks of 16 weights, 6-bit quants, 8-bit signed scales.
/// w = d * scale_j * (q - 32).
struct BlockQ6K {
  uint8_t ql[kQK_K / 2];      ///< low 4 bits of the quants
  uint8_t qh[kQK_K / 4];      ///< high 2 bits of the quants
  int8_t scales[kQK_K / 16];  ///< sub-block scales
  uint16_t d;                 ///< super-block scale (f16 bits)
};
static_assert(sizeof(BlockQ6K) == 210);

/// Q5_K: 8 sub-blocks of 32 weights, 5-bit quants, 6-bit sub-block scales and mins packed as
/// Q4_K's. w = d * scale_j * q - dmin * min_j. Element e of the super-block: its low 4 bits are
/// qs[32 (e/64) + e%32] (low nibble for e%64 < 32, high nibble otherwise), its 5th bit is bit
/// e/32 of qh[e%32].
struct BlockQ5K {
  uint16_t d;             ///< super-block scale for the sub-block scales (f16 bits)
  uint16_t dmin;          ///< super-block scale for the sub-block mins (f16 bits)
  uint8_t scales[12];     ///< 8 scales and 8 mins, 6 bits each, packed as Q4_K's
  uint8_t qh[kQK_K / 8];  ///< 5th bit of the quants
  uint8_t qs[kQK_K / 2];  ///< low 4 bits of the quants
};
static_assert(sizeof(BlockQ5K) == 176);

/// Q8_0: 32 weights, w = d * q.
struct BlockQ80 {
  uint16_t d;
  int8_t qs[kQK32];
};
static_assert(sizeof(BlockQ80) == 34);

/// Q5_0: 32 weights, 5-bit quants, w = d * (q - 16).
struct BlockQ50 {
  uint16_t d;
  uint8_t qh[4];          ///< 5th bit of each quant
  uint8_t qs[kQK32 / 2];  ///< low 4 bits
};
static_assert(sizeof(BlockQ50) == 22);

/// Q5_1: 32 weights, 5-bit quants with a min, w = d * q + m (q in 0..31). The quants are placed
/// as Q5_0's: element j < 16 is the low nibble of qs[j], element j + 16 its high nibble, and
/// the 5th bit of element e is bit e of qh (little-endian uint32).
struct BlockQ51 {
  uint16_t d;             ///< scale (f16 bits)
  uint16_t m;             ///< min: the value of q = 0 (f16 bits)
  uint8_t qh[4];          ///< 5th bit of each quant
  uint8_t qs[kQK32 / 2];  ///< low 4 bits
};
static_assert(sizeof(BlockQ51) == 24);

/// Q4_0: 32 weights, 4-bit quants, w = d * (q - 8). Element j < 16 is the low nibble of qs[j],
/// element j + 16 its high nibble.
struct BlockQ40 {
  uint16_t d;
  uint8_t qs[kQK32 / 2];
};
static_assert(sizeof(BlockQ40) == 18);

/// Q8_1: the activation format of the DP4A kernels: 32 values, x = d * q, and
/// s = d * sum(q) so that formats with a min/offset can fold it in one multiply.
struct BlockQ81 {
  uint16_t d;  ///< scale (f16 bits)
  uint16_t s;  ///< d * sum of the quants (f16 bits)
  int8_t qs[kQK32];
};
static_assert(sizeof(BlockQ81) == 36);

}  // namespace reel::quant
