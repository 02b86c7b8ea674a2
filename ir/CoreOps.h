#pragma once
/// \file
/// The core ops of one decode step and the helpers their verifiers share; passes that
/// add fused ops reuse the helpers for their own rules.

#include "ir/Graph.h"
#include "ir/OpRegistry.h"

#include <optional>
#include <string>
#include <vector>

namespace reel::ir {

/// Definitions of the core ops: input, weight, kv_cache, output, embedding, rms_norm,
/// matmul, bias_add, rope, attention, add, silu_mul, argmax, sample, and the collectives of
/// a sharded graph (all_reduce, all_gather, vocab_parallel_embedding: ir/TensorParallel.h).
const std::vector<OpDef>& coreOpDefs();

/// Shared verifier checks: each returns the broken rule, or nullopt.
namespace check {
using Result = std::optional<std::string>;
/// `value` has element type `elem` and rank `rank`.
Result elemAndRank(const Value* value, llvm::StringRef what, ElemType elem, int64_t rank);
/// Two dims are equal.
Result sameDim(Dim a, Dim b, llvm::StringRef what);
/// `value` is produced by a `weight` op.
Result isWeight(const Value* value, llvm::StringRef what);
/// The integer attribute `name` exists and is positive; writes it to `out`.
Result positiveInt(const Op& op, llvm::StringRef name, int64_t& out);
/// The string attribute `name` exists and is one of `allowed`.
Result oneOf(const Op& op, llvm::StringRef name, llvm::ArrayRef<llvm::StringRef> allowed);
/// The shape [rows, cols] of a matmul: activations x[M, K] (f32 or q8_1) with weight
/// w[N, K]; writes N.
Result matmulShapes(const Value* x, const Value* w, Dim& n);
/// Result `index` of `op` is `f32Type`, or, for ops that may write their rows straight as
/// Q8_1 blocks (a folded quantize_q8_1, see fold-quantize), the same shape as q8_1 with a
/// static width that is a multiple of 32.
Result f32OrQ81Result(const Op& op, unsigned index, const TensorType& f32Type);
}  // namespace check

}  // namespace reel::ir
