#pragma once
/// \file
/// The kernel catalog: every GPU kernel (and cuBLAS/cuBLASLt library call) reel can put into a
/// schedule, by string id, with its argument signature and the function that computes its launch
/// dimensions from its integer arguments. Host-only (no CUDA headers): codegen picks ids, binds
/// arguments in the catalog's order and records the dims; the runtime replays them through
/// KernelRegistry.h.
///
/// Argument conventions:
///  * Three ordered lists: device pointers, int64 scalars, float scalars (KernelArgs).
///  * Activations are f32 row-major [m][...] unless stated; "m" is the number of rows (tokens or
///    sequences) of the step; rows past the live ones are padding and may hold anything.
///  * Step data (token ids, positions, KV slots, KV lengths) are int32 device arrays.
///  * DP4A GEMV and mmq weights: Q4_K and Q5_K in the GGUF layout; Q6_K/Q8_0/Q5_0/Q5_1/Q4_0 in the
///    row-planar repack (quant::repackRowPlanar). Q8_1 activations in the row-planar layout
///    (quant::q81RowBytes).
///  * KV caches: f16 [slot][pos][n_kv_heads][head_dim], max_ctx positions per slot.
///
/// Each kernel is described once: its arguments by a typed signature (kernels/KernelArgs.h, whose
/// field visit gives the flat lists' order and the docs) and its entry in KernelCatalog.cpp (id,
/// family, doc, check, footprint; the launch dims by signature). Codegen fills the typed
/// signatures by field name and packs them; the registry (KernelRegistry.cu) unpacks them for its
/// launchers, bound by the same signature.
///
/// Every entry states the footprint of each pointer argument as a function of the int args: the
/// bytes the kernel may touch from where the pointer points. Plans are checked against them
/// (codegen/PlanCheck.h) before any launch.

#include "kernels/DequantShape.h"
#include "kernels/GemvShape.h"
#include "kernels/KernelArgs.h"
#include "kernels/MmaF16Shape.h"
#include "kernels/MmqShape.h"
#include "kernels/SampleMath.h"
#include "quant/QuantRef.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace reel::kernels {

using quant::QType;

/// Grid, block and dynamic shared memory of one launch.
struct LaunchDims {
  std::array<uint32_t, 3> grid{1, 1, 1};
  std::array<uint32_t, 3> block{1, 1, 1};
  uint32_t smemBytes = 0;
  bool operator==(const LaunchDims& o) const { return grid == o.grid && block == o.block && smemBytes == o.smemBytes; }
  bool operator!=(const LaunchDims& o) const { return !(*this == o); }
};

inline constexpr int kMaxPtrArgs = 10;
inline constexpr int kMaxIntArgs = 12;
inline constexpr int kMaxFloatArgs = 6;

/// The bound arguments of one launch, in the catalog's order. `library` is the host context of
/// library steps (a kernels::BlasContext*, see Blas.h); null for plain kernels.
struct KernelArgs {
  std::array<void*, kMaxPtrArgs> ptrs{};
  std::array<int64_t, kMaxIntArgs> ints{};
  std::array<float, kMaxFloatArgs> floats{};
  void* library = nullptr;
};

/// A plain CUDA kernel, or a library call (cuBLAS/cuBLASLt) that needs a BlasContext.
enum class KernelKind { Kernel, Library };

/// Computes the launch dims from the int args (in catalog order; KernelArgs::ints.data()).
using DimsFn = LaunchDims (*)(const int64_t* ints);
/// Returns an empty string when the int args are supported, else why not.
using CheckFn = std::string (*)(const int64_t* ints);

// ---- footprints ----------------------------------------------------------------------------

/// Largest value of any int argument: checkKernelArgs refuses a negative one or one above this,
/// so that no product of a few of them overflows in a kernel's own index arithmetic.
inline constexpr int64_t kMaxIntArg = INT32_MAX;

