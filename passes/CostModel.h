#pragma once
/// \file
/// The cost model of the decision passes: how long one kernel (or a short sequence of
/// kernels) takes on the target GPU, in microseconds.
///
///   estimate = max(bytes / achieved bandwidth, ops / peak) + launches x launch cost
///
/// The achieved bandwidth is where grid parallelism enters: a kernel with few CTAs cannot
/// keep enough bytes in flight to saturate DRAM (Little's law: saturation needs
/// bandwidth x latency bytes in flight), and it runs on at most one SM per CTA. So
///
///   fill = min(1, CTAs x bytesInFlightPerCta / (bandwidth x latency),
///                 min(CTAs, SMs) x smBandwidthShare / SMs)
///   achieved bandwidth = fill x profile bandwidth
///
/// Each kernel family (DP4A GEMV, RMSNorm, residual add, ...) declares its grid: how many
/// CTAs a problem launches and how many bytes one CTA keeps in flight. Library GEMMs
/// (cuBLAS, cuBLASLt) pick split-K to fill the GPU, so they count as full.
///
/// Every figure is explainable: Estimate::detail() quotes the time, the CTA count and
/// the fraction of bandwidth reached, and the passes quote those in their decisions.

#include "ir/DecisionAttrs.h"
#include "ir/Types.h"
#include "kernels/KernelCatalog.h"
#include "passes/GpuProfile.h"
#include "support/FormatBytes.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace reel::passes {

/// The matmul kernel families select-precision chooses between.
// The matmul kernel families are the IR's (ir/DecisionAttrs.h).
using ir::MatmulKernel;
using ir::matmulKernelName;
using ir::parseMatmulKernel;
/// True for the weight formats a DP4A kernel reads directly (the K-quants and the 32-element
/// formats).
bool hasQuantizedKernel(ir::ElemType weightType);
/// True for the weight formats the tensor-core kernel (`mmq_<qtype>`) reads directly: Q4_K,
/// Q6_K and Q8_0 (kernels::mmqSupports).
bool hasMmaKernel(ir::ElemType weightType);
/// True for the weight formats the f16 tensor-core kernel (`mma_f16_<qtype>`) reads directly:
/// Q4_K (kernels::mmaF16Supports).
bool hasMmaF16Kernel(ir::ElemType weightType);
/// Bytes of the derived copy `kernel` needs of a weight of `weightType` (FP8: 1 B per
/// element plus one f32 scale per row; FP16: 2 B per element, none if the weight is
/// already f16), or 0 when the kernel reads the weight as stored (dp4a, mma, and
/// dequant-hgemm, whose f16 weight is a transient workspace).
int64_t derivedWeightBytes(MatmulKernel kernel, const ir::TensorType& weightType);

/// Properties of reel's kernels (not of the GPU) that the estimates rest on. The defaults
/// describe the kernels as designed, not as measured on a GPU.
struct CostModelParams {
  double dramLatencyUs = 0.6;     ///< DRAM round trip a CTA waits for per load in flight
  double smBandwidthShare = 2.0;  ///< one SM can pull this many times its fair share of bandwidth
  /// Fraction of profile.int8Tops a K-quant DP4A GEMV reaches (unpacking, scales and mins
  /// cost several instructions per DP4A). 0.09 fits both anchors of docs/design.md
  /// ("Anchors"): llama.cpp's MMVQ at batch 8 on an H100, which needs >= 8.5%, and the
  /// RTX 4090 crossover of DP4A and FP8 between M = 4 and M = 8, which needs <= 9.3%.
  double dp4aEfficiency = 0.09;
  double libraryGemmEfficiency = 0.6;  ///< fraction of tensor-core peak cuBLAS/cuBLASLt reach at small M
  /// Fraction of the int8 tensor-core peak (2 x fp16) the mmq kernel reaches on its padded
  /// tokens (mmqTileTokens, kernels/MmqShape.h): its time grows linearly with the padded tokens
  /// from 32 on, bound by the per-block scale arithmetic around each mma.sync rather than by the
  /// tensor cores. Fitted to the step times in docs/design.md ("mma and dequant-hgemm instead of
  /// weight copies"); CostModelTest holds the model to them.
  double mmaEfficiency = 0.042;
  /// Integer instructions to unpack one quantized weight into int8 lanes, once per token tile
  /// (8 nibbles of Q4_K take about 4). They run on the CUDA cores while the tensor cores work.
  double mmaDequantInstrPerWeight = 0.5;
  /// Fraction of the f16 tensor-core peak the mma_f16 kernel reaches on its padded tokens
  /// (mma.sync rather than wgmma, and the dequantization beside it). This and the next figure
  /// are fitted to `reel tune`'s times of the family (docs/performance.md, "mma-f16 on the GPU",
  /// has the times and how close the fit comes).
  double mmaF16Efficiency = 0.12;
  /// Instruction slots one weight's dequantization into f16 costs per token tile: an effective
  /// figure above the ~2 instructions the kernel issues per weight (a byte permute, a
  /// subtraction and a fused multiply-add per two, and the scales), because at small M each
  /// warp's dependent chain waits on its shared-memory loads and shuffles.
  double mmaF16DequantInstrPerWeight = 10.0;
  /// Fraction of the read bandwidth that dequant_f16's reads and writes together reach: it
  /// writes 2 bytes per weight where it reads about 0.6, and stores cost more than loads
  /// (`kernel_bench --mmq`'s dequant table; docs/design.md).
  double dequantBandwidthFraction = 0.65;
};

