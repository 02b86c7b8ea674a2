/// fuse-gate-up: the FFN gate and up projections become one `matmul_gate_up` (two
/// results, one launch, one Q8_1 quantization of the input) where the fused DP4A GEMV
/// applies (docs/design.md, "Decision rules"):
///   - both weights Q4_K                      (option require-q4k, default true)
///   - min-m <= M <= max-m                    (options; defaults: the profile's, 2 and 8)
///   - the GPU has DP4A                       (profile)
///   - not prefill, and both matmuls chose dp4a: this also covers "HGEMM decode off"
///     and "FP8 will not fire", since select-precision picks hgemm / fp8 instead of dp4a
///     exactly then.
/// The pair is found from each silu_mul: its gate and up operands, two matmuls of the
/// same activations.
///
/// min-m is 2 for profiles that do not say. The Hopper profiles say 1: the fused GEMV reads
/// both weights in one pass, faster than the two GEMVs apart, and the M = 1 decode step gains
/// from it (docs/performance-log.md).

#include "passes/CostModel.h"
#include "passes/DecisionPasses.h"
#include "passes/DecisionSupport.h"
#include "passes/FusedOps.h"

#include <fmt/format.h>

namespace reel::passes {
namespace {

constexpr const char* kPassName = "fuse-gate-up";

struct GateUpConditions {
  bool requireQ4k = true;
  int64_t minM = 2;
  int64_t maxM = 8;
  bool dp4a = true;
};

struct GateUpPair {
  ir::Op* gate = nullptr;
  ir::Op* up = nullptr;
};

std::optional<GateUpPair> pairOf(const ir::Op& siluMul) {
  ir::Op* gate = siluMul.operand(0)->producer();
  ir::Op* up = siluMul.operand(1)->producer();
  if (gate->name() != "matmul" || up->name() != "matmul" || gate == up) return std::nullopt;
  return GateUpPair{gate, up};
}

std::string kernelOf(const ir::Op& matmul) {
  return matmul.attrs().getString("kernel").value_or("");
}

/// Why the pair may not be fused in this bucket, or "" if it may. The conditions in the
/// order of the list above.
std::string blocker(const GateUpPair& pair, const BucketShape& bucket, const GateUpConditions& conditions) {
  ir::ElemType gateType = pair.gate->operand(1)->type().elem;
  ir::ElemType upType = pair.up->operand(1)->type().elem;
  if (pair.gate->operand(0) != pair.up->operand(0)) return "gate and up read different inputs";
  if (pair.gate->operand(0)->type().elem != ir::ElemType::F32) return "activations already quantized";
  if (pair.gate->operand(1)->type() != pair.up->operand(1)->type()) return "gate and up weights differ in type";
  if (conditions.requireQ4k && (gateType != ir::ElemType::Q4_K || upType != ir::ElemType::Q4_K))
    return fmt::format("weights {} / {}, not both q4_k (require-q4k)", ir::elemTypeName(gateType).str(),
                       ir::elemTypeName(upType).str());
  if (bucket.m < conditions.minM) return fmt::format("M={} < min-m={}", bucket.m, conditions.minM);
  if (bucket.m > conditions.maxM) return fmt::format("M={} > max-m={}", bucket.m, conditions.maxM);
  if (!conditions.dp4a) return "no dp4a on this GPU";
  if (bucket.prefill) return "prefill";
  for (const ir::Op* op : {pair.gate, pair.up}) {
    std::string kernel = kernelOf(*op);
    if (kernel.empty()) return "no kernel chosen (run select-precision first)";
    if (kernel != "dp4a") return fmt::format("kernel {} chosen, not dp4a", kernel);
  }
  return "";
}

std::string costReason(const GateUpPair& pair, const CostModel& model, int64_t m) {
  const ir::TensorType& w = pair.gate->operand(1)->type();
  MatmulShape one{m, w.shape[0], w.shape[1], w.elem};
  MatmulShape both = one;
  both.n *= 2;
  Estimate separate = model.matmulWithPrep(one, MatmulKernel::Dp4a).then(model.matmulWithPrep(one, MatmulKernel::Dp4a));
  Estimate fused = model.matmulWithPrep(both, MatmulKernel::Dp4a);
  return fmt::format("fused {} vs separate {} (M={}, 2x {}x{} {}, one Q8_1 quantization instead of two)", fused.str(),
                     separate.str(), m, one.n, one.k, ir::elemTypeName(one.weightType).str());
}

void fuse(ir::Graph& graph, const GateUpPair& pair, const OpOrder& order) {
  ir::Op* first = order.of(pair.gate) < order.of(pair.up) ? pair.gate : pair.up;
  for (ir::Op* op : {pair.gate, pair.up}) {
    ir::Op* weight = op->operand(1)->producer();
    if (order.of(weight) > order.of(first)) graph.move(weight, first);
  }
  ir::OpSpec spec;
  spec.name = fused_ops::kMatmulGateUp;
  spec.operands = {pair.gate->operand(0), pair.gate->operand(1), pair.up->operand(1)};
  spec.resultTypes = {pair.gate->result()->type(), pair.up->result()->type()};
  spec.attrs.set("kernel", std::string("dp4a"));
  spec.layer = first->layer();
  spec.loc = first->loc();
  replaceByFusedOp(graph, spec, {pair.gate->result(), pair.up->result()}, first);
}

class FuseGateUpPass : public Pass {
 public:
  bool runOnGraph(ir::Graph& graph, PassContext& context) override {
    std::optional<BucketShape> bucket = bucketShape(graph);
    if (!bucket) return false;
    GateUpConditions conditions;
    conditions.requireQ4k = options().getBool("require-q4k");
    conditions.minM = intOption(options(), "min-m", context.profile.gateUpFuseMinM);
    conditions.maxM = intOption(options(), "max-m", context.profile.gateUpFuseMaxM);
    conditions.dp4a = context.profile.dp4a;
    CostModel model(context.profile);
    DecisionGroups decisions(kPassName, graph.name());
    OpOrder order(graph);
    bool changed = false;
    for (ir::Op* op : graph.opsSnapshot()) {
      if (op->name() != "silu_mul") continue;
      std::optional<GateUpPair> pair = pairOf(*op);
      if (!pair) continue;
      std::string why = blocker(*pair, *bucket, conditions);
      if (!why.empty()) {
        decisions.add(pair->gate->result()->name(), "separate", why);
        continue;
      }
      decisions.add(pair->gate->result()->name(), "matmul_gate_up", costReason(*pair, model, bucket->m));
      fuse(graph, *pair, order);
      changed = true;
    }
    decisions.flush(context);
    return changed;
  }
};

}  // namespace

PassInfo fuseGateUpPassInfo() {
  PassInfo info{kPassName,
                "FFN gate and up in one DP4A matmul_gate_up sharing one Q8_1 quantization",
                "fusion",
                {{"require-q4k", OptionKind::Bool, "true", "fuse only when both weights are Q4_K"},
                 {"min-m", OptionKind::Int, "", "fuse from this bucket M on (default: the GPU profile's, else 2)"},
                 {"max-m", OptionKind::Int, "", "fuse up to this bucket M (default: the GPU profile's, 8)"}},
                [] { return std::make_unique<FuseGateUpPass>(); }};
  info.ops = {fusedOpDef(fused_ops::kMatmulGateUp)};
  return info;
}

}  // namespace reel::passes