/// What a footprint is when its arithmetic overflows: more than any buffer holds.
inline constexpr int64_t kFootprintOverflow = INT64_MAX;
/// a * b, saturating at kFootprintOverflow; a negative operand gives kFootprintOverflow too.
constexpr int64_t saturatingMul(int64_t a, int64_t b) {
  int64_t product = 0;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &product)) return kFootprintOverflow;
  return product;
}
/// a + b, saturating as saturatingMul.
constexpr int64_t saturatingAdd(int64_t a, int64_t b) {
  int64_t sum = 0;
  if (a < 0 || b < 0 || __builtin_add_overflow(a, b, &sum)) return kFootprintOverflow;
  return sum;
}

/// How a kernel uses a pointer argument, which limits what the argument may point to. Some
/// kernels trust the values of step data as indices (a KV slot, a KV length, a prefill row's
/// position bounds the KV positions it reads): those arguments must be the runtime's own step
/// inputs, whose values it checks before every step, and no argument a kernel writes may point
/// into those step inputs.
enum class PtrUse : uint8_t {
  Read,       ///< read only: any buffer
  Write,      ///< written (perhaps read too): any buffer but the step inputs the kernels trust
  KvCache,    ///< a K or V cache, f16 [slot][max_ctx][n_kv_heads][head_dim]: the footprint is one slot's
  Slots,      ///< the step's KV slots (step input 3), read
  Positions,  ///< the step's positions (step input 1), read
  KvLens,     ///< the step's KV lengths (step input 2), read
};

/// The bytes one pointer argument may touch, counted from where it points, and how it is used.
struct PtrFootprint {
  int64_t bytes = -1;  ///< -1: the entry states none (a catalog bug); kFootprintOverflow: overflowed
  PtrUse use = PtrUse::Read;
  int64_t kvPositions = 0;  ///< KvCache: the positions per slot the kernel assumes (its max_ctx)
};
/// One PtrFootprint per pointer argument, in catalog order (the rest unset).
using Footprint = std::array<PtrFootprint, kMaxPtrArgs>;
/// Computes the footprints from the int args (catalog order, kMaxIntArgs of them). Defined for
/// every int value: what overflows is kFootprintOverflow.
using FootprintFn = Footprint (*)(const int64_t* ints);

/// One catalog entry. Each arg description reads "name: meaning".
struct KernelInfo {
  std::string id;           ///< e.g. "gemv_dp4a_q4_k"
  std::string_view family;  ///< e.g. "gemv"
  KernelKind kind = KernelKind::Kernel;
  std::vector<std::string_view> ptrArgs;
  std::vector<std::string_view> intArgs;
  std::vector<std::string_view> floatArgs;
  std::string_view doc;
  DimsFn dims = nullptr;
  CheckFn check = nullptr;
  FootprintFn footprint = nullptr;
  const void* signature = nullptr;  ///< args::signatureTag of the entry's typed signature
};

/// Every kernel, in a stable order.
const std::vector<KernelInfo>& kernelCatalog();
/// The entry of `id`, or null.
const KernelInfo* findKernel(std::string_view id);
/// Why the int args (kMaxIntArgs of them, catalog order) cannot launch `id` ("" when they can;
/// "unknown kernel" for a bad id): each must be in [0, kMaxIntArg], then pass the entry's check.
std::string checkKernelArgs(std::string_view id, const int64_t* ints);
/// The name of an argument: its description up to the colon ("w_gate" of "w_gate: gate weights").
std::string_view argName(std::string_view description);
/// Where the int argument named `name` is in `k`'s int args, or -1 where it has none.
int intArgIndex(const KernelInfo& k, std::string_view name);
/// The launch dims of `id` for these int args (default dims for an unknown id).
LaunchDims kernelDims(std::string_view id, const int64_t* ints);

// ---- the qtype-parametrized families -------------------------------------------------

/// A list of tensor types known at compile time: the catalog's entries and the registry's
/// launchers of a qtype-parametrized family are both instantiated from one such list.
template <QType... Types>
struct QTypeList {
  static constexpr std::array<QType, sizeof...(Types)> values{Types...};
  /// Calls f(std::integral_constant<QType, T>{}) for each type T.
  template <typename F>
  static void forEach(F&& f) {
    (f(std::integral_constant<QType, Types>{}), ...);
  }
};

