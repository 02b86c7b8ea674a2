/// fuse-qkv: the Q, K and V projections of one input become one `matmul_qkv` (three
/// results) where select-precision gave all three the DP4A kernel. Consecutive weights of
/// one qtype run in one launch, so their small GEMVs share one ramp-up and tail: one launch
/// for q, k and v, also for Q4_K_M's layers whose attn_v is Q6_K (a mixed stack; other type
/// changes start a launch). Biases stay as bias_adds on the fused results.
///
/// The projections are found from each attention op: its q, k and v operands, through a
/// rope and a bias_add, lead to three matmuls of the same activations.

#include "passes/CostModel.h"
#include "passes/DecisionPasses.h"
#include "passes/DecisionSupport.h"
#include "passes/FusedOps.h"

#include <fmt/format.h>

#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

namespace reel::passes {
namespace {

constexpr const char* kPassName = "fuse-qkv";

/// The matmul behind an attention operand: operand <- [rope] <- [bias_add] <- matmul.
ir::Op* projectionBehind(ir::Value* value) {
  ir::Op* op = value->producer();
  if (op->name() == "rope") op = op->operand(0)->producer();
  if (op->name() == "bias_add") op = op->operand(0)->producer();
  return op->name() == "matmul" ? op : nullptr;
}

/// Why the three projections cannot be fused, or "" if they can.
std::string blocker(const std::array<ir::Op*, 3>& projections) {
  for (ir::Op* op : projections)
    if (!op) return "q, k or v does not come from a matmul";
  if (projections[0] == projections[1] || projections[1] == projections[2] || projections[0] == projections[2])
    return "q, k and v share a projection";
  ir::Value* x = projections[0]->operand(0);
  std::string kernel = projections[0]->attrs().getString("kernel").value_or("");
  for (ir::Op* op : projections) {
    if (op->operand(0) != x) return "q, k and v read different inputs";
    std::string opKernel = op->attrs().getString("kernel").value_or("");
    if (opKernel != "dp4a")
      return opKernel.empty() ? "no kernel chosen (run select-precision first)"
                              : fmt::format("kernel {} (fusion needs dp4a)", opKernel);
    if (opKernel != kernel) return "kernels differ";
  }
  if (x->type().elem != ir::ElemType::F32) return "activations already quantized";
  return "";
}

MatmulShape shapeOf(const ir::Op& matmul, int64_t m) {
  const ir::TensorType& w = matmul.operand(1)->type();
  return {m, w.shape[0], w.shape[1], w.elem};
}

/// Whether codegen lowers a last weight of `last` type into the stacked launch of a run of
/// `run`-typed weights with `rows` rows (its mixed-stack kernel: Q4_K then Q6_K, the last
/// matrix starting on a multiple of 8 rows: kernels/GemvShape.h's gemvMixedStackExists and
/// kGemvMixedStackAlign, which passes do not link).
bool joinsRun(ir::ElemType run, ir::ElemType last, int64_t rows) {
  return run == ir::ElemType::Q4_K && last == ir::ElemType::Q6_K && rows % 8 == 0;
}

/// The fused cost: one stacked GEMV per run of consecutive weights of one qtype, a last weight
/// of another type joining the run where codegen has a mixed stack for it (as lowered).
std::string costReason(const std::array<ir::Op*, 3>& projections, const CostModel& model, int64_t m) {
  double separateUs = 0;
  for (ir::Op* op : projections) separateUs += model.matmul(shapeOf(*op, m), MatmulKernel::Dp4a).us;
  Estimate fused;
  MatmulShape run = shapeOf(*projections[0], m);
  std::vector<std::string> qtypes;
  int64_t rows = 0;
  bool joined = false;
  for (size_t i = 0; i < projections.size(); ++i) {
    MatmulShape shape = shapeOf(*projections[i], m);
    qtypes.push_back(ir::elemTypeName(shape.weightType).str());
    rows += shape.n;
    if (i > 0 && shape.weightType == run.weightType) {
      run.n += shape.n;
    } else if (i > 0) {
      joined = i + 1 == projections.size() && joinsRun(run.weightType, shape.weightType, run.n);
      fused = fused.then(model.matmul(run, MatmulKernel::Dp4a));
      run = shape;
    }
  }
  fused = fused.then(model.matmul(run, MatmulKernel::Dp4a));
  if (joined) {  // the last two runs share one launch
    fused.us -= model.profile().launchCostUs;
    fused.launches -= 1;
  }
  const bool uniform = std::all_of(qtypes.begin(), qtypes.end(), [&](const std::string& t) { return t == qtypes[0]; });
  return fmt::format("fused {} vs separate {} (M={}, N={}, K={} {})", fused.str(), formatUs(separateUs), m, rows, run.k,
                     uniform ? qtypes[0] : fmt::format("{}", fmt::join(qtypes, "+")));
}

/// Builds the matmul_qkv replacing the three projections, before the first of them;
/// weights defined after that point move up to it.
void fuse(ir::Graph& graph, const std::array<ir::Op*, 3>& projections, const OpOrder& order) {
  ir::Op* first = projections[0];
  for (ir::Op* op : projections)
    if (order.of(op) < order.of(first)) first = op;
  for (ir::Op* op : projections) {
    ir::Op* weight = op->operand(1)->producer();
    if (order.of(weight) > order.of(first)) graph.move(weight, first);
  }
  ir::OpSpec spec;
  spec.name = fused_ops::kMatmulQkv;
  spec.operands = {first->operand(0), projections[0]->operand(1), projections[1]->operand(1),
                   projections[2]->operand(1)};
  std::vector<ir::Value*> old;
  for (ir::Op* op : projections) {
    spec.resultTypes.push_back(op->result()->type());
    old.push_back(op->result());
  }
  spec.attrs.set("kernel", std::string("dp4a"));
  spec.layer = first->layer();
  spec.loc = first->loc();
  replaceByFusedOp(graph, spec, old, first);
}

class FuseQkvPass : public Pass {
 public:
  bool runOnGraph(ir::Graph& graph, PassContext& context) override {
    std::optional<BucketShape> bucket = bucketShape(graph);
    if (!bucket || !options().getBool("enable")) return false;
    CostModel model(context.profile);
    DecisionGroups decisions(kPassName, graph.name());
    OpOrder order(graph);
    bool changed = false;
    for (ir::Op* op : graph.opsSnapshot()) {
      if (op->name() != "attention") continue;
      std::array<ir::Op*, 3> projections{projectionBehind(op->operand(0)), projectionBehind(op->operand(1)),
                                         projectionBehind(op->operand(2))};
      std::string subject = op->result()->name();
      std::string why = blocker(projections);
      if (!why.empty()) {
        decisions.add(subject, "separate", why);
        continue;
      }
      decisions.add(subject, "matmul_qkv", costReason(projections, model, bucket->m));
      fuse(graph, projections, order);
      changed = true;
    }
    decisions.flush(context);
    return changed;
  }
};

}  // namespace

PassInfo fuseQkvPassInfo() {
  PassInfo info{
      kPassName,
      "Q, K and V projections of one input in one matmul_qkv where all chose dp4a (one stacked launch per qtype run; "
      "a Q6_K v joins Q4_K q, k)",
      "fusion",
      {{"enable", OptionKind::Bool, "true", "fuse at all"}},
      [] { return std::make_unique<FuseQkvPass>(); }};
  info.ops = {fusedOpDef(fused_ops::kMatmulQkv)};
  return info;
}

}  // namespace reel::passes
