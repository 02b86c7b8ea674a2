#include "passes/CostModel.h"

#include "passes/LaunchPolicy.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>

namespace reel::passes {
namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

/// The grid of a family of hand-written kernels: threads per CTA and the bytes each
/// thread keeps in flight (vector width x unrolled loads).
struct GridFamily {
  const char* name;
  int threadsPerCta;
  double bytesInFlightPerThread;

  [[nodiscard]] double bytesInFlightPerCta() const { return threadsPerCta * bytesInFlightPerThread; }
};

// Elementwise kernels: scalar f32 loads, two outstanding per thread.
constexpr GridFamily kElementwise{"elementwise", 256, 8};
// RMSNorm: one CTA per row, up to 1024 threads with one float4 load each in flight.
constexpr GridFamily kRmsNorm{"rms_norm", 1024, 16};
// add_rms_norm: the same kernel, also reading the residual (two float4 loads in flight per
// thread) and writing the sum. With the norm's weight loads issued before its wait for the
// previous kernel, it decodes Llama-2-7B on an H200 faster than add + rms_norm at M = 1, 2, 4
// and 8 (docs/performance-log.md).
constexpr GridFamily kAddRmsNorm{"add_rms_norm", 1024, 32};
constexpr GridFamily kQuantizeQ81{"quantize_q8_1", 256, 8};
// DP4A GEMV: 4 warps, two 16-byte weight loads in flight per thread and row set; its grid
// (4 rows per CTA and row set) comes from the kernel table, its row sets and row chunks from
// the launch policy select-launch-config records (LaunchPolicy.h).
constexpr GridFamily kDp4aGemv{"dp4a-gemv", 128, 32};
// Tensor-core matmul on quantized weights (mmq): kMmqThreads per CTA of 16 weight rows, each
// warp streaming its K units with four 16-byte loads in flight per thread; the grid (token
// tiles x row blocks) comes from the kernel table. The token tiles of a row block read its
// weights at about the same time, so DRAM sees each weight byte once.
constexpr GridFamily kMmq{"mmq", kernels::kMmqThreads, 64};
// f16 tensor-core matmul on quantized weights (mma_f16): a cluster of kMmaF16KSplit CTAs per
// 64 weight rows and token tile, each CTA's cp.async pipeline keeping two units of its rows
// (144 bytes a row) and tokens in flight.
constexpr GridFamily kMmaF16{"mma-f16", kernels::kMmaF16Threads,
                             2 * 144 * kernels::kMmaF16Rows / kernels::kMmaF16Threads};
// f16 dequantization (dequant-hgemm's weight): kDequantThreads per CTA, each thread one
// 32-element group, its 16-byte load of quants in flight while it writes 64 bytes of f16.
constexpr GridFamily kDequant{"dequant", kernels::kDequantThreads, 16};
// Decode attention: one CTA per (row, KV head, split) streaming f16 K/V rows. 4 KB in flight
// per CTA fits a kernel of 4 warps per CTA; the kernel runs up to 16 warps per CTA, so this
// estimate misjudges what splits gain (on an H100 they pay at M = 1 from about 1024 keys for
// Llama-2-7B's 32 KV heads, and from the shortest contexts for TinyLlama's 4). Where the profile
// holds measured attention times (`reel tune`), those replace it. The CTA count counts query
// heads; GQA's query heads of one KV head share each K/V row read (L2 serves the repeats, DRAM
// sees each row once).
constexpr GridFamily kDecodeAttention{"decode-attention", 128, 32};

constexpr int64_t kRowKernelWidthPerCta = 256;  ///< elements of a row one elementwise CTA covers

int64_t ceilDiv(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

double weightBytes(const MatmulShape& shape) {
  return static_cast<double>(shape.n) * static_cast<double>(shape.k) /
         static_cast<double>(ir::blockElems(shape.weightType)) * static_cast<double>(ir::blockBytes(shape.weightType));
}

double q81Bytes(int64_t rows, int64_t width) {
  return static_cast<double>(rows) * static_cast<double>(width) / 32.0 * 36.0;
}

double f32Bytes(int64_t rows, int64_t width) {
  return 4.0 * static_cast<double>(rows) * static_cast<double>(width);
}

/// A measured time as an estimate (its grid for the record).
Estimate measuredEstimate(double us, int64_t ctas) {
  Estimate estimate;
  estimate.us = us;
  estimate.memoryUs = us;
  estimate.ctas = ctas;
  estimate.launches = 1;
  estimate.measured = true;
  return estimate;
}

}  // namespace

bool hasQuantizedKernel(ir::ElemType weightType) {
  return weightType != ir::ElemType::I32 && quant::isDp4aWeightType(ir::toQType(weightType));
}

bool hasMmaKernel(ir::ElemType weightType) {
  return weightType != ir::ElemType::I32 && kernels::mmqSupports(ir::toQType(weightType));
}

bool hasMmaF16Kernel(ir::ElemType weightType) {
  return weightType != ir::ElemType::I32 && kernels::mmaF16Supports(ir::toQType(weightType));
}

int64_t derivedWeightBytes(MatmulKernel kernel, const ir::TensorType& weightType) {
  if (weightType.rank() != 2 || !weightType.isStatic()) return 0;
  int64_t rows = weightType.shape[0];
  int64_t elems = rows * weightType.shape[1];
  switch (kernel) {
    case MatmulKernel::Fp8:
      return elems + 4 * rows;
    case MatmulKernel::Hgemm:
      return weightType.elem == ir::ElemType::F16 ? 0 : 2 * elems;
    case MatmulKernel::Dp4a:
    case MatmulKernel::Mma:
    case MatmulKernel::MmaF16:
    case MatmulKernel::DequantHgemm:  // its f16 weight is a transient workspace, not a held copy
      return 0;
  }
  return 0;
}

Estimate Estimate::then(const Estimate& next) const {
  const Estimate& main = next.us > us ? next : *this;
  Estimate sum = main;
  sum.us = us + next.us;
  sum.launches = launches + next.launches;
  sum.measured = measured && next.measured;
  return sum;
}

std::string Estimate::str() const {
  return formatUs(us);
}

std::string Estimate::detail() const {
  std::string text = str();
  if (measured) return text + " measured" + (launches > 1 ? fmt::format(", {} launches", launches) : "");
  if (ctas > 0) {
    double percent = fill * 100.0;
    text += fmt::format(" on {} CTA{} at {}% of bandwidth", ctas, ctas == 1 ? "" : "s",
                        percent < 10.0 ? fmt::format("{:.1f}", percent) : fmt::format("{:.0f}", percent));
  }
  if (launches > 1) text += fmt::format(", {} launches", launches);
  return text;
}

CostModel::CostModel(const GpuProfile& profile, CostModelParams params) : profile_(profile), params_(params) {}

double CostModel::bandwidthBytesPerUs() const {
  return profile_.memoryBandwidthGBs * 1e3;
}

double CostModel::fill(int64_t ctas, double bytesInFlightPerCta) const {
  if (ctas <= 0) return 1.0;
  double saturatingBytes = bandwidthBytesPerUs() * params_.dramLatencyUs;
  double littlesLaw = saturatingBytes > 0 ? static_cast<double>(ctas) * bytesInFlightPerCta / saturatingBytes : 1.0;
  double smLimit = 1.0;
  if (profile_.smCount > 0) {
    double busySms = static_cast<double>(std::min<int64_t>(ctas, profile_.smCount));
    smLimit = busySms * params_.smBandwidthShare / profile_.smCount;
  }
  return std::clamp(std::min(littlesLaw, smLimit), 1e-9, 1.0);
}

Estimate CostModel::kernel(const KernelWork& work) const {
  Estimate estimate;
  estimate.ctas = work.ctas;
  estimate.fill = fill(work.ctas, work.bytesInFlightPerCta);
  double bandwidth = bandwidthBytesPerUs() * estimate.fill;
  estimate.memoryUs = work.bytes <= 0 ? 0 : bandwidth > 0 ? work.bytes / bandwidth : kInfinity;
  if (work.ops > 0) estimate.computeUs = work.peakOpsPerUs > 0 ? work.ops / work.peakOpsPerUs : kInfinity;
  estimate.launches = 1;
  estimate.us = std::max(estimate.memoryUs, estimate.computeUs) + profile_.launchCostUs;
  return estimate;
}

Estimate CostModel::launch(std::string_view family, double bytes, const kernels::LaunchDims& dims, double depth) const {
  // Bytes one thread keeps in flight, by kernel family (the GridFamily figures above).
  struct FamilyLoads {
    std::string_view family;
    double bytesPerThread;
  };
  static constexpr FamilyLoads kLoads[] = {
      {"gemv", kDp4aGemv.bytesInFlightPerThread},
      {"mmq", kMmq.bytesInFlightPerThread},
      {"mma_f16", kMmaF16.bytesInFlightPerThread},
      {"dequant", kDequant.bytesInFlightPerThread},
      {"norm", kRmsNorm.bytesInFlightPerThread},
      {"attention", kDecodeAttention.bytesInFlightPerThread},
      {"elementwise", kElementwise.bytesInFlightPerThread},
      {"quant", kQuantizeQ81.bytesInFlightPerThread},
      {"rope", kElementwise.bytesInFlightPerThread},
      {"embed", kElementwise.bytesInFlightPerThread},
      {"sample", kElementwise.bytesInFlightPerThread},
      {"fp8", kElementwise.bytesInFlightPerThread},
  };
  KernelWork work;
  work.bytes = bytes;
  const auto* loads =
      std::find_if(std::begin(kLoads), std::end(kLoads), [&](const FamilyLoads& l) { return l.family == family; });
  const int64_t threads = static_cast<int64_t>(dims.block[0]) * dims.block[1] * dims.block[2];
  if (loads != std::end(kLoads) && threads > 1) {  // a library call's dims are all 1: cuBLAS picks its grid
    work.ctas = static_cast<int64_t>(dims.grid[0]) * dims.grid[1] * dims.grid[2];
    work.bytesInFlightPerCta = static_cast<double>(threads) * loads->bytesPerThread * depth;
  }
  return kernel(work);
}

Estimate CostModel::rowKernel(const char* family, double bytes, int64_t ctas) const {
  KernelWork work;
  work.family = family;
  work.bytes = bytes;
  work.ctas = std::max<int64_t>(ctas, 1);
  work.bytesInFlightPerCta = kElementwise.bytesInFlightPerCta();
  return kernel(work);
}

Estimate CostModel::matmul(const MatmulShape& shape, MatmulKernel kind) const {
  double m = static_cast<double>(shape.m);
  double nk = static_cast<double>(shape.n) * static_cast<double>(shape.k);
  KernelWork work;
  work.family = matmulKernelName(kind);
  double output = f32Bytes(shape.m, shape.n);
  switch (kind) {
    case MatmulKernel::Dp4a:
      return gemv(shape);
    case MatmulKernel::Mma:
      return mma(shape);
    case MatmulKernel::DequantHgemm:
      return dequantHgemm(shape);
    case MatmulKernel::MmaF16:
      return mmaF16(shape);
    case MatmulKernel::Fp8:
      work.bytes = nk + 4.0 * static_cast<double>(shape.n) + m * static_cast<double>(shape.k) + output;
      work.ops = 2.0 * static_cast<double>(std::max<int64_t>(shape.m, 16)) * nk;
      work.peakOpsPerUs = profile_.fp8 ? profile_.fp8Tflops * 1e6 * params_.libraryGemmEfficiency : 0;
      break;
    case MatmulKernel::Hgemm: {
      double weight = shape.weightType == ir::ElemType::F16 ? weightBytes(shape) : 2.0 * nk;
      work.bytes = weight + 2.0 * m * static_cast<double>(shape.k) + output;
      work.ops = 2.0 * static_cast<double>(std::max<int64_t>(shape.m, 16)) * nk;
      work.peakOpsPerUs = profile_.fp16Tflops * 1e6 * params_.libraryGemmEfficiency;
      break;
    }
  }
  return kernel(work);
}

Estimate CostModel::gemv(const MatmulShape& shape) const {
  // One launch per chunk of rows, each streaming every weight byte.
  const int64_t chunk = gemvRowChunk(shape.m);
  const int64_t chunks = ceilDiv(shape.m, chunk);
  const GemvKey key{kernels::gemvKernelId(ir::toQType(shape.weightType)), shape.n, shape.k, chunk};
  const RowSetsChoice rowSets = chooseGemvRowSets(profile_.measured, key);
  KernelWork work;
  work.family = "dp4a-gemv";
  work.bytes = weightBytes(shape) + q81Bytes(chunk, shape.k) + f32Bytes(chunk, shape.n);
  work.ops = 2.0 * static_cast<double>(chunk) * static_cast<double>(shape.n) * static_cast<double>(shape.k);
  work.peakOpsPerUs = profile_.int8Tops * 1e6 * params_.dp4aEfficiency;
  work.ctas = kernels::gemvDims(shape.n, rowSets.rowSets).grid[0];
  work.bytesInFlightPerCta = kDp4aGemv.bytesInFlightPerCta() * rowSets.rowSets;
  Estimate one = kernel(work);
  if (rowSets.measuredUs) one = measuredEstimate(*rowSets.measuredUs, one.ctas);
  Estimate all = one;
  for (int64_t i = 1; i < chunks; ++i) all = all.then(one);
  return all;
}

Estimate CostModel::tensorCoreOnQuantized(const KernelWork& work, double tokenTiles, double instrPerWeight,
                                          const MatmulShape& shape) const {
  // Each weight byte read once (the token tiles of a row block share it through L2), the
  // activations and outputs once; the tensor cores multiply the tiles' padded tokens while the
  // CUDA cores unpack each weight once per token tile (int8Tops counts 8 ops per DP4A
  // instruction, the CUDA cores' integer rate): the slower of the two is the compute time.
  Estimate estimate = kernel(work);
  const double instrPerUs = profile_.int8Tops * 1e6 / 8.0;
  const double unpackInstr = static_cast<double>(shape.n) * static_cast<double>(shape.k) * tokenTiles * instrPerWeight;
  estimate.computeUs = std::max(estimate.computeUs, instrPerUs > 0 ? unpackInstr / instrPerUs : kInfinity);
  estimate.us = std::max(estimate.memoryUs, estimate.computeUs) + profile_.launchCostUs;
  return estimate;
}

Estimate CostModel::mma(const MatmulShape& shape) const {
  const kernels::MmqGrid grid = kernels::mmqGrid(shape.n, shape.m);
  const double nk = static_cast<double>(shape.n) * static_cast<double>(shape.k);
  KernelWork work;
  work.family = kMmq.name;
  work.bytes = weightBytes(shape) + q81Bytes(shape.m, shape.k) + f32Bytes(shape.m, shape.n);
  work.peakOpsPerUs = 2.0 * profile_.fp16Tflops * 1e6 * params_.mmaEfficiency;
  work.ops = 2.0 * static_cast<double>(grid.x * kernels::mmqTileTokens(shape.m)) * nk;
  work.ctas = grid.x * grid.y;
  work.bytesInFlightPerCta = kMmq.bytesInFlightPerCta();
  return tensorCoreOnQuantized(work, static_cast<double>(grid.x), params_.mmaDequantInstrPerWeight, shape);
}

Estimate CostModel::mmaF16(const MatmulShape& shape) const {
  // As mma, on f16 activations and tensor cores; the unpacking is a dequantization into f16 (a
  // byte permute, a subtraction and a fused multiply-add per two weights, and the loads).
  const kernels::MmaF16Grid grid = kernels::mmaF16Grid(shape.n, shape.m);
  const double nk = static_cast<double>(shape.n) * static_cast<double>(shape.k);
  KernelWork work;
  work.family = kMmaF16.name;
  work.bytes = weightBytes(shape) + 2.0 * static_cast<double>(shape.m) * static_cast<double>(shape.k) +
               f32Bytes(shape.m, shape.n);
  work.peakOpsPerUs = profile_.fp16Tflops * 1e6 * params_.mmaF16Efficiency;
  work.ops = 2.0 * static_cast<double>(grid.z * kernels::mmaF16TileTokens(shape.m)) * nk;
  work.ctas = grid.x * grid.y * grid.z;
  work.bytesInFlightPerCta = kMmaF16.bytesInFlightPerCta();
  return tensorCoreOnQuantized(work, static_cast<double>(grid.z), params_.mmaF16DequantInstrPerWeight, shape);
}

Estimate CostModel::dequantHgemm(const MatmulShape& shape) const {
  // The dequantization streams the stored weight in and its f16 rows out at the bandwidth its
  // grid reaches, of which its stores take the larger part (dequantBandwidthFraction); the HGEMM
  // then reads those rows as an f16 weight (2 bytes per element).
  KernelWork work;
  work.family = kDequant.name;
  work.bytes = (weightBytes(shape) + 2.0 * static_cast<double>(shape.n) * static_cast<double>(shape.k)) /
               params_.dequantBandwidthFraction;
  work.ctas = kernels::dequantF16Blocks(shape.n, shape.k);
  work.bytesInFlightPerCta = kDequant.bytesInFlightPerCta();
  MatmulShape f16 = shape;
  f16.weightType = ir::ElemType::F16;
  return kernel(work).then(matmul(f16, MatmulKernel::Hgemm));
}

Estimate CostModel::activationPrep(const MatmulShape& shape, MatmulKernel kind) const {
  switch (kind) {
    case MatmulKernel::Dp4a:
    case MatmulKernel::Mma:
      return quantizeQ81(shape.m, shape.k);
    case MatmulKernel::Fp8:
      return rowKernel("cast-fp8", static_cast<double>(shape.m) * static_cast<double>(shape.k) * 5.0,
                       ceilDiv(shape.k, kRowKernelWidthPerCta) * shape.m);
    case MatmulKernel::Hgemm:
    case MatmulKernel::DequantHgemm:
    case MatmulKernel::MmaF16:
      return rowKernel("cast-f16", static_cast<double>(shape.m) * static_cast<double>(shape.k) * 6.0,
                       ceilDiv(shape.k, kRowKernelWidthPerCta) * shape.m);
  }
  return {};
}

Estimate CostModel::matmulWithPrep(const MatmulShape& shape, MatmulKernel kind) const {
  return activationPrep(shape, kind).then(matmul(shape, kind));
}

Estimate CostModel::residualAdd(int64_t rows, int64_t width) const {
  KernelWork work;
  work.family = kElementwise.name;
  work.bytes = 3.0 * f32Bytes(rows, width);
  work.ctas = ceilDiv(width, kRowKernelWidthPerCta) * rows;
  work.bytesInFlightPerCta = kElementwise.bytesInFlightPerCta();
  return kernel(work);
}

Estimate CostModel::rmsNorm(int64_t rows, int64_t width) const {
  KernelWork work;
  work.family = kRmsNorm.name;
  work.bytes = 2.0 * f32Bytes(rows, width) + f32Bytes(1, width);
  work.ctas = rows;
  work.bytesInFlightPerCta = kRmsNorm.bytesInFlightPerCta();
  return kernel(work);
}

Estimate CostModel::addRmsNorm(int64_t rows, int64_t width) const {
  KernelWork work;
  work.family = kAddRmsNorm.name;
  work.bytes = 4.0 * f32Bytes(rows, width) + f32Bytes(1, width);
  work.ctas = rows;
  work.bytesInFlightPerCta = kAddRmsNorm.bytesInFlightPerCta();
  return kernel(work);
}

Estimate CostModel::quantizeQ81(int64_t rows, int64_t width) const {
  KernelWork work;
  work.family = kQuantizeQ81.name;
  work.bytes = f32Bytes(rows, width) + q81Bytes(rows, width);
  work.ctas = ceilDiv(width, kRowKernelWidthPerCta) * rows;
  work.bytesInFlightPerCta = kQuantizeQ81.bytesInFlightPerCta();
  return kernel(work);
}

Estimate CostModel::decodeAttention(const AttentionShape& shape, int64_t splits) const {
  splits = std::max<int64_t>(splits, 1);
  const AttentionKey key{shape.rows, shape.heads, shape.kvHeads, shape.headDim, shape.context};
  if (std::optional<double> us = profile_.measured.attentionUs(key, splits)) {
    Estimate estimate = measuredEstimate(*us, shape.rows * shape.heads * splits);
    estimate.launches = splits > 1 ? 2 : 1;
    return estimate;
  }
  double rows = static_cast<double>(shape.rows);
  double kvBytes =
      rows * static_cast<double>(shape.context) * static_cast<double>(shape.kvHeads * shape.headDim) * 2.0 * 2.0;
  double qAndOut = 2.0 * f32Bytes(shape.rows, shape.heads * shape.headDim);
  double partials = rows * static_cast<double>(shape.heads) * static_cast<double>(splits) *
                    static_cast<double>(shape.headDim + 2) * 4.0;
  KernelWork work;
  work.family = kDecodeAttention.name;
  work.bytes = kvBytes + qAndOut + (splits > 1 ? partials : 0.0);
  work.ctas = shape.rows * shape.heads * splits;
  work.bytesInFlightPerCta = kDecodeAttention.bytesInFlightPerCta();
  Estimate estimate = kernel(work);
  if (splits == 1) return estimate;
  return estimate.then(rowKernel("flash-decoding-reduce", partials + qAndOut / 2.0, shape.rows * shape.heads));
}

std::string formatUs(double us) {
  if (!std::isfinite(us)) return "inf";
  if (us >= 1000.0) return fmt::format("{:.2f}ms", us / 1000.0);
  return fmt::format("{:.1f}us", us);
}

}  // namespace reel::passes
