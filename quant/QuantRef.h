#pragma once
/// \file
/// CPU reference of reel's number formats: scalar conversions (fp16, bf16, fp8 e4m3),
/// quantization of float rows into the GGUF block formats and back, the Q8_1 activation
/// quantizer, and the reference dot products of a quantized weight row with a Q8_1
/// activation row. Pure C++ (no CUDA); the CPU reference executor and every GPU kernel
/// test use it as the oracle.
///
/// Numerics contract with the CUDA kernels:
///  * quantizeQ81 is bit-identical to the GPU activation quantizer (same IEEE divisions,
///    round-to-nearest-even, same f16 rounding of d and s).
///  * dotQ81 uses the exact integer products of the DP4A GEMV kernels and the same float
///    formula per block, summed in the same order as the kernel's lanes, shuffles and
///    warps (kGemvKSplit warps split the row, 8 lanes per 256-element unit). With the
///    kernels built with --fmad=false (they are), GPU and CPU agree bit for bit.

#include "quant/QType.h"
#include "quant/QuantFormats.h"

#include <cstddef>
#include <cstdint>

namespace reel::quant {

/// Bytes of a row of n elements in the GGUF layout; n must be a multiple of blockElems.
size_t rowBytes(QType type, int64_t n);
/// True for the block-quantized weight types the DP4A GEMV kernels read (Q8_0, Q5_0, Q5_1, Q4_0,
/// Q4_K, Q5_K, Q6_K).
bool isDp4aWeightType(QType type);

// ---- scalar conversions (all round to nearest, ties to even) -----------------------

float f16ToF32(uint16_t bits);
/// Overflow gives +-inf, NaN stays NaN (quiet), subnormals are rounded exactly.
uint16_t f32ToF16(float x);
float bf16ToF32(uint16_t bits);
/// NaN stays NaN (quiet).
uint16_t f32ToBf16(float x);
/// OCP FP8 E4M3 ("e4m3fn": bias 7, max 448, no infinities, NaN = 0x7F/0xFF).
/// Saturating: |x| > 448 and +-inf give +-448; NaN gives 0x7F.
uint8_t f32ToFp8E4M3(float x);
float fp8E4M3ToF32(uint8_t bits);
/// Largest finite E4M3 value.
inline constexpr float kFp8E4M3Max = 448.0f;

// ---- rows ---------------------------------------------------------------------------

/// Quantizes n floats (n a multiple of blockElems(type)) into GGUF blocks of `type`
/// (also F32/F16/BF16/FP8_E4M3 as plain element conversions; Q8_1 as BlockQ81).
/// Q8_0: d = amax/127. Q5_0 / Q4_0: ggml's signed-max rule, d = max/-16 / max/-8. Q5_1: ggml's
/// min/max rule, m = min, d = (max - min)/31, q = floor((x - m)/d + 1/2). Q4_K / Q5_K:
/// per 32-element sub-block min/max, scales and mins on 6 bits (round to nearest). Q6_K: per
/// 16-element sub-block signed-max rule, d_j = max/-32, scales on int8.
void quantizeRow(QType type, const float* x, void* out, int64_t n);
/// Dequantizes n elements of `type` (GGUF layout) into floats.
void dequantizeRow(QType type, const void* in, float* y, int64_t n);

/// The f16 weights the mma_f16 kernels multiply (kernels/MmaF16.h), as f16 bits: for Q4_K
/// q * f16(d * scale_j) + f16(-dmin * min_j), computed exactly and rounded once to f16 (one
/// fused multiply-add in half precision). n a multiple of 256; Q4_K only.
void dequantizeRowMmaF16(QType type, const void* in, uint16_t* y, int64_t n);
/// x rounded to f16 (nearest, ties to even) in one step: no detour through f32.
uint16_t f64ToF16(double x);

/// Quantizes an activation row into Q8_1 (n a multiple of 32): per block d = amax/127,
/// q = rint(x/d) (0 when amax is 0), s = d*sum(q); d and s stored as f16.
void quantizeQ81(const float* x, BlockQ81* out, int64_t n);

/// Warps that split one weight row in the DP4A GEMV kernels (part of the numerics contract).
inline constexpr int kGemvKSplit = 4;

/// Dot product of one weight row (GGUF layout, n elements, n a multiple of 256 for the K-quants,
/// of 32 for Q8_0/Q5_0/Q5_1/Q4_0) with a Q8_1 activation row, exactly as the DP4A kernels compute it.
float dotQ81(QType weightType, const void* wrow, const BlockQ81* act, int64_t n);

/// Dot product of one weight row (GGUF layout, n elements) of a DP4A weight type with a Q8_1
/// activation row, exactly as the tensor-core kernels (`mmq_<qtype>`) compute it: one term per
/// scale group (quant/MmaMath.h), summed in element order within the units of each of
/// kMmqKSplit warps (unit u -> warp u % 4; a unit is a K-quant super-block, or a 32-element
/// block), then the warps in order.
float dotQ81Mma(QType weightType, const void* wrow, const BlockQ81* act, int64_t n);

/// Plain dot product of the dequantized weight row with float activations (double accumulate).
float dotDequant(QType weightType, const void* wrow, const float* x, int64_t n);

// ---- repacked (row-planar) weight layout read by the GEMV kernels ----------------------

/// True where the GEMV kernels read the row-planar repack instead of the GGUF blocks:
/// Q6_K (210 B), Q8_0 (34 B), Q5_0 (22 B), Q5_1 (24 B) and Q4_0 (18 B) blocks are not 16-byte
/// aligned, so each row is stored as field planes (see repackRowPlanar). Q4_K (144 B) and Q5_K
/// (176 B) are read as they are.
bool needsRowPlanar(QType type);

/// Bytes of one repacked row of n elements: the GGUF row bytes rounded up to 16.
size_t planarRowBytes(QType type, int64_t n);

/// Repacks `rows` GGUF rows of n elements into the row-planar layout (row stride
/// planarRowBytes). Per row, with nb = n / blockElems blocks, in this order:
///  * Q6_K: ql [nb][128], qh [nb][64], scales [nb][16], d [nb] (f16), zero padding;
///  * Q8_0: qs [nb][32], d [nb], zero padding;
///  * Q5_0: qs [nb][16], qh [nb][4], d [nb], zero padding;
///  * Q5_1: qs [nb][16], qh [nb][4], {d, m} [nb] (f16 pairs), zero padding;
///  * Q4_0: qs [nb][16], d [nb], zero padding.
/// Types for which needsRowPlanar is false are copied row by row unchanged.
void repackRowPlanar(QType type, const void* in, void* out, int64_t rows, int64_t n);

/// The GPU activation buffer of the DP4A kernels: each row of k values (k a multiple of 256)
/// is `q81RowBytes(k)` bytes: qs int8 [k], then per 32-block {d, s} f16 pairs [k/32].
/// Same size as the BlockQ81 row; 16-byte aligned rows.
size_t q81RowBytes(int64_t k);
/// Converts BlockQ81 blocks of one row (k values) into the row-planar GPU layout and back.
void q81BlocksToPlanar(const BlockQ81* in, void* out, int64_t k);
void q81PlanarToBlocks(const void* in, BlockQ81* out, int64_t k);

}  // namespace reel::quant
