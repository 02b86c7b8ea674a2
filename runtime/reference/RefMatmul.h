#pragma once
/// \file
/// The ops of the CPU reference that read weights: the matmul y[M, N] = x[M, K] * w[N, K]^T
/// with each GPU kernel family's numerics, and the embedding lookup. Weight rows are
/// dequantized on the fly (never a whole tensor), rows of w split over threads.
///
/// Numerics per `kernel` attribute (the tolerances of the parity tests follow from them):
///  * none (an unspecialised graph): w dequantized to f32, x f32, dot in f64.
///  * "dp4a": x quantized to Q8_1 (unless it already is), w in its GGUF blocks, quant::dotQ81
///    (bit-exact with the DP4A GEMV kernels). Weights without a DP4A format (f16, bf16, f32)
///    are dotted in f64 with the dequantized Q8_1 activations.
///  * "mma": the same Q8_1 activations and integer products, quant::dotQ81Mma (bit-exact with
///    the tensor-core kernels `mmq_<qtype>`: only the float summation order differs from
///    dotQ81). Only the weight types with such a kernel (the block-quantized ones); others are refused.
///  * "hgemm", "dequant-hgemm": w and x rounded to fp16, products accumulated in f64 (cuBLAS:
///    f32). dequant-hgemm's f16 weight rows are the same values as hgemm's copy, made per use.
///  * "mma-f16": x rounded to fp16, w the f16 values of quant::dequantizeRowMmaF16 (what the
///    kernel computes in registers), products accumulated in f64 (the kernel: f32). Q4_K only.
///  * "fp8": as kernels/Blas.h: w scaled per row (s_w[n] = amax|w[n]| / 448), x per tensor
///    with one dynamic scale (s_x = amax|x| / 448 over the rows of x: the executor passes the
///    live rows of its step), both rounded to E4M3 (saturating), products accumulated in
///    f64, then times s_w[n] * s_x. The one activation scale couples the rows of a step (a
///    bucket's sequences differ slightly from M = 1); padding rows are left out of it.

#include "runtime/reference/HostTensor.h"
#include "runtime/reference/WeightSource.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace reel::reference {

/// The numerics a matmul computes with: what the reference reproduces of its kernel
/// (ir::MatmulKernel; dp4a and mma share the Q8_1 integer products, not their float sums).
enum class MatmulNumerics : uint8_t { Float, Dp4a, Mma, Hgemm, Fp8, MmaF16 };

/// The numerics of a `kernel` attribute value (absent: Float); throws for an unknown name.
MatmulNumerics numericsOf(const std::optional<std::string>& kernel);

/// One weight of a matmul with what its kernel needs precomputed.
struct MatmulWeight {
  const WeightView* view = nullptr;
  const std::vector<float>* fp8RowScales = nullptr;  ///< kernel fp8: the E4M3 scale of each row
};

/// The FP8 scales of a weight's rows: amax of each dequantized row / 448 (1 for a zero row).
std::vector<float> fp8WeightRowScales(const WeightView& view, unsigned threads);

/// How to run a matmul.
struct MatmulRun {
  unsigned threads = 2;
};

/// y = x * w^T with the numerics of `kernel`. x is F32, or Q8_1 for Dp4a and Mma.
HostTensor matmul(const HostTensor& x, const MatmulWeight& weight, MatmulNumerics kernel, const MatmulRun& run);

/// Rows of the embedding table by token id (dequantized to f32); throws for an id outside
/// the table.
HostTensor embedding(const HostTensor& tokens, const WeightView& table);

/// Dequantizes a whole vector weight (norm, bias) to f32.
std::vector<float> dequantizeVector(const WeightView& view);

}  // namespace reel::reference
