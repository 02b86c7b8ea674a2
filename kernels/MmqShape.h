#pragma once
/// \file
/// How the tensor-core matmul on quantized weights (`mmq_<qtype>`, kernels/Mmq.cu) tiles its
/// work, shared by its launcher, the kernel catalog (launch dims, shape checks) and the passes
/// that ask which weight types have it (select-precision). Host and device code.
///
/// A block owns kMmqRowsPerBlock weight rows and a tile of up to kMmqMaxTokens activation rows
/// (tokens); its kMmqKSplit warps split K (warp w takes the units u with u % kMmqKSplit == w,
/// a unit being a 256-element super-block of a K-quant or one 32-element block otherwise) and
/// each multiplies its 16 rows by the tile's tokens with int8 `mma.sync`, one 32-element Q8_1
/// block (Q6_K: one 16-element scale group) at a time. Each output sums its per-block terms in
/// increasing unit order within a warp, then the warps' sums in order w = 0, 1, 2, 3: the order
/// quant::dotQ81Mma reproduces bit for bit.

#include "quant/QType.h"

#include <cstdint>

namespace reel::kernels {

/// Weight rows per block (one m16 tile of the mma).
inline constexpr int kMmqRowsPerBlock = 16;
/// Warps of a block; they split K.
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
/// share its weights through L2), y over blocks of kMmqRowsPerBlock weight rows.
struct MmqGrid {
  int64_t x = 0, y = 0;
};
constexpr MmqGrid mmqGrid(int64_t n, int64_t m) {
  const int64_t tile = mmqTileTokens(m);
  return {(m + tile - 1) / tile, (n + kMmqRowsPerBlock - 1) / kMmqRowsPerBlock};
}

/// Threads of an mmq block.
inline constexpr int kMmqThreads = 32 * kMmqKSplit;

}  // namespace reel::kernels
