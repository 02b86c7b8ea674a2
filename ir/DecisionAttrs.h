#pragma once
/// \file
/// The schema of the attributes that record a pass's decision on an op or a graph, one enum
/// per concept, and the verifier's checks of them. Passes write them, lowering and the CPU
/// reference read them; every reader can rely on what these checks guarantee, so a
/// plugin's bad IR is refused by the verifier rather than somewhere in lowering.
///
///   op attribute           written by            values
///   kernel                 select-precision,      dp4a | mma | hgemm | fp8 | dequant-hgemm (q8_1 activations: dp4a
///                                                 or mma; f16 activations: hgemm or dequant-hgemm)
///                          the fusions
///   strategy               select-attention      decode | prefill | flash-prefill (attention only)
///   long_context_strategy  select-attention      flash-decoding, with splits >= 2 and context_threshold >= 1
///   row_chunk              select-launch-config  >= 1 (dp4a matmuls): activation rows per launch
///   stacks                 select-launch-config  counts >= 1 adding up to the weights (dp4a matmul, matmul_qkv)
///   row_sets               select-launch-config  >= 1, one per launch of the weights (dp4a matmuls)
///   layout                 select-launch-config  gguf | row-planar | fp8-per-row | f16 | f32 (weight ops)
///   workspace              select-launch-config  >= 1: bytes the op's launches use for the op alone
///   offsets                plan-memory           one arena offset per result, >= 0, or -1 for none
///   workspace_offset       plan-memory           >= 0: where the op's workspace starts in the arena
///   graph context_threshold  select-attention    >= 1: the KV length above which the long-context variant runs

#include "ir/Graph.h"

#include <llvm/ADT/StringRef.h>

#include <cstdint>
#include <optional>
#include <string>

namespace reel::ir {

/// The kernel family of a matmul-like op (its `kernel` attribute).
enum class MatmulKernel : uint8_t {
  Dp4a,   ///< GEMV on the weight's own qtype with Q8_1 activations (DP4A)
  Mma,    ///< tensor-core (mma.sync) kernel on the quantized weight, Q8_1 activations
  Hgemm,  ///< cuBLAS HGEMM on an FP16 copy of the weight
  Fp8,    ///< cuBLASLt FP8 GEMM on an FP8 copy of the weight
  /// the block-quantized weight dequantized to an f16 workspace right before cuBLAS HGEMM
  /// reads it (no held copy)
  DequantHgemm,
  /// tensor-core (mma.sync) kernel on f16 activations, the quantized weight dequantized to f16
  /// in registers (no copy, no workspace)
  MmaF16,
};
inline constexpr MatmulKernel kMatmulKernels[] = {MatmulKernel::Dp4a, MatmulKernel::Mma,          MatmulKernel::Hgemm,
                                                  MatmulKernel::Fp8,  MatmulKernel::DequantHgemm, MatmulKernel::MmaF16};
/// "dp4a", "mma", "hgemm", "fp8", "dequant-hgemm", "mma-f16".
const char* matmulKernelName(MatmulKernel kernel);
/// Parses a `kernel` value; nullopt if unknown.
std::optional<MatmulKernel> parseMatmulKernel(llvm::StringRef name);

/// The strategy of an attention op (its `strategy` attribute).
enum class AttentionStrategy : uint8_t {
  Decode,   ///< each row attends to its own sequence's cache up to its KV length (one kernel)
  Prefill,  ///< the rows of one sequence's chunk attend causally to the cache and each other
  /// as Prefill, on tensor cores: tiles of query rows against tiles of the cache (flash attention)
  FlashPrefill,
};
inline constexpr AttentionStrategy kAttentionStrategies[] = {AttentionStrategy::Decode, AttentionStrategy::Prefill,
                                                             AttentionStrategy::FlashPrefill};
/// "decode", "prefill", "flash-prefill".
const char* attentionStrategyName(AttentionStrategy strategy);
/// Parses a `strategy` value; nullopt if unknown.
std::optional<AttentionStrategy> parseAttentionStrategy(llvm::StringRef name);

/// How the GPU holds a weight tensor (a weight op's `layout` attribute): the layout the
/// kernel that reads it expects.
enum class WeightLayout : uint8_t {
  Gguf,       ///< the GGUF blocks as they are
  RowPlanar,  ///< quantized blocks repacked into per-row field planes (quant/QuantRef.h)
  Fp8PerRow,  ///< E4M3 with one f32 scale per row (scales after the data, 256-byte aligned)
  F16,        ///< dequantized to f16
  F32,        ///< dequantized to f32
};
inline constexpr WeightLayout kWeightLayouts[] = {WeightLayout::Gguf, WeightLayout::RowPlanar, WeightLayout::Fp8PerRow,
                                                  WeightLayout::F16, WeightLayout::F32};
/// "gguf", "row-planar", "fp8-per-row", "f16", "f32".
const char* weightLayoutName(WeightLayout layout);
/// Parses a `layout` value; nullopt if unknown.
std::optional<WeightLayout> parseWeightLayout(llvm::StringRef name);

/// The layout kernel family `kernel` reads a weight of `type` in: dp4a, mma and dequant-hgemm
/// read Q4_K and Q5_K as the file stores them and the other quantized types row-planar; hgemm an f16 copy (an f16
/// weight as stored); fp8 an E4M3 copy with row scales. The verifier holds every weight op's
/// `layout` to what its readers read (other readers than matmuls read `gguf`).
WeightLayout matmulWeightLayout(MatmulKernel kernel, ElemType type);

/// The rule of the table above that `op`'s attributes break, or nullopt.
std::optional<std::string> checkDecisionAttrs(const Op& op);
/// The rule `graph`'s own decision attributes break, or nullopt.
std::optional<std::string> checkGraphDecisionAttrs(const Graph& graph);

}  // namespace reel::ir
