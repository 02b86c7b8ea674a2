#pragma once
/// \file
/// How the DP4A GEMV maps weight rows to blocks (shared by its launcher and the kernel catalog,
/// whose launch dims a plan records), and what its instantiations support. How many row sets
/// a launch uses is a compile decision (select-launch-config, passes/LaunchPolicy.h) that
/// reaches the launcher as the kernel's `row_sets` argument.
///
/// A warp covers 4 rows (8 lanes per row); each lane streams `rowSets` rows, 4 apart, so a block
/// of kGemvKSplit warps owns 4 * rowSets consecutive rows.

#include "quant/QuantRef.h"

#include <array>
#include <cstdint>
#include <utility>

namespace reel::kernels {

/// Rows one warp's lanes cover at a time (8 lanes per row).
inline constexpr int kGemvRowsPerWarp = 4;

/// What k must be a multiple of for a weight type: a 256-element super-block (Q4_K, Q5_K, Q6_K), or
/// a 32-element block (Q8_0, Q5_0, Q5_1, Q4_0: the kernel finishes a row with a partial
/// 256-element unit).
constexpr int64_t gemvKMultiple(quant::QType type) {
  return static_cast<int64_t>(quant::blockElems(type)) == quant::kQK32 ? quant::kQK32 : quant::kQK_K;
}

/// The mixed-type stacks that have kernels, as (type of the first matrices, type of the last):
/// Q4_K then Q6_K (Q4_K_M's q, k and a Q6_K v). The catalog instantiates each
/// (forEachGemvMixedStack); fuse-qkv and select-launch-config stack only these.
inline constexpr std::array<std::pair<quant::QType, quant::QType>, 1> kGemvMixedStacks{{
    {quant::QType::Q4_K, quant::QType::Q6_K},
}};

/// Whether a mixed-type stack kernel exists for matrices of `type` followed by a last one of
/// `lastType`.
constexpr bool gemvMixedStackExists(quant::QType type, quant::QType lastType) {
  for (const auto& stack : kGemvMixedStacks)
    if (stack.first == type && stack.second == lastType) return true;
  return false;
}

/// A mixed-type stack's last matrix starts on a multiple of this many rows, so that no block
/// (at most 8 rows) holds rows of both types.
inline constexpr int kGemvMixedStackAlign = 8;

/// The row-set counts the kernel is instantiated for.
constexpr bool gemvRowSetsSupported(int rowSets) {
  return rowSets == 1 || rowSets == 2;
}

}  // namespace reel::kernels
