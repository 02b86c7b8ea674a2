#pragma once
/// \file
/// The launch shape of the f16 dequantization (`dequant_f16_<qtype>`, kernels/Dequant.h), shared
/// by its launcher and the kernel catalog (launch dims). Host and device code, no CUDA headers.

#include <cstdint>

namespace reel::kernels {

/// Threads of a dequant block.
inline constexpr int kDequantThreads = 256;

/// Blocks of a dequant launch of an n x k weight (k a multiple of 32): one thread per 32 elements.
constexpr int64_t dequantF16Blocks(int64_t n, int64_t k) {
  const int64_t groups = n * (k / 32);
  return (groups + kDequantThreads - 1) / kDequantThreads;
}

}  // namespace reel::kernels
