#pragma once
/// \file
/// The row-wise ops of the CPU reference: RMSNorm, RoPE, residual add, bias add, SwiGLU,
/// argmax and the Q8_1 activation quantizer. fp32 values, fp64 accumulation for sums.

#include "runtime/reference/HostTensor.h"

#include <cstdint>
#include <vector>

namespace reel::reference {

/// y = x / sqrt(mean(x^2) + eps) * w, per row (the mean in double).
HostTensor rmsNorm(const HostTensor& x, const std::vector<float>& weight, double eps);

/// How to rotate: the rope op's attributes.
struct RopeSpec {
  bool neox = false;  ///< rotate halves (neox) instead of adjacent pairs (norm)
  int64_t heads = 0;
  int64_t headDim = 0;
  double freqBase = 10000.0;
  std::vector<float> factors;  ///< per-pair divisors (llama3 scaling); empty = all 1
};

/// Rotates every head of every row of x by its row's position.
HostTensor rope(const HostTensor& x, const std::vector<int32_t>& positions, const RopeSpec& spec);

/// a + b elementwise.
HostTensor add(const HostTensor& a, const HostTensor& b);
/// x + bias on every row.
HostTensor biasAdd(const HostTensor& x, const std::vector<float>& bias);
/// silu(gate) * up elementwise.
HostTensor siluMul(const HostTensor& gate, const HostTensor& up);
/// The index of the largest value of each row; the lowest index on ties; NaN never wins.
HostTensor argmaxRows(const HostTensor& logits);
/// Each row quantized to Q8_1 blocks (quant::quantizeQ81, bit-exact with the GPU).
HostTensor quantizeRowsQ81(const HostTensor& x);

}  // namespace reel::reference
