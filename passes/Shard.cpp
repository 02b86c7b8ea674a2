// shard{tp=N}: every graph of the module becomes the program of one rank of N (SPMD, the
// same graph on every rank, each with its own piece of the weights; ir/TensorParallel.h),
// Megatron-style:
//
//  - q, k, v, gate and up are split by columns (their weights' rows, and their biases): each
//    rank computes n_heads / N query heads and n_kv_heads / N KV heads, or one replicated KV
//    head where N is a multiple of n_kv_heads (vLLM's remedy for few KV heads);
//  - attn_output and ffn_down are split by rows (their weights' columns): each rank's product
//    is a partial sum, completed by an `all_reduce`;
//  - the token embedding is split by vocabulary (`vocab_parallel_embedding`: each rank looks
//    up its own tokens, zeros for the others, then an `all_reduce`), and so is the output head,
//    whose per-rank logits are gathered (`all_gather`) before the argmax or sampling, which
//    every rank then computes alike.
//
// It runs first, on the generic @step: the split depends on the model, not on M, so it is
// made once and specialize-buckets copies it into every bucket; the decision passes after it
// see each rank's shapes and decide per rank as they decide for one GPU. It also shards
// bucket graphs made without it, but not graphs that the fusions or quantization passes
// have rewritten (it names the op it does not know).
#include "ir/TensorParallel.h"
#include "passes/DecisionSupport.h"
#include "passes/PassTable.h"
#include "support/Diagnostics.h"

#include <fmt/format.h>

#include <map>
#include <set>
#include <vector>

namespace reel::passes {
namespace {

constexpr const char* kPassName = "shard";

/// The ops of a graph straight from the model builder, the only ones the pass rewrites.
bool isBuilderOp(llvm::StringRef name) {
  static const std::set<std::string, std::less<>> names = {"input",    "weight",   "kv_cache", "output", "embedding",
                                                           "rms_norm", "matmul",   "bias_add", "rope",   "attention",
                                                           "add",      "silu_mul", "argmax",   "sample"};
  return names.count(name) != 0;
}

int64_t intAttr(const ir::Op& op, const char* name) {
  std::optional<int64_t> value = op.attrs().getInt(name);
  if (!value) failPlain("{} has no integer attribute '{}'", op.describe(), name);
  return *value;
}

/// How `attention`'s heads go to the ranks; throws the reason they do not.
ir::HeadSplit splitHeads(const ir::Op& attention, int64_t ranks) {
  const int64_t heads = intAttr(attention, "n_heads");
  const int64_t kvHeads = intAttr(attention, "n_kv_heads");
  if (std::optional<std::string> error = ir::headSplitError(heads, kvHeads, ranks))
    failPlain("{} ({})", *error, attention.describe());
  return ir::splitHeads(heads, kvHeads, ranks);
}

/// Rewrites one graph for `ranks` ranks.
class GraphSharder {
 public:
  GraphSharder(ir::Graph& graph, int64_t ranks, DecisionGroups& decisions)
      : graph_(graph), ranks_(ranks), decisions_(decisions) {}

  void run() {
    if (graph_.attrs().has("tp"))
      failPlain("graph @{} is already sharded (tp = {})", graph_.name(), ir::tensorParallelRanks(graph_));
    for (const std::unique_ptr<ir::Op>& op : graph_.ops())
      if (!isBuilderOp(op->name()))
        failPlain("graph @{}: {} is not an op of the model builder; shard runs before the passes that add it",
                  graph_.name(), op->describe());
    // The heads first: they are what a tp that does not fit the model names.
    for (const std::unique_ptr<ir::Op>& op : graph_.ops())
      if (op->name() == "attention") (void)splitHeads(*op, ranks_);
    for (ir::Op* op : graph_.opsSnapshot()) {
      const llvm::StringRef name = op->name();
      if (name == "attention") shardAttention(*op);
      if (name == "silu_mul") shardFeedForward(*op);
      if (name == "embedding") shardEmbedding(*op);  // erases op
      if (name == "argmax" || name == "sample") shardHead(*op);
    }
    graph_.attrs().set("tp", ranks_);
  }

