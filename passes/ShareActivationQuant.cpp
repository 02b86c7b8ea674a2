/// share-activation-quant: the DP4A and mma kernels read their activations as Q8_1 blocks and
/// the HGEMM kernels as f16. This pass makes those conversions explicit and shared: for each
/// distinct f32 input of Q8_1 readers (matmul, matmul_qkv, matmul_gate_up with kernel "dp4a",
/// matmul with kernel "mma"; one quantization serves both families) it inserts one
/// `quantize_q8_1`, and for each of f16 readers (kernel "hgemm", "dequant-hgemm" or "mma-f16",
/// which share it) one `cast_f16`, right after
/// the input is produced, and points those consumers at the converted value (plan-memory
/// places it like any activation). Other consumers (rms_norm, residual adds, fp8 matmuls,
/// whose per-step scale is part of their launch) keep the f32 value.

#include "passes/CostModel.h"
#include "passes/DecisionPasses.h"
#include "passes/DecisionSupport.h"
#include "passes/FusedOps.h"

#include <fmt/format.h>

#include <llvm/ADT/MapVector.h>

namespace reel::passes {
namespace {

constexpr const char* kPassName = "share-activation-quant";

/// The kernel of a matmul-like op that reads f32 activations ("dp4a", "hgemm", ...), or "".
std::string f32Consumer(const ir::Op& op) {
  llvm::StringRef name = op.name();
  bool matmulLike = name == "matmul" || name == fused_ops::kMatmulQkv || name == fused_ops::kMatmulGateUp;
  if (!matmulLike || op.operand(0)->type().elem != ir::ElemType::F32) return "";
  return op.attrs().getString("kernel").value_or("");
}

bool quantizable(const ir::Value& value) {
  const ir::TensorType& type = value.type();
  return type.rank() == 2 && type.shape[1] >= 0 && type.shape[1] % ir::blockElems(ir::ElemType::Q8_1) == 0;
}

/// Inserts `op` (quantize_q8_1 or cast_f16) of `input` right after its producer.
ir::Value* insertConversion(ir::Graph& graph, ir::Value* input, const char* op) {
  ir::Op* producer = input->producer();
  const bool toQ81 = llvm::StringRef(op) == fused_ops::kQuantizeQ81;
  ir::OpSpec spec;
  spec.name = op;
  spec.operands = {input};
  spec.resultNames = {input->name() + (toQ81 ? ".q8" : ".f16")};
  spec.resultTypes = {ir::TensorType(toQ81 ? ir::ElemType::Q8_1 : ir::ElemType::F16, input->type().shape)};
  spec.layer = producer->layer();
  spec.loc = producer->loc();
  return graph.create(spec, graph.next(producer))->result();
}

std::string reasonFor(const CostModel& model, const ir::Value& input, size_t consumers, const BucketShape& bucket) {
  const ir::TensorType& type = input.type();
  Estimate one = model.quantizeQ81(type.shape[0], type.shape[1]);
  return fmt::format("{} for {} consumer{} instead of {} ({}, K={})", one.str(), consumers, consumers == 1 ? "" : "s",
                     formatUs(one.us * static_cast<double>(consumers)), describeBucket(bucket), type.shape[1]);
}

class ShareActivationQuantPass : public Pass {
 public:
  bool runOnGraph(ir::Graph& graph, PassContext& context) override {
    std::optional<BucketShape> bucket = bucketShape(graph);
    if (!bucket) return false;
    llvm::MapVector<ir::Value*, std::vector<ir::Op*>> toQ81;
    llvm::MapVector<ir::Value*, std::vector<ir::Op*>> toF16;
    for (const std::unique_ptr<ir::Op>& op : graph.ops()) {
      const std::string kernel = f32Consumer(*op);
      if ((kernel == "dp4a" || kernel == "mma") && quantizable(*op->operand(0)))
        toQ81[op->operand(0)].push_back(op.get());
      if (kernel == "hgemm" || kernel == "dequant-hgemm" || kernel == "mma-f16")
        toF16[op->operand(0)].push_back(op.get());
    }
    CostModel model(context.profile);
    DecisionGroups decisions(kPassName, graph.name());
    for (auto& [input, consumers] : toQ81) {
      decisions.add(input->name(), "1 quantize_q8_1", reasonFor(model, *input, consumers.size(), *bucket));
      ir::Value* quantized = insertConversion(graph, input, fused_ops::kQuantizeQ81);
      for (ir::Op* consumer : consumers) consumer->setOperand(0, quantized);
    }
    for (auto& [input, consumers] : toF16) {
      decisions.add(input->name(), "1 cast_f16",
                    fmt::format("one f16 copy for {} HGEMM consumer{} ({})", consumers.size(),
                                consumers.size() == 1 ? "" : "s", describeBucket(*bucket)));
      ir::Value* cast = insertConversion(graph, input, fused_ops::kCastF16);
      for (ir::Op* consumer : consumers) consumer->setOperand(0, cast);
    }
    decisions.flush(context);
    return !toQ81.empty() || !toF16.empty();
  }
};

}  // namespace

PassInfo shareActivationQuantPassInfo() {
  PassInfo info{
      kPassName,
      "one quantize_q8_1 (cast_f16) per distinct input of DP4A and mma (HGEMM) matmuls, shared by all of them",
      "memory",
      {},
      [] { return std::make_unique<ShareActivationQuantPass>(); }};
  info.ops = {fusedOpDef(fused_ops::kQuantizeQ81), fusedOpDef(fused_ops::kCastF16)};
  return info;
}

}  // namespace reel::passes
