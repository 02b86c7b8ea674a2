#include "runtime/reference/RefMatmul.h"

#include "ir/DecisionAttrs.h"
#include "kernels/MmaF16Shape.h"
#include "kernels/MmqShape.h"
#include "quant/QuantRef.h"
#include "runtime/reference/FastRound.h"
#include "runtime/reference/RefOps.h"
#include "support/Diagnostics.h"
#include "support/Parallel.h"

#include <algorithm>
#include <cmath>

namespace reel::reference {

namespace {

/// Dot product in f64 (four partial sums: fast, and order-independent enough for f64).
double dot(const float* a, const float* b, int64_t n) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += static_cast<double>(a[i]) * b[i];
    s1 += static_cast<double>(a[i + 1]) * b[i + 1];
    s2 += static_cast<double>(a[i + 2]) * b[i + 2];
    s3 += static_cast<double>(a[i + 3]) * b[i + 3];
  }
  for (; i < n; ++i) s0 += static_cast<double>(a[i]) * b[i];
  return (s0 + s1) + (s2 + s3);
}

float roundToFp8(float x) {
  return quant::fp8E4M3ToF32(quant::f32ToFp8E4M3(x));
}

float amax(const float* x, int64_t n) {
  float best = 0.0f;
  for (int64_t i = 0; i < n; ++i) best = std::max(best, std::fabs(x[i]));
  return best;
}

float fp8ScaleOf(float absMax) {
  return absMax > 0.0f ? absMax / quant::kFp8E4M3Max : 1.0f;
}

/// The activations as the kernel's dot product consumes them.
struct Activations {
  HostTensor q81;             ///< Dp4a with a DP4A weight type, Mma
  std::vector<float> values;  ///< every other case: rows * cols floats, rounded as the kernel does
  float fp8Scale = 1.0f;      ///< Fp8: s_x of the whole step
};

Activations prepare(const HostTensor& x, MatmulNumerics kernel, bool dp4aWeight) {
  Activations act;
  if (kernel == MatmulNumerics::Dp4a || kernel == MatmulNumerics::Mma) {
    act.q81 = x.kind == HostKind::Q8_1 ? x : quantizeRowsQ81(x);
    if (dp4aWeight || kernel == MatmulNumerics::Mma) return act;
    act.values.resize(static_cast<size_t>(x.rows * x.cols));
    for (int64_t r = 0; r < x.rows; ++r)
      quant::dequantizeRow(quant::QType::Q8_1, act.q81.q81Row(r), act.values.data() + r * x.cols, x.cols);
    return act;
  }
  if (x.kind != HostKind::F32) failPlain("reference matmul: q8_1 activations need kernel \"dp4a\" or \"mma\"");
  act.values = x.f32;
  if (kernel == MatmulNumerics::Hgemm || kernel == MatmulNumerics::MmaF16)
    for (float& v : act.values) v = roundToF16(v);
  if (kernel == MatmulNumerics::Fp8) {
    float absMax = 0.0f;
    for (int64_t r = 0; r < x.rows; ++r) absMax = std::max(absMax, amax(x.row(r), x.cols));
    act.fp8Scale = fp8ScaleOf(absMax);
    for (float& v : act.values) v = roundToFp8(v / act.fp8Scale);
  }
  return act;
}

/// Weight row n as the kernel reads it (dequantized, then rounded to fp16 / scaled fp8).
void weightRow(const MatmulWeight& weight, MatmulNumerics kernel, int64_t n, float* out) {
  const WeightView& view = *weight.view;
  if (kernel == MatmulNumerics::MmaF16) {
    std::vector<uint16_t> halves(static_cast<size_t>(view.cols));
    quant::dequantizeRowMmaF16(view.type, view.rowData(n), halves.data(), view.cols);
    for (int64_t i = 0; i < view.cols; ++i) out[i] = quant::f16ToF32(halves[static_cast<size_t>(i)]);
    return;
  }
  quant::dequantizeRow(view.type, view.rowData(n), out, view.cols);
  if (kernel == MatmulNumerics::Hgemm)
    for (int64_t i = 0; i < view.cols; ++i) out[i] = roundToF16(out[i]);
  if (kernel == MatmulNumerics::Fp8) {
    const float scale = (*weight.fp8RowScales)[static_cast<size_t>(n)];
    for (int64_t i = 0; i < view.cols; ++i) out[i] = roundToFp8(out[i] / scale);
  }
}

}  // namespace