/// The resources of one kernel launch: the input of CostModel::kernel().
struct KernelWork {
  const char* family = "";         ///< for messages: "dp4a-gemv", "rms_norm", ...
  double bytes = 0;                ///< DRAM bytes read and written
  double ops = 0;                  ///< arithmetic operations (2 per multiply-add)
  double peakOpsPerUs = 0;         ///< the family's compute peak; 0 = not compute bound
  int64_t ctas = 0;                ///< grid size; 0 = a library kernel that fills the GPU
  double bytesInFlightPerCta = 0;  ///< loads one CTA keeps outstanding
};

/// The estimate for one kernel or a sequence of kernels.
struct Estimate {
  double us = 0;          ///< total time
  double memoryUs = 0;    ///< of the main kernel: bytes / achieved bandwidth
  double computeUs = 0;   ///< of the main kernel: ops / peak
  double fill = 1;        ///< of the main kernel: fraction of the bandwidth its grid reaches
  int64_t ctas = 0;       ///< of the main kernel (0 = library kernel)
  int launches = 0;       ///< kernels in the sequence
  bool measured = false;  ///< the time is a measurement of the profile's (`reel tune`), not an estimate

  /// This estimate followed by `next` (times and launches add; the main kernel is the
  /// slower of the two).
  [[nodiscard]] Estimate then(const Estimate& next) const;
  /// "41.2us"
  [[nodiscard]] std::string str() const;
  /// "41.2us on 24 CTAs at 9% of bandwidth" (or "41.2us, 2 launches" for a library call;
  /// "41.2us measured" where the profile measured it).
  [[nodiscard]] std::string detail() const;
};

/// The shape of a matmul: y[M, N] = x[M, K] * w[N, K]^T with w of `weightType`.
struct MatmulShape {
  int64_t m = 1;
  int64_t n = 0;
  int64_t k = 0;
  ir::ElemType weightType = ir::ElemType::Q4_K;
};

/// The shape of one attention op in a step.
struct AttentionShape {
  int64_t rows = 1;  ///< M: sequences (decode) or tokens (prefill)
  int64_t heads = 0;
  int64_t kvHeads = 0;
  int64_t headDim = 0;
  int64_t context = 0;  ///< KV length each row attends to
};

/// Estimates kernels on one GPU profile.
class CostModel {
 public:
  explicit CostModel(const GpuProfile& profile, CostModelParams params = {});

  [[nodiscard]] const GpuProfile& profile() const { return profile_; }
  [[nodiscard]] const CostModelParams& params() const { return params_; }

  /// One kernel launch.
  [[nodiscard]] Estimate kernel(const KernelWork& work) const;
  /// The fraction of the profile's bandwidth a grid of `ctas` CTAs reaches.
  [[nodiscard]] double fill(int64_t ctas, double bytesInFlightPerCta) const;

