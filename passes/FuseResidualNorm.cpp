/// fuse-residual-norm: a residual `add` whose sum feeds an `rms_norm` becomes one
/// `add_rms_norm` (results: the sum, still the residual stream, and the normed rows),
/// only where the cost model says the fused kernel is faster.
///
/// The fusion can lose: the fused kernel needs one CTA per row for the norm's reduction, so
/// the add's traffic moves from a (hidden / 256, M) grid to a (1, M) grid, and the lost
/// bandwidth can cost more than the saved launch (docs/design.md, "Residual + RMSNorm
/// fusion"). The cost model weighs exactly that (grid fill vs launch cost): it declines the
/// fusion where rows are few and rows are wide, and accepts it where the add's grid is no
/// wider than the norm's (small hidden sizes, launch-bound) or where the rows alone fill the
/// GPU.
///
/// Option `mode`: "cost" (default) decides by the cost model; "always" and "never"
/// override it (for measuring the model against the GPU).

#include "passes/CostModel.h"
#include "passes/DecisionPasses.h"
#include "passes/DecisionSupport.h"
#include "passes/FusedOps.h"

#include <fmt/format.h>

namespace reel::passes {
namespace {

constexpr const char* kPassName = "fuse-residual-norm";

/// The values of the option `mode`, in the order of its choices.
enum class FusionMode { Cost, Always, Never };

/// The cost-model verdict for one (rows, hidden) shape.
struct FusionVerdict {
  bool fuse = false;
  std::string reason;
};

FusionVerdict judge(const CostModel& model, int64_t rows, int64_t hidden, FusionMode mode) {
  Estimate add = model.residualAdd(rows, hidden);
  Estimate norm = model.rmsNorm(rows, hidden);
  Estimate separate = add.then(norm);
  Estimate fused = model.addRmsNorm(rows, hidden);
  FusionVerdict verdict;
  verdict.fuse = mode == FusionMode::Always || (mode == FusionMode::Cost && fused.us < separate.us);
  verdict.reason = fmt::format(
      "fused {} vs separate {} (add {} + rms_norm {}; launch {}) (M={}, hidden {}, {} SMs){}", fused.detail(),
      separate.str(), add.detail(), norm.detail(), formatUs(model.profile().launchCostUs), rows, hidden,
      model.profile().smCount,
      mode == FusionMode::Cost ? "" : fmt::format("; mode={}", mode == FusionMode::Always ? "always" : "never"));
  return verdict;
}

/// The residual add whose sum `norm` normalizes, or nullptr.
ir::Op* residualAddOf(const ir::Op& norm) {
  ir::Op* add = norm.operand(0)->producer();
  return add->name() == "add" ? add : nullptr;
}

/// The fused op takes the norm's place, so the sum must not be read between the two.
bool sumReadBeforeNorm(const ir::Op& add, const ir::Op& norm, const OpOrder& order) {
  size_t normAt = order.of(&norm);
  for (const ir::Use& use : add.result()->uses())
    if (use.user != &norm && order.of(use.user) < normAt) return true;
  return false;
}

void fuse(ir::Graph& graph, ir::Op& add, ir::Op& norm) {
  ir::OpSpec spec;
  spec.name = fused_ops::kAddRmsNorm;
  spec.operands = {add.operand(0), add.operand(1), norm.operand(1)};
  spec.resultTypes = {add.result()->type(), norm.result()->type()};
  spec.attrs = norm.attrs();
  spec.layer = norm.layer();
  spec.loc = norm.loc();
  replaceByFusedOp(graph, spec, {add.result(), norm.result()}, &norm);
}

class FuseResidualNormPass : public Pass {
 public:
  bool runOnGraph(ir::Graph& graph, PassContext& context) override {
    std::optional<BucketShape> bucket = bucketShape(graph);
    if (!bucket) return false;
    const auto mode = static_cast<FusionMode>(options().getChoice("mode"));
    CostModel model(context.profile);
    DecisionGroups decisions(kPassName, graph.name());
    OpOrder order(graph);
    bool changed = false;
    for (ir::Op* op : graph.opsSnapshot()) {
      if (op->name() != "rms_norm") continue;
      ir::Op* add = residualAddOf(*op);
      if (!add) continue;
      if (sumReadBeforeNorm(*add, *op, order)) {
        decisions.add(op->result()->name(), "separate", "the sum is read before the norm");
        continue;
      }
      const ir::TensorType& type = op->result()->type();
      FusionVerdict verdict = judge(model, type.shape[0], type.shape[1], mode);
      decisions.add(op->result()->name(), verdict.fuse ? "add_rms_norm" : "separate", verdict.reason);
      if (!verdict.fuse) continue;
      fuse(graph, *add, *op);
      changed = true;
    }
    decisions.flush(context);
    return changed;
  }
};

}  // namespace

PassInfo fuseResidualNormPassInfo() {
  PassInfo info{kPassName,
                "residual add + RMSNorm in one add_rms_norm kernel, only where the cost model says it wins",
                "fusion",
                {enumOption("mode", "cost", {"cost", "always", "never"},
                            "cost: ask the cost model; always / never: override it")},
                [] { return std::make_unique<FuseResidualNormPass>(); }};
  info.ops = {fusedOpDef(fused_ops::kAddRmsNorm)};
  return info;
}

}  // namespace reel::passes
