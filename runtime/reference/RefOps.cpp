#include "runtime/reference/RefOps.h"

#include "quant/QuantRef.h"
#include "models/RopeFactors.h"
#include "support/Diagnostics.h"

#include <cmath>

namespace reel::reference {

HostTensor rmsNorm(const HostTensor& x, const std::vector<float>& weight, double eps) {
  HostTensor y = HostTensor::zeros(HostKind::F32, x.rows, x.cols);
  for (int64_t r = 0; r < x.rows; ++r) {
    const float* in = x.row(r);
    double sumSquares = 0.0;
    for (int64_t i = 0; i < x.cols; ++i) sumSquares += static_cast<double>(in[i]) * in[i];
    const double scale = 1.0 / std::sqrt(sumSquares / static_cast<double>(x.cols) + eps);
    float* out = y.row(r);
    for (int64_t i = 0; i < x.cols; ++i)
      out[i] = static_cast<float>(static_cast<double>(in[i]) * scale * weight[static_cast<size_t>(i)]);
  }
  return y;
}

HostTensor rope(const HostTensor& x, const std::vector<int32_t>& positions, const RopeSpec& spec) {
  HostTensor y = x;
  const int64_t pairs = spec.headDim / 2;
  std::vector<double> cosines(static_cast<size_t>(pairs));
  std::vector<double> sines(static_cast<size_t>(pairs));
  for (int64_t r = 0; r < x.rows; ++r) {
    const int32_t position = positions[static_cast<size_t>(r)];
    if (position < 0) failPlain("rope: row {} has negative position {}", r, position);
    for (int64_t i = 0; i < pairs; ++i) {
      const double factor = spec.factors.empty() ? 1.0 : spec.factors[static_cast<size_t>(i)];
      const double angle = models::ropeAngle(position, i, spec.headDim, spec.freqBase, factor);
      cosines[static_cast<size_t>(i)] = std::cos(angle);
      sines[static_cast<size_t>(i)] = std::sin(angle);
    }
    for (int64_t h = 0; h < spec.heads; ++h) {
      const float* in = x.row(r) + h * spec.headDim;
      float* out = y.row(r) + h * spec.headDim;
      for (int64_t i = 0; i < pairs; ++i) {
        // norm: (2i, 2i+1); neox: (i, i + headDim/2)
        const int64_t a = spec.neox ? i : 2 * i;
        const int64_t b = spec.neox ? i + pairs : 2 * i + 1;
        const double c = cosines[static_cast<size_t>(i)];
        const double s = sines[static_cast<size_t>(i)];
        out[a] = static_cast<float>(in[a] * c - in[b] * s);
        out[b] = static_cast<float>(in[a] * s + in[b] * c);
      }
    }
  }
  return y;
}

HostTensor add(const HostTensor& a, const HostTensor& b) {
  HostTensor y = a;
  for (size_t i = 0; i < y.f32.size(); ++i) y.f32[i] += b.f32[i];
  return y;
}

HostTensor biasAdd(const HostTensor& x, const std::vector<float>& bias) {
  HostTensor y = x;
  for (int64_t r = 0; r < y.rows; ++r)
    for (int64_t i = 0; i < y.cols; ++i) y.row(r)[i] += bias[static_cast<size_t>(i)];
  return y;
}

HostTensor siluMul(const HostTensor& gate, const HostTensor& up) {
  HostTensor y = HostTensor::zeros(HostKind::F32, gate.rows, gate.cols);
  for (size_t i = 0; i < y.f32.size(); ++i) {
    const double g = gate.f32[i];
    y.f32[i] = static_cast<float>(g / (1.0 + std::exp(-g)) * up.f32[i]);
  }
  return y;
}

HostTensor argmaxRows(const HostTensor& logits) {
  HostTensor y = HostTensor::zeros(HostKind::I32, logits.rows, 1);
  for (int64_t r = 0; r < logits.rows; ++r) {
    const float* row = logits.row(r);
    int64_t best = 0;
    for (int64_t i = 1; i < logits.cols; ++i)
      if (row[i] > row[best] || (std::isnan(row[best]) && !std::isnan(row[i]))) best = i;
    y.i32[static_cast<size_t>(r)] = static_cast<int32_t>(best);
  }
  return y;
}

HostTensor quantizeRowsQ81(const HostTensor& x) {
  HostTensor y = HostTensor::zeros(HostKind::Q8_1, x.rows, x.cols);
  for (int64_t r = 0; r < x.rows; ++r) quant::quantizeQ81(x.row(r), y.q81Row(r), x.cols);
  return y;
}

}  // namespace reel::reference