  /// One launch as a plan records it: a kernel of the catalog's `family` ("gemv", "norm",
  /// "attention", ...) moving `bytes` on the grid `dims`, each thread keeping the family's
  /// loads in flight (`depth` times as many: a GEMV's row sets). Lowering predicts every step
  /// with it, so `reel inspect` and `--explain` quote one model. Library families (the grid is
  /// cuBLAS's) count as filling the GPU.
  [[nodiscard]] Estimate launch(std::string_view family, double bytes, const kernels::LaunchDims& dims,
                                double depth = 1) const;
  /// The matmul kernel alone (activations already in the kernel's format).
  [[nodiscard]] Estimate matmul(const MatmulShape& shape, MatmulKernel kernel) const;
  /// The DP4A GEMV as select-launch-config launches it: ceil(M / row chunk) launches, each
  /// over every weight, on the kernel table's grid for the policy's row sets; the measured
  /// launch time where the profile has one for the shape.
  [[nodiscard]] Estimate gemv(const MatmulShape& shape) const;
  /// The tensor-core matmul on the quantized weight (`mmq_<qtype>`) as lowering launches it:
  /// one launch over all M rows on the kernel table's grid, each weight byte read once.
  [[nodiscard]] Estimate mma(const MatmulShape& shape) const;
  /// A tensor-core kernel on the quantized weight (mma, mma-f16): `work` on the tensor cores
  /// beside the unpacking of every weight once per token tile at `instrPerWeight` instructions.
  [[nodiscard]] Estimate tensorCoreOnQuantized(const KernelWork& work, double tokenTiles, double instrPerWeight,
                                               const MatmulShape& shape) const;
  /// The dequant-hgemm matmul as lowering launches it: `dequant_f16_<qtype>` reading the stored
  /// weight and writing its f16 rows (bandwidth bound, on the kernel table's grid), then the
  /// HGEMM estimate on an f16 weight of that shape.
  [[nodiscard]] Estimate dequantHgemm(const MatmulShape& shape) const;
  /// The f16 tensor-core matmul on the quantized weight (`mma_f16_<qtype>`) as lowering launches
  /// it: one launch over all M rows, each weight byte read once, f16 activations.
  [[nodiscard]] Estimate mmaF16(const MatmulShape& shape) const;
  /// The activation conversion the kernel needs first: Q8_1 quantization (dp4a, mma),
  /// FP8 cast (fp8) or FP16 cast (hgemm, dequant-hgemm).
  [[nodiscard]] Estimate activationPrep(const MatmulShape& shape, MatmulKernel kernel) const;
  /// activationPrep then matmul: the cost of choosing `kernel` for one matmul.
  [[nodiscard]] Estimate matmulWithPrep(const MatmulShape& shape, MatmulKernel kernel) const;

  /// Residual add of two f32[rows, width]: ceil(width / 256) CTAs per row.
  [[nodiscard]] Estimate residualAdd(int64_t rows, int64_t width) const;
  /// RMSNorm of f32[rows, width]: one CTA per row (the reduction).
  [[nodiscard]] Estimate rmsNorm(int64_t rows, int64_t width) const;
  /// Fused residual add + RMSNorm: one CTA per row, writes the sum and the normed rows.
  [[nodiscard]] Estimate addRmsNorm(int64_t rows, int64_t width) const;
  /// Q8_1 quantization of f32[rows, width]: ceil(width / 256) CTAs per row.
  [[nodiscard]] Estimate quantizeQ81(int64_t rows, int64_t width) const;

  /// Decode attention over the KV cache, one CTA per (row, query head, split); with more
  /// than one split a second kernel reduces the partial results (flash-decoding). The
  /// measured time where the profile has the shape (at that context, or between two).
  [[nodiscard]] Estimate decodeAttention(const AttentionShape& shape, int64_t splits) const;

 private:
  [[nodiscard]] double bandwidthBytesPerUs() const;
  [[nodiscard]] Estimate rowKernel(const char* family, double bytes, int64_t ctas) const;

  GpuProfile profile_;
  CostModelParams params_;
};

/// "41.2us", "1.23ms": microseconds for messages.
std::string formatUs(double us);
// Byte counts in reports (support/FormatBytes.h).
using support::formatBytes;

}  // namespace reel::passes
