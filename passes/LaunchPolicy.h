#pragma once
/// \file
/// The launch policy of the DP4A GEMV: how many activation rows one launch takes, which weights
/// share a launch, and how many weight rows each lane streams. select-launch-config records
/// these choices on the IR (`row_chunk`, `stacks`, `row_sets`); the cost model predicts with the
/// same functions, so what it costs is what runs. What the kernels can do (their largest M,
/// their stack kernels, the row-set counts they are instantiated for) is the kernel table's
/// (kernels/KernelCatalog.h, kernels/GemvShape.h); what is worth doing is decided here.

#include "kernels/GemvShape.h"
#include "kernels/KernelCatalog.h"
#include "passes/Measurements.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace reel::passes {

/// Activation rows of one DP4A GEMV launch in a bucket of M rows: all of them, up to the
/// kernel's largest M; a larger bucket runs in chunks of that many rows.
constexpr int64_t gemvRowChunk(int64_t m) {
  return m < kernels::kGemvMaxM ? m : kernels::kGemvMaxM;
}

/// Row sets per lane for n rows of k columns at m activation rows, `matrices` matrices per row
/// (gate+up: 2). Two rows per lane halve the CTAs for the same bytes, which pays while the
/// launch keeps at least 512 CTAs of 8 rows (n >= 4096: every Llama-2-7B GEMV). Narrower
/// matrices (TinyLlama's 2048 rows) keep one row per lane, and so does gate+up at m = 2, the one
/// wide shape that runs slower with two. `kernel_bench --row-sets` times every shape both ways;
/// its figures are in docs/performance-log.md.
constexpr int gemvRowSets(int64_t n, int64_t m, int matrices) {
  if (matrices == 2 && m == 2) return 1;
  return n >= 4096 ? 2 : 1;
}

/// One weight of a matmul, as the stacking rule sees it.
struct StackWeight {
  quant::QType type = quant::QType::Q4_K;
  int64_t rows = 0;
};

/// The kernel table's id of one GEMV launch over `weights` (consecutive weights of a stack, as
/// gemvStacks groups them; gate+up: the gate weight alone with `gateUp`).
std::string gemvLaunchKernel(const std::vector<StackWeight>& weights, bool gateUp);

/// A row-set count and why.
struct RowSetsChoice {
  int rowSets = 1;
  std::string reason;
  std::optional<double> measuredUs;  ///< the chosen count's measured launch time, where measured
};

/// The row sets of one GEMV launch: the fastest count `measured` holds for the shape where it
/// holds one (`reel tune`), else gemvRowSets.
RowSetsChoice chooseGemvRowSets(const Measurements& measured, const GemvKey& key);

/// Alignment of each buffer within an op's workspace.
inline constexpr int64_t kWorkspaceAlign = 256;

/// The workspace of an FP8 matmul: the activations quantized to E4M3 (m x k bytes) at offset 0,
/// then their f32 scale at fp8ScaleOffset.
constexpr int64_t fp8ScaleOffset(int64_t m, int64_t k) {
  return (m * k + kWorkspaceAlign - 1) / kWorkspaceAlign * kWorkspaceAlign;
}
constexpr int64_t fp8Workspace(int64_t m, int64_t k) {
  return fp8ScaleOffset(m, k) + 4;
}

/// The workspace of a dequant-hgemm matmul: its n x k weight dequantized to f16, which the
/// HGEMM then reads (a transient weight: one per op, reused by the next op's workspace).
constexpr int64_t dequantHgemmWorkspace(int64_t n, int64_t k) {
  return (n * k * 2 + kWorkspaceAlign - 1) / kWorkspaceAlign * kWorkspaceAlign;
}

/// The workspace of flash-decoding: the splits' partial outputs (f32 [m][heads][splits][head_dim])
/// at offset 0, then their (max, sum of exp) pairs (f32 [m][heads][splits][2]) at
/// splitPairsOffset.
constexpr int64_t splitPairsOffset(int64_t m, int64_t heads, int64_t splits, int64_t headDim) {
  return (m * heads * splits * headDim * 4 + kWorkspaceAlign - 1) / kWorkspaceAlign * kWorkspaceAlign;
}
constexpr int64_t splitAttentionWorkspace(int64_t m, int64_t heads, int64_t splits, int64_t headDim) {
  return splitPairsOffset(m, heads, splits, headDim) + m * heads * splits * 8;
}

/// How the weights of a matmul (q, k, v of matmul_qkv; one for matmul) split into launches:
/// the count of consecutive weights each launch takes. Consecutive weights of one type share a
/// stacked launch (up to kGemvMaxStack), so the small K and V GEMVs share Q's ramp-up and tail;
/// a last weight of another type joins as the stack's last matrix where a mixed stack kernel
/// exists and the others' rows end on a block boundary (Q4_K_M's Q6_K attn_v).
std::vector<int64_t> gemvStacks(const std::vector<StackWeight>& weights);

}  // namespace reel::passes