/// The weight types of the DP4A GEMVs: each gets gemv_dp4a_<t>, gemv_dp4a_gate_up_<t> and
/// gemv_dp4a_stack<2|3>_<t> (catalog entries and launchers). A type added here also needs its
/// kernel instantiation (kernels/Gemv.cu) and its layout (GemvShape.h, quant::needsRowPlanar).
using GemvWeightTypes =
    QTypeList<QType::Q4_K, QType::Q6_K, QType::Q8_0, QType::Q5_0, QType::Q4_0, QType::Q5_K, QType::Q5_1>;
/// The embedding tables' types (embed_<t>, GGUF layout).
using EmbedTableTypes = QTypeList<QType::F32, QType::F16, QType::BF16, QType::Q8_0, QType::Q5_0, QType::Q4_K,
                                  QType::Q6_K, QType::Q4_0, QType::Q5_K, QType::Q5_1>;
template <typename F, size_t... I>
void forEachGemvMixedStackAt(F& f, std::index_sequence<I...> /*unused*/) {
  (f(std::integral_constant<QType, kGemvMixedStacks[I].first>{},
     std::integral_constant<QType, kGemvMixedStacks[I].second>{}),
   ...);
}
/// Calls f(first, last) as integral_constants for each mixed-type stack of kGemvMixedStacks
/// (GemvShape.h).
template <typename F>
void forEachGemvMixedStack(F&& f) {
  forEachGemvMixedStackAt(f, std::make_index_sequence<kGemvMixedStacks.size()>{});
}

/// Calls f(std::integral_constant<QType, T>{}) for each GEMV weight type T that also has a
/// tensor-core matmul (mmqSupports, kernels/MmqShape.h): the mmq_<t> entries and launchers.
template <typename F>
void forEachMmqWeightType(F&& f) {
  GemvWeightTypes::forEach([&](auto t) {
    if constexpr (mmqSupports(decltype(t)::value)) f(t);
  });
}

// ---- ids of the qtype-parametrized families ------------------------------------------

/// "gemv_dp4a_<qtype>": out = W x for a Q8_1 activation (GemvWeightTypes).
std::string gemvKernelId(QType weightType);
/// "gemv_dp4a_gate_up_<qtype>": two weights, one activation, two outputs.
std::string gemvGateUpKernelId(QType weightType);
/// "gemv_dp4a_stack<2|3>_<qtype>": 2 or 3 matrices of one type and k (q, k, v) in one launch.
std::string gemvStackedKernelId(QType weightType, int matrices);
/// "gemv_dp4a_stack<2|3>_<qtype>_<last qtype>": a stack whose last matrix has another type (in
/// the catalog: Q4_K with a last Q6_K, Q4_K_M's q, k and v), the last starting on a multiple of
/// 8 rows.
std::string gemvMixedStackKernelId(QType weightType, QType lastType, int matrices);
/// "mmq_<qtype>": out = W x for any number of Q8_1 activation rows on tensor cores
/// (forEachMmqWeightType).
std::string mmqKernelId(QType weightType);
/// "mma_f16_<qtype>": out = W x for any number of f16 activation rows on tensor cores, W
/// dequantized in registers (mmaF16Supports: Q4_K).
std::string mmaF16KernelId(QType weightType);
/// "dequant_f16_<qtype>": W dequantized to f16 rows, the weight of dequant-hgemm's HGEMM
/// (GemvWeightTypes).
std::string dequantF16KernelId(QType weightType);
/// "embed_<qtype>": embedding rows from a table in the GGUF layout (EmbedTableTypes).
std::string embedKernelId(QType tableType);
/// The one GEMV launch over `matrices` consecutive weights of a matmul whose first has `type`
/// and last `lastType`: gate+up (`gateUp`, the gate's type), one matrix, a stack, or a mixed
/// stack. Every caller that names a GEMV launch (select-launch-config, lowering, reel tune)
/// asks here.
std::string gemvLaunchKernelId(QType type, QType lastType, int matrices, bool gateUp);

