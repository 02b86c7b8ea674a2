// dce: removes ops without side effects whose results are all unused, transitively.
// One backward sweep suffices: every user of an op comes after it, so by the time the
// sweep reaches an op, all its users that were going to die are gone.
#include "ir/OpRegistry.h"
#include "passes/PassTable.h"

namespace reel::passes {
namespace {

/// True if erasing `op` cannot change what the graph computes.
bool isDead(const ir::Op& op) {
  return !op.def().hasSideEffects && !op.hasUsedResults();
}

class DcePass : public Pass {
 public:
  bool runOnGraph(ir::Graph& graph, PassContext& /*context*/) override {
    std::vector<ir::Op*> ops = graph.opsSnapshot();
    bool changed = false;
    for (auto it = ops.rbegin(); it != ops.rend(); ++it) {
      if (!isDead(**it)) continue;
      graph.erase(*it);
      changed = true;
    }
    return changed;
  }
};

}  // namespace

std::unique_ptr<Pass> createDcePass() {
  return std::make_unique<DcePass>();
}

}  // namespace reel::passes
