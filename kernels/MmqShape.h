#pragma once
/// \file
/// How the tensor-core matmul on quantized weights (`mmq_<qtype>`, kernels/Mmq.cu) tiles its
/// work, shared by its launcher, the kernel catalog (launch dims, shape checks) and the passes
/// that ask which weight types have it (select-precision). Host and device code.
///
/// A cluster of kMmqKSplit blocks owns kMmqRowsPerBlock weight rows and a tile of up to
/// kMmqMaxTokens activation rows (tokens). Block z of the cluster takes the K units u with
/// u % kMmqKSplit == z (a unit being a 256-element super-block of a K-quant or one 32-element
/// block otherwise); it stages its units' activations in shared memory, 256 elements at a time,
/// and its kMmqRowWarps warps each multiply 16 of the rows by them with int8 `mma.sync`, one
/// 32-element Q8_1 block (Q6_K: one 16-element scale group) at a time. Each output sums its
/// per-block terms in increasing unit order within a block, then the blocks' sums in order
/// z = 0, 1, 2, 3 (through distributed shared memory): the order quant::dotQ81Mma reproduces.

#include "quant/QType.h"

#include <cstdint>

namespace reel::kernels {

/// Warps of a block, each owning one m16 tile of rows.
inline constexpr int kMmqRowWarps = 4;
/// Weight rows per block (and per cluster).
inline constexpr int kMmqRowsPerBlock = 16 * kMmqRowWarps;
/// Blocks of a cluster; they split K.
inline constexpr int kMmqKSplit = 4;
/// Most tokens (activation rows) one block multiplies: 8 n8 tiles of the mma.
inline constexpr int kMmqMaxTokens = 64;

/// Whether `type` has an mmq kernel: every weight type of the DP4A GEMV (Q4_K, Q5_K, Q6_K, Q8_0,
/// Q4_0, Q5_0, Q5_1).
constexpr bool mmqSupports(quant::QType type) {
  using quant::QType;
  return type == QType::Q4_K || type == QType::Q5_K || type == QType::Q6_K || type == QType::Q8_0 ||
         type == QType::Q4_0 || type == QType::Q5_0 || type == QType::Q5_1;
}

/// Tokens of a block's tile for m activation rows: m rounded up to 8, 16, 32 or 64 (the
/// instantiations), at most kMmqMaxTokens.
constexpr int mmqTileTokens(int64_t m) {
  return m <= 8 ? 8 : m <= 16 ? 16 : m <= 32 ? 32 : kMmqMaxTokens;
}

/// Grid of an mmq launch: x over the token tiles (the tiles of one row block run side by side and
/// share its weights through L2), y over blocks of kMmqRowsPerBlock weight rows, z over the
/// kMmqKSplit blocks of a cluster.
struct MmqGrid {
  int64_t x = 0, y = 0, z = kMmqKSplit;
};
constexpr MmqGrid mmqGrid(int64_t n, int64_t m) {
  const int64_t tile = mmqTileTokens(m);
  return {(m + tile - 1) / tile, (n + kMmqRowsPerBlock - 1) / kMmqRowsPerBlock, kMmqKSplit};
}

/// Threads of an mmq block.
inline constexpr int kMmqThreads = 32 * kMmqRowWarps;

}  // namespace reel::kernels
