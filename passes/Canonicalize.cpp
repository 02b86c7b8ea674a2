// canonicalize: local rewrites that put the IR in one canonical form without changing
// what it computes. Each rewrite is a small function; the pass reports a change only when
// one of them fired, so running it twice changes nothing the second time.
//
//   merge-sources    duplicate source ops (weight, kv_cache, input: no operands, no side
//                    effects) with the same attributes and type become one; the first
//                    stays. (cse would merge them too; doing it here lets the sinking
//                    below see a single definition.)
//   sink-sources     a source op moves to just before its first user when computation
//                    separates them and both belong to the same layer (so layer blocks
//                    stay whole): weights read where they are used.
//   identity-rope    llama3 rope scaling with scale_factor = 1 is plain rope: the scaling
//                    attributes are dropped.
//   no-op-window     an attention window >= the module's context covers every position:
//                    the `window` attribute is dropped.
#include "ir/OpRegistry.h"
#include "passes/PassTable.h"

#include <llvm/ADT/DenseMap.h>
#include <llvm/ADT/StringMap.h>

namespace reel::passes {
namespace {

/// Ops without operands and without side effects that produce a value: what a graph reads.
bool isSource(const ir::Op& op) {
  return op.numOperands() == 0 && op.numResults() > 0 && !op.def().hasSideEffects;
}

/// What makes two source ops the same thing: op, attributes, result types.
std::string sourceIdentity(const ir::Op& op) {
  std::string key = op.name().str();
  key += op.attrs().str();
  for (unsigned i = 0; i < op.numResults(); ++i) key += ':' + op.result(i)->type().str();
  return key;
}

bool mergeDuplicateSources(ir::Graph& graph) {
  llvm::StringMap<ir::Op*> firstByIdentity;
  bool changed = false;
  for (ir::Op* op : graph.opsSnapshot()) {
    if (!isSource(*op)) continue;
    auto [it, inserted] = firstByIdentity.try_emplace(sourceIdentity(*op), op);
    if (inserted) continue;
    for (unsigned i = 0; i < op->numResults(); ++i) op->result(i)->replaceAllUsesWith(it->second->result(i));
    graph.erase(op);
    changed = true;
  }
  return changed;
}

/// The user of `op`'s results that comes first in graph order, or nullptr.
ir::Op* firstUser(const ir::Op& op, const llvm::DenseMap<const ir::Op*, size_t>& position) {
  ir::Op* first = nullptr;
  for (unsigned i = 0; i < op.numResults(); ++i)
    for (const ir::Use& use : op.result(i)->uses())
      if (!first || position.lookup(use.user) < position.lookup(first)) first = use.user;
  return first;
}

bool sinkSources(ir::Graph& graph) {
  std::vector<ir::Op*> ops = graph.opsSnapshot();
  llvm::DenseMap<const ir::Op*, size_t> position;
  position.reserve(ops.size());
  for (size_t i = 0; i < ops.size(); ++i) position[ops[i]] = i;
  // nextComputation[i]: the position of the first non-source op after position i.
  std::vector<size_t> nextComputation(ops.size() + 1, ops.size());
  for (size_t i = ops.size(); i-- > 1;) nextComputation[i - 1] = isSource(*ops[i]) ? nextComputation[i] : i;

  bool changed = false;
  for (size_t i = 0; i < ops.size(); ++i) {
    ir::Op* op = ops[i];
    if (!isSource(*op)) continue;
    ir::Op* user = firstUser(*op, position);
    if (!user || user->layer() != op->layer() || nextComputation[i] >= position[user]) continue;
    graph.move(op, user);
    changed = true;
  }
  return changed;
}

bool dropIdentityRopeScaling(ir::Graph& graph) {
  bool changed = false;
  for (const std::unique_ptr<ir::Op>& op : graph.ops()) {
    if (op->name() != "rope" || op->attrs().getString("scaling") != std::optional<std::string>("llama3")) continue;
    if (op->attrs().getFloat("scale_factor") != std::optional<double>(1.0)) continue;
    for (const char* key : {"scaling", "scale_factor", "low_freq_factor", "high_freq_factor", "original_context"})
      op->attrs().erase(key);
    changed = true;
  }
  return changed;
}

bool dropNoOpWindows(ir::Graph& graph, std::optional<int64_t> context) {
  if (!context) return false;
  bool changed = false;
  for (const std::unique_ptr<ir::Op>& op : graph.ops()) {
    if (op->name() != "attention") continue;
    std::optional<int64_t> window = op->attrs().getInt("window");
    if (window && *window >= *context) changed |= op->attrs().erase("window");
  }
  return changed;
}

class CanonicalizePass : public Pass {
 public:
  bool runOnModule(ir::Module& module, PassContext& /*context*/) override {
    std::optional<int64_t> maxContext = module.attrs.getInt("context");
    bool changed = false;
    for (const std::unique_ptr<ir::Graph>& graph : module.graphs) {
      changed |= mergeDuplicateSources(*graph);
      changed |= sinkSources(*graph);
      changed |= dropIdentityRopeScaling(*graph);
      changed |= dropNoOpWindows(*graph, maxContext);
    }
    return changed;
  }
};

}  // namespace

std::unique_ptr<Pass> createCanonicalizePass() {
  return std::make_unique<CanonicalizePass>();
}

}  // namespace reel::passes
