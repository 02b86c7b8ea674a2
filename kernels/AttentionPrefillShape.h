#pragma once
/// \file
/// How the tensor-core prefill attention (`attn_prefill_flash`, kernels/AttentionPrefill.cu)
/// tiles its work, shared by its launcher, the kernel catalog (launch dims, shape checks) and
/// select-attention (which head dims it applies to). Host and device code.
///
/// A block owns kFlashPrefillRows query rows (tokens) of one query head: each of its
/// kFlashPrefillWarps warps one 16-row m16 tile of `mma.sync` m16n8k16 (f16 in, f32 out). The
/// block walks the key positions its rows attend to in tiles of flashPrefillKeys(head_dim)
/// positions, staged in shared memory (K and V, double buffered with cp.async), and keeps each
/// row's online softmax in registers.

#include <cstdint>

namespace reel::kernels {

/// Query rows per block (4 warps x 16).
inline constexpr int kFlashPrefillRows = 64;
/// Warps per block; each owns 16 of the block's query rows.
inline constexpr int kFlashPrefillWarps = 4;

/// The head dims the kernel has instantiations for (multiples of 16, for whole m16n8k16 steps).
constexpr bool flashPrefillSupportsHeadDim(int64_t headDim) {
  return headDim == 32 || headDim == 64 || headDim == 128;
}

/// Key positions per shared-memory tile: 64, or 32 at head_dim 128, so that the two buffers of
/// K and V (rows padded by 8 halves) stay within 48 KB of static shared memory.
constexpr int flashPrefillKeys(int64_t headDim) {
  return headDim >= 128 ? 32 : 64;
}

/// Blocks along x: one per kFlashPrefillRows query rows.
constexpr int64_t flashPrefillRowBlocks(int64_t m) {
  return (m + kFlashPrefillRows - 1) / kFlashPrefillRows;
}

}  // namespace reel::kernels
