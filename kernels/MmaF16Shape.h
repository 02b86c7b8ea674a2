#pragma once
/// \file
/// How the f16 tensor-core matmul on quantized weights (`mma_f16_<qtype>`, kernels/MmaF16.cu)
/// tiles its work, shared by its launcher, the kernel catalog and the passes that ask which
/// weight types have it. Host and device code.
///
/// A cluster of kMmaF16KSplit blocks owns kMmaF16Rows weight rows and a tile of up to
/// kMmaF16MaxTokens tokens; block z of the cluster takes the z-th of kMmaF16KSplit contiguous
/// ranges of 256-element units of K, so that each SM reads only its part of the activations.
/// Each of the block's 4 warps multiplies 16 of the rows with `mma.sync` m16n8k16 on f16, the
/// weights dequantized in registers from the bytes a cp.async pipeline stages in shared memory.
/// The blocks' partial sums meet through distributed shared memory and are added in the order
/// z = 0, 1, 2, 3: the result does not depend on timing.

#include "quant/QType.h"

#include <cstdint>

namespace reel::kernels {

/// Weight rows of a block (4 warps of one m16 tile each).
inline constexpr int kMmaF16Rows = 64;
/// Blocks of a cluster; they split K.
inline constexpr int kMmaF16KSplit = 4;
/// Most tokens (activation rows) one block multiplies: 8 n8 tiles of the mma.
inline constexpr int kMmaF16MaxTokens = 64;
/// Threads of a block.
inline constexpr int kMmaF16Threads = 128;

/// Whether `type` has an mma_f16 kernel.
constexpr bool mmaF16Supports(quant::QType type) {
  return type == quant::QType::Q4_K;
}

/// Tokens of a block's tile for m activation rows: 16, 32 or 64 (the instantiations).
constexpr int mmaF16TileTokens(int64_t m) {
  return m <= 16 ? 16 : m <= 32 ? 32 : kMmaF16MaxTokens;
}

/// Pipeline stages of a tile (each stage one 256-element unit of every row and token): three
/// where two blocks fit an SM with them, two for the 64-token tile.
constexpr int mmaF16Stages(int tileTokens) {
  return tileTokens >= 64 ? 2 : 3;
}

/// Bytes of shared memory a stage takes: the rows' Q4_K super-blocks (144 bytes each) and the
/// tokens' 256 f16 activations at a pitch of 272 halves (the 32-byte pad keeps the B-fragment
/// loads free of bank conflicts).
inline constexpr int kMmaF16ActPitch = 272;
constexpr int mmaF16StageBytes(int tileTokens) {
  return kMmaF16Rows * 144 + tileTokens * kMmaF16ActPitch * 2;
}
constexpr int mmaF16SmemBytes(int tileTokens) {
  return mmaF16Stages(tileTokens) * mmaF16StageBytes(tileTokens);
}

/// Grid of an mma_f16 launch: x the K split (one cluster), y the row blocks, z the token tiles.
struct MmaF16Grid {
  int64_t x = 0, y = 0, z = 0;
};
constexpr MmaF16Grid mmaF16Grid(int64_t n, int64_t m) {
  const int64_t tile = mmaF16TileTokens(m);
  return {kMmaF16KSplit, (n + kMmaF16Rows - 1) / kMmaF16Rows, (m + tile - 1) / tile};
}

}  // namespace reel::kernels
