/// fuse-rope-attention: in decode graphs, the two `rope` ops rotating an attention's q and k
/// fold into the attention, which takes the un-rotated q and k and carries the rotation as
/// `rope_*` attributes (rope_style, rope_freq_base, and the llama3 scaling keys). Its kernel
/// rotates each query head as it loads it, and rotates the new key as it appends it to the
/// KV cache: RoPE, KV append and attention become one launch instead of four.
///
/// Only where each row reads its own sequence's cache (strategy "decode"): in a prefill step the rows of one sequence
/// read each other's keys, so they must all be in the cache before any row attends. Both ropes must rotate at the
/// attention's positions with the same frequencies, and be read by nothing else.
///
/// Option `enable` (default true) turns the fusion off, for measuring it.

#include "ir/DecisionAttrs.h"
#include "passes/DecisionPasses.h"
#include "passes/DecisionSupport.h"

#include <fmt/format.h>

namespace reel::passes {
namespace {

constexpr const char* kPassName = "fuse-rope-attention";

/// The rope attributes an attention takes over (n_heads and head_dim it has already).
constexpr const char* kRotationKeys[] = {"style",           "freq_base",        "scaling",         "scale_factor",
                                         "low_freq_factor", "high_freq_factor", "original_context"};

const ir::Op* ropeOf(const ir::Op& attention, unsigned operand) {
  const ir::Op* producer = attention.operand(operand)->producer();
  return producer->name() == "rope" ? producer : nullptr;
}

bool sameRotation(const ir::Op& a, const ir::Op& b) {
  for (const char* key : kRotationKeys) {
    const ir::Attribute* x = a.attrs().find(key);
    const ir::Attribute* y = b.attrs().find(key);
    if ((x == nullptr) != (y == nullptr) || (x != nullptr && !(*x == *y))) return false;
  }
  return true;
}

/// Why `attention` keeps its ropes, or nullopt when they fold into it.
std::optional<std::string> whyNotFused(const ir::Op& attention) {
  std::string strategy = attention.attrs().getString("strategy").value_or("");
  if (strategy != ir::attentionStrategyName(ir::AttentionStrategy::Decode))
    return fmt::format("strategy \"{}\": rows read each other's keys", strategy);
  const ir::Op* q = ropeOf(attention, 0);
  const ir::Op* k = ropeOf(attention, 1);
  if (q == nullptr || k == nullptr) return std::string("q or k is not produced by a rope");
  const ir::Value* positions = attention.operand(5);
  if (q->operand(1) != positions || k->operand(1) != positions)
    return std::string("a rope rotates at other positions than the attention's");
  if (!sameRotation(*q, *k)) return std::string("q and k are rotated with different frequencies");
  for (const ir::Op* rope : {q, k})
    if (rope->result()->uses().size() != 1) return fmt::format("%{} has other readers", rope->result()->name());
  return std::nullopt;
}

void fuse(ir::Graph& graph, ir::Op& attention) {
  ir::Op* q = attention.operand(0)->producer();
  ir::Op* k = attention.operand(1)->producer();
  for (const char* key : kRotationKeys)
    if (const ir::Attribute* value = q->attrs().find(key)) attention.attrs().set(std::string("rope_") + key, *value);
  attention.setOperand(0, q->operand(0));
  attention.setOperand(1, k->operand(0));
  graph.erase(q);
  graph.erase(k);
}

class FuseRopeAttentionPass : public Pass {
 public:
  bool runOnGraph(ir::Graph& graph, PassContext& context) override {
    if (!options().getBool("enable")) return false;
    DecisionGroups decisions(kPassName, graph.name());
    bool changed = false;
    for (ir::Op* op : graph.opsSnapshot()) {
      if (op->name() != "attention") continue;
      if (std::optional<std::string> why = whyNotFused(*op)) {
        decisions.add(op->result()->name(), "separate rope", *why);
        continue;
      }
      decisions.add(op->result()->name(), "rotates q and k itself",
                    "rope q, rope k, KV append and attention in one launch");
      fuse(graph, *op);
      changed = true;
    }
    decisions.flush(context);
    return changed;
  }
};

}  // namespace

PassInfo fuseRopeAttentionPassInfo() {
  return {kPassName,
          "fold the ropes of a decode attention's q and k into it (rope_* attributes): one launch for RoPE, KV "
          "append and attention",
          "attention",
          {{"enable", OptionKind::Bool, "true", "false: keep the rope ops"}},
          [] { return std::make_unique<FuseRopeAttentionPass>(); }};
}

}  // namespace reel::passes
