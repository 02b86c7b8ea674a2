// count-ops: an example pass plugin. It annotates every graph with the number of its ops,
// `op_count = N`, or with the number of one kind of op: `count-ops{op=matmul}` sets
// `matmul_count = N`. See docs/writing-a-pass.md.
#include "ir/Graph.h"
#include "ir/OpRegistry.h"
#include "passes/PluginApi.h"

#include <memory>

namespace {

using reel::passes::OptionKind;
using reel::passes::Pass;
using reel::passes::PassContext;

class CountOpsPass : public Pass {
 public:
  bool runOnGraph(reel::ir::Graph& graph, PassContext& /*context*/) override {
    std::string only = options().getString("op");
    if (only != "all" && !reel::ir::lookupOp(only)) throw reel::Error("count-ops: unknown op '" + only + "'");
    int64_t count = 0;
    for (const std::unique_ptr<reel::ir::Op>& op : graph.ops())
      if (only == "all" || op->name() == only) ++count;
    std::string attribute = only == "all" ? "op_count" : only + "_count";
    // Report a change only when the annotation is new or different.
    if (graph.attrs().getInt(attribute) == count) return false;
    graph.attrs().set(attribute, count);
    return true;
  }
};

void registerPasses(reel::passes::PassRegistrar& registrar) {
  registrar.addPass({"count-ops",
                     "annotate each graph with its number of ops (op_count) or of one op (<op>_count)",
                     "cleanup",
                     {{"op", OptionKind::String, "all", "the op to count, or all"}},
                     [] { return std::make_unique<CountOpsPass>(); }});
}

}  // namespace

extern "C" REEL_PLUGIN_EXPORT reel_plugin_info reelGetPassPluginInfo(void) {
  return {REEL_PLUGIN_API_VERSION, "count-ops", "1.0", registerPasses};
}