 private:
  void shardAttention(ir::Op& attention) {
    const ir::HeadSplit split = splitHeads(attention, ranks_);
    const std::string subject = attention.result()->name();
    decisions_.add(
        subject,
        split.kvParts == ranks_ ? "heads split" : fmt::format("kv heads replicated x{}", ranks_ / split.kvParts),
        fmt::format("{} query and {} KV heads per rank", split.heads, split.kvHeads));
    splitColumns(attention.operand(0), ranks_, split.heads);
    splitColumns(attention.operand(1), split.kvParts, split.kvHeads);
    splitColumns(attention.operand(2), split.kvParts, split.kvHeads);
    for (unsigned cache : {3u, 4u}) {
      ir::Value* value = attention.operand(cache);
      ir::TensorType type = value->type();
      type.shape[1] = split.kvHeads;
      value->setType(type);
    }
    attention.attrs().set("n_heads", split.heads);
    attention.attrs().set("n_kv_heads", split.kvHeads);
    narrow(attention.result(), ranks_);
    for (ir::Op* user : usersOf(attention.result())) sumRowSplit(*user, attention.result());
  }

  void shardFeedForward(ir::Op& siluMul) {
    splitColumns(siluMul.operand(0), ranks_, 0);
    splitColumns(siluMul.operand(1), ranks_, 0);
    narrow(siluMul.result(), ranks_);
    for (ir::Op* user : usersOf(siluMul.result())) sumRowSplit(*user, siluMul.result());
  }

  /// embedding -> vocab_parallel_embedding + all_reduce.
  void shardEmbedding(ir::Op& embedding) {
    ir::Value* table = embedding.operand(1);
    splitWeight(table, 0, ranks_);
    ir::OpSpec local = specLike(embedding, "vocab_parallel_embedding", embedding.result()->name() + ".local");
    local.operands = {embedding.operand(0), table};
    ir::Value* part = graph_.create(local, &embedding)->result();
    ir::OpSpec sum = specLike(embedding, "all_reduce", embedding.result()->name() + ".sum");
    sum.operands = {part};
    ir::Value* whole = graph_.create(sum, &embedding)->result();
    embedding.result()->replaceAllUsesWith(whole);
    graph_.erase(&embedding);
  }

  /// The output head's logits: split by vocabulary, gathered before `chooser` reads them.
  void shardHead(ir::Op& chooser) {
    ir::Value* logits = chooser.operand(0);
    ir::Op* head = logits->producer();
    if (head->name() != "matmul")
      failPlain("{} reads logits from {}, not from the output head's matmul", chooser.describe(), head->describe());
    splitWeight(head->operand(1), 0, ranks_);
    narrow(logits, ranks_);
    ir::OpSpec gather = specLike(*head, "all_gather", logits->name() + ".all");
    gather.operands = {logits};
    gather.resultTypes = {wider(logits->type())};
    redirectUses(logits, graph_.create(gather, graph_.next(head))->result());
  }

  /// The projection behind an attention or SwiGLU operand, split by output columns:
  /// operand <- [rope] <- [bias_add] <- matmul. A rope gets `heads` heads per rank.
  void splitColumns(ir::Value* value, int64_t parts, int64_t heads) {
    ir::Op* op = value->producer();
    if (op->name() == "rope") {
      op->attrs().set("n_heads", heads);
      narrow(op->result(), parts);
      op = op->operand(0)->producer();
    }
    if (op->name() == "bias_add") {
      splitWeight(op->operand(1), 0, parts);
      narrow(op->result(), parts);
      op = op->operand(0)->producer();
    }
    if (op->name() != "matmul")
      failPlain("%{} does not come from a projection (matmul, then bias_add or rope): {}", value->name(),
                op->describe());
    splitWeight(op->operand(1), 0, parts);
    narrow(op->result(), parts);
  }

  /// A matmul reading the split columns `input` (attn_output, ffn_down): its weight split by
  /// columns, its partial product summed over the ranks.
  void sumRowSplit(ir::Op& user, ir::Value* input) {
    if (user.name() != "matmul" || user.operand(0) != input)
      failPlain("{} reads %{}, which is split over the ranks; only a projection (matmul) may", user.describe(),
                input->name());
    splitWeight(user.operand(1), 1, ranks_);
    ir::OpSpec sum = specLike(user, "all_reduce", user.result()->name() + ".sum");
    sum.operands = {user.result()};
    redirectUses(user.result(), graph_.create(sum, graph_.next(&user))->result());
  }