// ---- launch dims (also what the typed launchers use) ----------------------------------

/// Largest m of the DP4A GEMV kernels.
inline constexpr int kGemvMaxM = 8;
/// Most matrices one stacked GEMV launch serves (fuse-qkv's q, k and v).
inline constexpr int kGemvMaxStack = 3;
/// The DP4A GEMV's grid for n rows (of each matrix: gate+up's two share a block) with
/// `rowSets` rows per lane: a block owns 4 * rowSets rows (kernels/GemvShape.h).
LaunchDims gemvDims(int64_t n, int rowSets);
/// The mmq grid (kernels/MmqShape.h: x over token tiles, y over 16-row blocks), kMmqThreads per block.
LaunchDims mmqDims(int64_t n, int64_t m);
/// The mma_f16 grid (kernels/MmaF16Shape.h: x the K split of a cluster, y over 64-row blocks, z
/// over token tiles), kMmaF16Threads per block and the pipeline's shared memory.
LaunchDims mmaF16Dims(int64_t n, int64_t m);
/// The f16 dequantization (kernels/DequantShape.h): dequantF16Blocks(n, k) blocks of kDequantThreads.
LaunchDims dequantF16Dims(int64_t n, int64_t k);
LaunchDims quantizeQ81Dims(int64_t m, int64_t k);
LaunchDims rowKernelDims(int64_t m, int64_t n);  ///< one block of 256 threads per row (FP8 conversion)
LaunchDims argmaxDims(int64_t m, int64_t n);     ///< one block per row, 1024 threads for vocabulary-sized rows
/// One block of 1024 threads per row; dynamic shared memory: a bit per column (n <= kSampleMaxVocab).
LaunchDims sampleDims(int64_t m, int64_t n);
/// RMSNorm: one block per row, one float4 per thread where the row allows (up to 1024 threads),
/// so a row's loads are in flight at once.
LaunchDims normDims(int64_t m, int64_t n);
LaunchDims elementwiseDims(int64_t count);  ///< grid-stride elementwise kernels
LaunchDims ropeDims(int64_t m, int64_t nHeads, int64_t nKvHeads, int64_t headDim);
LaunchDims embedDims(int64_t m, int64_t n);

/// Largest query heads per KV head, and head_dim, of the attention kernels.
inline constexpr int kAttnMaxGroup = 8;
inline constexpr int kAttnMaxHeadDim = 256;
/// The attention kernels' instantiations cover query heads per KV head up to 1, 2, 4 or 8.
constexpr int attnGroupCap(int64_t group) {
  return group <= 1 ? 1 : (group <= 2 ? 2 : (group <= 4 ? 4 : 8));
}
/// Warps per attention block (its warps take turns over the KV positions, 4 at a time): as many
/// as keep the block's partial results within 48 KB of shared memory. Decode attention is
/// latency-bound: more warps put more KV rows in flight per round trip.
constexpr int attnWarps(int groupCap, int headDimCap) {
  return groupCap * headDimCap <= 512 ? 16 : (groupCap * headDimCap <= 1024 ? 8 : 4);
}
LaunchDims attentionDims(int64_t m, int64_t nHeads, int64_t nKvHeads, int64_t headDim, int64_t splits);
LaunchDims attentionReduceDims(int64_t m, int64_t nHeads, int64_t headDim);
/// attn_prefill_flash (kernels/AttentionPrefillShape.h): x over tiles of 64 query rows, y over the
/// query heads, 4 warps, static shared memory only.
LaunchDims flashPrefillDims(int64_t m, int64_t nHeads);
LaunchDims kvAppendDims(int64_t m, int64_t nKvHeads, int64_t headDim);

/// Human-readable listing of the catalog (ids, args, docs), for `reel kernels` and docs.
std::string describeCatalog();

}  // namespace reel::kernels
