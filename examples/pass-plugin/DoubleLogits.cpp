// double-logits: an example plugin that adds an op of its own and carries it through every
// stage: the op `twice` (y = x + x) with a verifier, the pass `double-logits` that makes each
// argmax read twice its logits (doubling is exact in f32 short of overflow, so the argmax and
// the decoded tokens stay the same), a lowering hook that emits the catalog's `add` kernel and
// a CPU reference hook. The pass joins the default pipeline before plan-memory (which gives
// the new values their arena slots), so loading the plugin is enough to run it:
//   reel run tiny --synthetic --device cpu --load-pass-plugin=reel-double-logits.so
// See docs/writing-a-pass.md.
#include "codegen/OpLowering.h"
#include "ir/CoreOps.h"
#include "ir/Graph.h"
#include "passes/PluginApi.h"
#include "runtime/reference/OpExecution.h"
#include "runtime/reference/RefOps.h"

#include <memory>
#include <vector>

namespace {

using reel::ir::Op;

constexpr const char* kTwice = "twice";

/// `twice` takes one f32 [M, N] value and gives the same type.
std::optional<std::string> verifyTwice(const Op& op) {
  const reel::ir::Value* x = op.operand(0);
  if (auto broken = reel::ir::check::elemAndRank(x, "operand", reel::ir::ElemType::F32, 2)) return broken;
  if (!(op.result()->type() == x->type())) return "the result must have the operand's type";
  return std::nullopt;
}

class DoubleLogitsPass : public reel::passes::Pass {
 public:
  bool runOnGraph(reel::ir::Graph& graph, reel::passes::PassContext& /*context*/) override {
    bool changed = false;
    for (Op* argmax : graph.opsSnapshot()) {
      if (argmax->name() != "argmax") continue;
      reel::ir::Value* logits = argmax->operand(0);
      // Already doubled: running the pass again changes nothing.
      if (logits->producer()->name() == kTwice) continue;
      reel::ir::OpSpec spec;
      spec.name = kTwice;
      spec.operands.push_back(logits);
      spec.resultNames.push_back(logits->name() + ".twice");
      spec.resultTypes.push_back(logits->type());
      argmax->setOperand(0, graph.create(spec, argmax)->result());
      changed = true;
    }
    return changed;
  }
};

/// One launch of `add` with the operand as both summands.
void lowerTwice(const Op& op, reel::codegen::LoweringContext& context) {
  const reel::codegen::BufferRef x = context.value(op.operand(0));
  const int64_t elements = context.rows() * op.result()->type().shape.back();
  reel::codegen::KernelLaunch launch{"add", {x, x, context.value(op.result())}, {elements}};
  launch.activationBytes = 2 * elements * 4;
  context.emit(op, std::move(launch));
}

void runTwice(const Op& op, reel::reference::ExecutionContext& context) {
  const reel::reference::HostTensor& x = context.operand(op, 0);
  context.setResult(op, 0, reel::reference::add(x, x));
}

void registerPasses(reel::passes::PassRegistrar& registrar) {
  reel::passes::PassInfo info{"double-logits",
                              "make each argmax read twice its logits (op twice: same tokens, one more launch)",
                              "memory",
                              {},
                              [] { return std::make_unique<DoubleLogitsPass>(); }};
  info.ops = {{kTwice, "y = x + x, elementwise (f32 [M, N])", 1, 1, 1, false, verifyTwice}};
  // plan-memory gives the new values their arena slots.
  info.insertBefore = "plan-memory";
  registrar.addPass(std::move(info));
  reel::codegen::registerOpLowering(kTwice, lowerTwice);
  reel::reference::registerOpExecution(kTwice, runTwice);
}

}  // namespace

extern "C" REEL_PLUGIN_EXPORT reel_plugin_info reelGetPassPluginInfo(void) {
  return {REEL_PLUGIN_API_VERSION, "double-logits", "1.0", registerPasses};
}