MatmulNumerics numericsOf(const std::optional<std::string>& kernel) {
  if (!kernel) return MatmulNumerics::Float;
  const std::optional<ir::MatmulKernel> parsed = ir::parseMatmulKernel(*kernel);
  if (!parsed)
    failPlain("reference executor: unknown matmul kernel {} (expected dp4a, mma, hgemm, fp8, dequant-hgemm or mma-f16)",
              quoteForMessage(*kernel));
  switch (*parsed) {
    case ir::MatmulKernel::Dp4a:
      return MatmulNumerics::Dp4a;
    case ir::MatmulKernel::Mma:
      return MatmulNumerics::Mma;
    case ir::MatmulKernel::Hgemm:
    case ir::MatmulKernel::DequantHgemm:  // the same f16 weight, dequantized per use instead of held
      return MatmulNumerics::Hgemm;
    case ir::MatmulKernel::Fp8:
      return MatmulNumerics::Fp8;
    case ir::MatmulKernel::MmaF16:
      return MatmulNumerics::MmaF16;
  }
  return MatmulNumerics::Float;
}

std::vector<float> fp8WeightRowScales(const WeightView& view, unsigned threads) {
  std::vector<float> scales(static_cast<size_t>(view.rows));
  support::parallelFor(view.rows, threads, view.rows * view.cols, [&](int64_t begin, int64_t end) {
    std::vector<float> row(static_cast<size_t>(view.cols));
    for (int64_t r = begin; r < end; ++r) {
      quant::dequantizeRow(view.type, view.rowData(r), row.data(), view.cols);
      scales[static_cast<size_t>(r)] = fp8ScaleOf(amax(row.data(), view.cols));
    }
  });
  return scales;
}

HostTensor matmul(const HostTensor& x, const MatmulWeight& weight, MatmulNumerics kernel, const MatmulRun& run) {
  const WeightView& view = *weight.view;
  if (x.cols != view.cols)
    failPlain("reference matmul: activations have {} columns, weight '{}' rows have {}", x.cols, view.name, view.cols);
  const bool dp4aWeight = kernel == MatmulNumerics::Dp4a && quant::isDp4aWeightType(view.type);
  if (kernel == MatmulNumerics::Mma && !kernels::mmqSupports(view.type))
    failPlain("reference matmul: kernel \"mma\" has no kernel for weight '{}' of {} (it reads block-quantized weights)",
              view.name, quant::qtypeName(view.type));
  if (kernel == MatmulNumerics::MmaF16 && !kernels::mmaF16Supports(view.type))
    failPlain("reference matmul: kernel \"mma-f16\" has no kernel for weight '{}' of {} (it reads Q4_K weights)",
              view.name, quant::qtypeName(view.type));
  const bool missingScales =
      weight.fp8RowScales == nullptr || weight.fp8RowScales->size() != static_cast<size_t>(view.rows);
  if (kernel == MatmulNumerics::Fp8 && missingScales)
    failPlain("reference matmul: weight '{}' has no FP8 row scales", view.name);
  const Activations act = prepare(x, kernel, dp4aWeight);
  HostTensor y = HostTensor::zeros(HostKind::F32, x.rows, view.rows);
  const int64_t k = view.cols;
  const int64_t work = view.rows * k * std::max<int64_t>(x.rows, 4);
  support::parallelFor(view.rows, run.threads, work, [&](int64_t begin, int64_t end) {
    std::vector<float> w(static_cast<size_t>(k));
    for (int64_t n = begin; n < end; ++n) {
      if (dp4aWeight) {
        for (int64_t m = 0; m < x.rows; ++m)
          y.row(m)[n] = quant::dotQ81(view.type, view.rowData(n), act.q81.q81Row(m), k);
        continue;
      }
      if (kernel == MatmulNumerics::Mma) {
        for (int64_t m = 0; m < x.rows; ++m)
          y.row(m)[n] = quant::dotQ81Mma(view.type, view.rowData(n), act.q81.q81Row(m), k);
        continue;
      }
      weightRow(weight, kernel, n, w.data());
      for (int64_t m = 0; m < x.rows; ++m) {
        double sum = dot(w.data(), act.values.data() + m * k, k);
        if (kernel == MatmulNumerics::Fp8)
          sum *= static_cast<double>((*weight.fp8RowScales)[static_cast<size_t>(n)]) * act.fp8Scale;
        y.row(m)[n] = static_cast<float>(sum);
      }
    }
  });
  return y;
}

HostTensor embedding(const HostTensor& tokens, const WeightView& table) {
  HostTensor y = HostTensor::zeros(HostKind::F32, tokens.rows, table.cols);
  for (int64_t r = 0; r < tokens.rows; ++r) {
    const int32_t token = tokens.i32[static_cast<size_t>(r)];
    if (token < 0 || token >= table.rows)
      failPlain("embedding: token id {} (row {}) is outside the vocabulary of {} tokens", token, r, table.rows);
    quant::dequantizeRow(table.type, table.rowData(token), y.row(r), table.cols);
  }
  return y;
}

std::vector<float> dequantizeVector(const WeightView& view) {
  std::vector<float> values(static_cast<size_t>(view.rows * view.cols));
  for (int64_t r = 0; r < view.rows; ++r)
    quant::dequantizeRow(view.type, view.rowData(r), values.data() + r * view.cols, view.cols);
  return values;
}

}  // namespace reel::reference