  /// Cuts weight `value` into `parts` along `axis` (1 part: whole, as it is). A weight read
  /// twice (tied embeddings) must be cut alike both times.
  void splitWeight(ir::Value* value, int64_t axis, int64_t parts) {
    ir::Op* weight = value->producer();
    if (weight->name() != "weight") failPlain("%{} is split over the ranks but is not a weight", value->name());
    if (parts == 1) return;
    const std::string name = weight->attrs().getString("name").value_or(value->name());
    if (std::optional<ir::WeightShard> done = ir::weightShard(*weight)) {
      if (done->axis == axis && done->parts == parts) return;
      failPlain("weight {} is read split along dim {} and along dim {}", name, done->axis, axis);
    }
    ir::TensorType type = value->type();
    const ir::Dim dim = type.shape[static_cast<size_t>(axis)];
    if (dim % parts != 0)
      failPlain("weight {}: dim {} of {} does not split into {} parts", name, axis, type.str(), parts);
    type.shape[static_cast<size_t>(axis)] = dim / parts;
    const int64_t block = ir::blockElems(type.elem);
    if (axis + 1 == type.rank() && type.shape.back() % block != 0)
      failPlain("weight {}: rows of {} split {} ways are {} {} elements, not whole {}-element blocks", name, dim, parts,
                dim / parts, ir::elemTypeName(type.elem).str(), block);
    value->setType(type);
    weight->attrs().set("shard_axis", axis);
    weight->attrs().set("shard_parts", parts);
  }

  /// An activation [M, W] becomes [M, W / parts] (once, where two paths reach it).
  void narrow(ir::Value* value, int64_t parts) {
    if (!narrowed_.insert(value).second) return;
    ir::TensorType type = value->type();
    type.shape.back() /= parts;
    value->setType(type);
  }

  [[nodiscard]] ir::TensorType wider(ir::TensorType type) const {
    type.shape.back() *= ranks_;
    return type;
  }

  static std::vector<ir::Op*> usersOf(ir::Value* value) {
    std::vector<ir::Op*> users;
    for (const ir::Use& use : value->uses()) users.push_back(use.user);
    return users;
  }

  /// Points every use of `from` but the one by `to`'s producer at `to`.
  static void redirectUses(ir::Value* from, ir::Value* to) {
    std::vector<ir::Use> uses(from->uses().begin(), from->uses().end());
    for (const ir::Use& use : uses)
      if (use.user != to->producer()) use.user->setOperand(use.index, to);
  }

  /// A one-result op named `name` in `like`'s layer, with `like`'s result type.
  static ir::OpSpec specLike(const ir::Op& like, llvm::StringRef name, const std::string& result) {
    ir::OpSpec spec;
    spec.name = name;
    spec.resultNames = {result};
    spec.resultTypes = {like.result()->type()};
    spec.layer = like.layer();
    spec.loc = like.loc();
    return spec;
  }

  ir::Graph& graph_;
  int64_t ranks_;
  DecisionGroups& decisions_;
  std::set<const ir::Value*> narrowed_;
};

class ShardPass : public Pass {
 public:
  bool runOnModule(ir::Module& module, PassContext& context) override {
    const int64_t ranks = options().getInt("tp");
    if (ranks == 1) return false;
    if (module.attrs.has("tp"))
      failPlain("module @{} is already sharded (tp = {})", module.name, *module.attrs.getInt("tp"));
    for (const std::unique_ptr<ir::Graph>& graph : module.graphs) {
      DecisionGroups decisions(kPassName, graph->name());
      GraphSharder(*graph, ranks, decisions).run();
      decisions.flush(context);
    }
    module.attrs.set("tp", ranks);
    context.report["tensor parallel"] = fmt::format(
        "{} ranks, each running the graphs on its pieces of the weights; the other figures are one rank's", ranks);
    return true;
  }
};

}  // namespace

std::unique_ptr<Pass> createShardPass() {
  return std::make_unique<ShardPass>();
}

}  // namespace reel::passes
