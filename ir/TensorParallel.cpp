#include "ir/TensorParallel.h"

#include "ir/CoreOps.h"

#include <fmt/format.h>

namespace reel::ir {

std::optional<std::string> headSplitError(int64_t heads, int64_t kvHeads, int64_t ranks) {
  if (heads < 1 || kvHeads < 1 || ranks < 1)
    return fmt::format("n_heads {}, n_kv_heads {} and tp {} must be positive", heads, kvHeads, ranks);
  if (heads % ranks != 0)
    return fmt::format("tp {} does not divide n_heads {}: each rank needs whole query heads", ranks, heads);
  if (kvHeads % ranks != 0 && ranks % kvHeads != 0)
    return fmt::format(
        "tp {} and n_kv_heads {}: neither divides the other, so the KV heads can be neither split nor replicated",
        ranks, kvHeads);
  return std::nullopt;
}

HeadSplit splitHeads(int64_t heads, int64_t kvHeads, int64_t ranks) {
  if (kvHeads % ranks == 0) return {heads / ranks, kvHeads / ranks, ranks};
  return {heads / ranks, 1, kvHeads};
}

int64_t tensorParallelRanks(const Graph& graph) {
  return graph.attrs().getInt("tp").value_or(1);
}

std::optional<WeightShard> weightShard(const Op& weightOp) {
  std::optional<int64_t> axis = weightOp.attrs().getInt("shard_axis");
  std::optional<int64_t> parts = weightOp.attrs().getInt("shard_parts");
  if (!axis || !parts) return std::nullopt;
  return WeightShard{*axis, *parts};
}

int64_t shardPiece(const WeightShard& shard, int64_t rank, int64_t ranks) {
  return rank * shard.parts / ranks;
}

std::optional<std::string> checkWeightShard(const Op& weightOp) {
  const bool hasAxis = weightOp.attrs().has("shard_axis");
  const bool hasParts = weightOp.attrs().has("shard_parts");
  if (!hasAxis && !hasParts) return std::nullopt;
  if (hasAxis != hasParts) return std::string("attributes 'shard_axis' and 'shard_parts' go together");
  std::optional<WeightShard> shard = weightShard(weightOp);
  if (!shard) return std::string("attributes 'shard_axis' and 'shard_parts' must be integers");
  const int64_t rank = weightOp.result()->type().rank();
  if (shard->axis < 0 || shard->axis >= rank)
    return fmt::format("shard_axis {} is not a dim of {}", shard->axis, weightOp.result()->type().str());
  const int64_t ranks = tensorParallelRanks(weightOp.graph());
  if (shard->parts < 2 || ranks % shard->parts != 0)
    return fmt::format("shard_parts {} must be at least 2 and divide the graph's tp {}", shard->parts, ranks);
  return std::nullopt;
}

std::optional<std::string> checkGraphRanks(const Graph& graph) {
  if (!graph.attrs().has("tp")) return std::nullopt;
  std::optional<int64_t> ranks = graph.attrs().getInt("tp");
  if (!ranks || *ranks < 1 || *ranks > kMaxRanks)
    return fmt::format("graph @{}: attribute 'tp' must be an integer from 1 to {}", graph.name(), kMaxRanks);
  return std::nullopt;
}

namespace {

/// The rule `attention`'s head counts break for a model of `heads` and `kvHeads` on `ranks`.
std::optional<std::string> checkRankHeads(const Op& attention, int64_t heads, int64_t kvHeads, int64_t ranks) {
  if (std::optional<std::string> error = headSplitError(heads, kvHeads, ranks)) return error;
  const HeadSplit split = splitHeads(heads, kvHeads, ranks);
  const int64_t rankHeads = attention.attrs().getInt("n_heads").value_or(0);
  const int64_t rankKvHeads = attention.attrs().getInt("n_kv_heads").value_or(0);
  if (rankHeads == split.heads && rankKvHeads == split.kvHeads) return std::nullopt;
  return fmt::format(
      "{} has n_heads {} and n_kv_heads {}, but a model of {} heads and {} KV heads on tp {} ranks "
      "has {} and {} per rank",
      attention.describe(), rankHeads, rankKvHeads, heads, kvHeads, ranks, split.heads, split.kvHeads);
}

}  // namespace

std::optional<std::string> checkModuleRanks(const Module& module) {
  if (!module.attrs.has("tp")) return std::nullopt;
  const std::optional<int64_t> ranks = module.attrs.getInt("tp");
  if (!ranks || *ranks < 1 || *ranks > kMaxRanks)
    return fmt::format("module @{}: attribute 'tp' must be an integer from 1 to {}", module.name, kMaxRanks);
  const std::optional<int64_t> heads = module.attrs.getInt("heads");
  const std::optional<int64_t> kvHeads = module.attrs.getInt("kv_heads");
  for (const std::unique_ptr<Graph>& graph : module.graphs) {
    if (tensorParallelRanks(*graph) != *ranks)
      return fmt::format("module @{} has tp {}, its graph @{} tp {}", module.name, *ranks, graph->name(),
                         tensorParallelRanks(*graph));
    if (!heads || !kvHeads) continue;
    for (const std::unique_ptr<Op>& op : graph->ops())
      if (op->name() == "attention")
        if (std::optional<std::string> error = checkRankHeads(*op, *heads, *kvHeads, *ranks))
          return fmt::format("graph @{}: {}", graph->name(), *error);
  }
  return std::nullopt;
}

namespace {

using check::Result;

/// The graph's tp for a collective op, which needs one.
Result ranksOf(const Op& op, int64_t& ranks) {
  if (!op.graph().attrs().has("tp"))
    return fmt::format("a collective needs the graph's 'tp' attribute (the ranks of the group)");
  ranks = tensorParallelRanks(op.graph());
  return std::nullopt;
}

/// The graph's tp and the f32 [M, N] input of all_reduce and all_gather.
Result collectiveInput(const Op& op, int64_t& ranks) {
  if (Result r = ranksOf(op, ranks)) return r;
  return check::elemAndRank(op.operand(0), "input", ElemType::F32, 2);
}

Result verifyAllReduce(const Op& op) {
  int64_t ranks = 0;
  if (Result r = collectiveInput(op, ranks)) return r;
  const Value* x = op.operand(0);
  if (op.result()->type() != x->type())
    return fmt::format("result must be {}, got {}", x->type().str(), op.result()->type().str());
  return std::nullopt;
}

Result verifyAllGather(const Op& op) {
  int64_t ranks = 0;
  if (Result r = collectiveInput(op, ranks)) return r;
  const Value* x = op.operand(0);
  const Dim width = x->type().shape[1];
  if (width < 0) return fmt::format("input width must be static, got {}", x->type().str());
  TensorType expected(ElemType::F32, {x->type().shape[0], width * ranks});
  if (op.result()->type() != expected)
    return fmt::format("result must be {} (tp {} x the input's columns), got {}", expected.str(), ranks,
                       op.result()->type().str());
  return std::nullopt;
}

Result verifyVocabParallelEmbedding(const Op& op) {
  int64_t ranks = 0;
  if (Result r = ranksOf(op, ranks)) return r;
  const Value* tokens = op.operand(0);
  const Value* table = op.operand(1);
  if (Result r = check::elemAndRank(tokens, "token ids", ElemType::I32, 1)) return r;
  if (Result r = check::isWeight(table, "table")) return r;
  if (table->type().rank() != 2) return fmt::format("table must have rank 2, got {}", table->type().str());
  std::optional<WeightShard> shard = weightShard(*table->producer());
  if (!shard || shard->axis != 0 || shard->parts != ranks)
    return fmt::format("table %{} must be split by vocabulary into the graph's tp {} parts (shard_axis = 0)",
                       table->name(), ranks);
  TensorType expected(ElemType::F32, {tokens->type().shape[0], table->type().shape[1]});
  if (op.result()->type() != expected)
    return fmt::format("result must be {}, got {}", expected.str(), op.result()->type().str());
  return std::nullopt;
}

}  // namespace

const std::vector<OpDef>& collectiveOpDefs() {
  static const std::vector<OpDef> defs = {
      {"all_reduce", "the sum over the ranks of the group of each rank's tensor", 1, 1, 1, false, verifyAllReduce},
      {"all_gather", "the ranks' tensors side by side, rank 0's columns first", 1, 1, 1, false, verifyAllGather},
      {"vocab_parallel_embedding",
       "rows of the rank's vocabulary piece of the table by token id; zero rows for tokens of other ranks", 2, 2, 1,
       false, verifyVocabParallelEmbedding},
  };
  return defs;
}

}  // namespace reel::ir
