#pragma once
/// \file
/// Tensor parallelism in the IR (docs/ir.md, "Tensor parallel"). A sharded graph is the
/// program of one rank of a group of `tp` ranks, the same program on every rank (SPMD):
///
///   graph @step attributes {tp = 2} { ... }                 the ranks of the group
///   %wq = weight {name = "blk.0.attn_q.weight", shard_axis = 0, shard_parts = 2} : q8_0[128, 256]
///
/// A weight op with `shard_axis` and `shard_parts` holds one of `shard_parts` equal pieces of
/// its tensor cut along dim `shard_axis` of the IR's shape (0: rows, the output features of a
/// matrix; 1: columns, the row length), and its result type is the piece's shape. Rank r of
/// `tp` holds piece r * shard_parts / tp: piece r when the parts are the ranks, and each piece
/// on tp / shard_parts consecutive ranks when there are fewer parts (replicated KV heads).
///
/// The collectives are ops: `all_reduce` sums over the ranks, `all_gather` puts the ranks'
/// columns side by side, `vocab_parallel_embedding` looks tokens up in the rank's piece of
/// a table split by vocabulary (zero rows for the other ranks' tokens, summed by an
/// all_reduce after it).

#include "ir/Graph.h"
#include "ir/OpRegistry.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace reel::ir {

/// The most ranks a graph's `tp` may name (the verifier's bound, so that shapes times tp stay
/// far from overflow).
inline constexpr int64_t kMaxRanks = 1 << 16;

/// How a weight op's tensor is cut (its `shard_axis` and `shard_parts` attributes).
struct WeightShard {
  int64_t axis = 0;
  int64_t parts = 1;
};

/// How a model's heads go to the ranks.
struct HeadSplit {
  int64_t heads = 0;    ///< query heads per rank
  int64_t kvHeads = 0;  ///< KV heads per rank
  int64_t kvParts = 0;  ///< pieces of the K and V projections: the ranks, or n_kv_heads when replicated
};

/// Why `heads` query and `kvHeads` KV heads do not go to `ranks` ranks, or nullopt: each rank
/// needs whole query heads, and the KV heads split among the ranks or, where the ranks are a
/// multiple of them, are replicated (one per rank).
std::optional<std::string> headSplitError(int64_t heads, int64_t kvHeads, int64_t ranks);

/// The split of a model whose heads go to `ranks` ranks (headSplitError gives none).
HeadSplit splitHeads(int64_t heads, int64_t kvHeads, int64_t ranks);

/// The ranks a graph runs on: its `tp` attribute, 1 when it has none.
int64_t tensorParallelRanks(const Graph& graph);

/// The shard a weight op holds, or nullopt for a whole tensor (no shard attributes).
std::optional<WeightShard> weightShard(const Op& weightOp);

/// The piece of a tensor cut into `shard.parts` that rank `rank` of `ranks` holds.
int64_t shardPiece(const WeightShard& shard, int64_t rank, int64_t ranks);

/// The rule a weight op's shard attributes break (both or neither, axis within the rank,
/// parts dividing the graph's tp), or nullopt.
std::optional<std::string> checkWeightShard(const Op& weightOp);

/// The rule a graph's `tp` attribute breaks (an integer from 1 to kMaxRanks), or nullopt.
std::optional<std::string> checkGraphRanks(const Graph& graph);

/// The rule a module sharded for `tp` ranks breaks, or nullopt: each graph's `tp` is the
/// module's, and each attention's n_heads and n_kv_heads are the module's `heads` and
/// `kv_heads` (where it has them) divided by tp, or one replicated KV head where tp is a
/// multiple of kv_heads.
std::optional<std::string> checkModuleRanks(const Module& module);

/// The collective ops: all_reduce, all_gather, vocab_parallel_embedding.
const std::vector<OpDef>& collectiveOpDefs();

}  // namespace reel::ir
