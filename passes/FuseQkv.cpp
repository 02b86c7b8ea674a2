/// fuse-qkv: the Q, K and V projections of one input become one `matmul_qkv` (three
/// results, one launch) where the three weights share a qtype and select-precision gave
/// all three the DP4A kernel. Biases stay as bias_adds on the fused results.
///
/// The projections are found from each attention op: its q, k and v operands, through a
/// rope and a bias_add, lead to three matmuls of the same activations. With Q4_K_M, a
/// layer whose attn_v is Q6_K keeps separate matmuls: the fused kernel reads one qtype.

#include "passes/CostModel.h"
#include "passes/DecisionPasses.h"
#include "passes/DecisionSupport.h"
#include "passes/FusedOps.h"

#include <fmt/format.h>

#include <array>

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
  ir::ElemType qtype = projections[0]->operand(1)->type().elem;
  for (ir::Op* op : projections) {
    if (op->operand(0) != x) return "q, k and v read different inputs";
    if (op->operand(1)->type().elem != qtype)
      return fmt::format("qtypes differ: {} vs {}", ir::elemTypeName(qtype).str(),
                         ir::elemTypeName(op->operand(1)->type().elem).str());
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

std::string costReason(const std::array<ir::Op*, 3>& projections, const CostModel& model, int64_t m) {
  MatmulShape fused = shapeOf(*projections[0], m);
  double separateUs = 0;
  for (ir::Op* op : projections) separateUs += model.matmul(shapeOf(*op, m), MatmulKernel::Dp4a).us;
  fused.n = 0;
  for (ir::Op* op : projections) fused.n += op->operand(1)->type().shape[0];
  return fmt::format("fused {} vs separate {} (M={}, N={}, K={} {})", model.matmul(fused, MatmulKernel::Dp4a).str(),
                     formatUs(separateUs), m, fused.n, fused.k, ir::elemTypeName(fused.weightType).str());
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
  PassInfo info{kPassName,
                "Q, K and V projections of one input in one matmul_qkv where qtypes match and all chose dp4a",
                "fusion",
                {{"enable", OptionKind::Bool, "true", "fuse at all"}},
                [] { return std::make_unique<FuseQkvPass>(); }};
  info.ops = {fusedOpDef(fused_ops::kMatmulQkv)};
  return info;
}

std::unique_ptr<Pass> createFuseQkvPass() {
  return createDecisionPass(kPassName);
}

}  // namespace reel::passes
