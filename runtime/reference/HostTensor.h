#pragma once
/// \file
/// The values the CPU reference executor passes between ops: row-major 2-D tensors of
/// f32, i32 or Q8_1 blocks (the activation format of the DP4A kernels). A rank-1 tensor
/// (token ids, positions, argmax results) is stored as `rows` rows of one column.

#include "quant/QuantFormats.h"

#include <cstdint>
#include <vector>

namespace reel::reference {

/// The element kind of a HostTensor.
enum class HostKind : uint8_t { F32, I32, Q8_1 };

/// A dense row-major tensor of `rows` x `cols` elements.
struct HostTensor {
  HostKind kind = HostKind::F32;
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> f32;            ///< rows * cols (kind F32)
  std::vector<int32_t> i32;          ///< rows * cols (kind I32)
  std::vector<quant::BlockQ81> q81;  ///< rows * cols / 32 blocks (kind Q8_1)

  /// A zero-filled tensor of this kind and shape.
  static HostTensor zeros(HostKind kind, int64_t rows, int64_t cols) {
    HostTensor tensor;
    tensor.kind = kind;
    tensor.rows = rows;
    tensor.cols = cols;
    const auto count = static_cast<size_t>(rows * cols);
    if (kind == HostKind::F32) tensor.f32.assign(count, 0.0f);
    if (kind == HostKind::I32) tensor.i32.assign(count, 0);
    if (kind == HostKind::Q8_1) tensor.q81.assign(count / quant::kQK32, quant::BlockQ81{});
    return tensor;
  }

  /// Row r of an F32 tensor.
  [[nodiscard]] float* row(int64_t r) { return f32.data() + r * cols; }
  [[nodiscard]] const float* row(int64_t r) const { return f32.data() + r * cols; }
  /// Row r of a Q8_1 tensor: cols / 32 blocks.
  [[nodiscard]] const quant::BlockQ81* q81Row(int64_t r) const { return q81.data() + r * (cols / quant::kQK32); }
  [[nodiscard]] quant::BlockQ81* q81Row(int64_t r) { return q81.data() + r * (cols / quant::kQK32); }
};

}  // namespace reel::reference
