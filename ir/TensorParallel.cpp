#include "ir/TensorParallel.h"

#include "ir/CoreOps.h"

#include <fmt/format.h>

namespace reel::ir {

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
  if (!ranks || *ranks < 1) return fmt::format("graph @{}: attribute 'tp' must be an integer >= 1", graph.name());
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

Result verifyAllReduce(const Op& op) {
  int64_t ranks = 0;
  if (Result r = ranksOf(op, ranks)) return r;
  const Value* x = op.operand(0);
  if (Result r = check::elemAndRank(x, "input", ElemType::F32, 2)) return r;
  if (op.result()->type() != x->type())
    return fmt::format("result must be {}, got {}", x->type().str(), op.result()->type().str());
  return std::nullopt;
}

Result verifyAllGather(const Op& op) {
  int64_t ranks = 0;
  if (Result r = ranksOf(op, ranks)) return r;
  const Value* x = op.operand(0);
  if (Result r = check::elemAndRank(x, "input", ElemType::F32, 2)) return r;
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
