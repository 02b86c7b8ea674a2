/// share-activation-quant: the DP4A kernels read their activations as Q8_1 blocks. This
/// pass makes that quantization explicit and shared: for each distinct f32 input of DP4A
/// matmuls (matmul, matmul_qkv, matmul_gate_up with kernel "dp4a") it inserts one
/// `quantize_q8_1` right after the input is produced and points every DP4A consumer at
/// the q8_1 value. Other consumers (rms_norm, residual adds, fp8/hgemm matmuls) keep the
/// f32 value.

#include "passes/CostModel.h"
#include "passes/DecisionPasses.h"
#include "passes/DecisionSupport.h"
#include "passes/FusedOps.h"

#include <fmt/format.h>

#include <llvm/ADT/MapVector.h>

namespace reel::passes {
namespace {

constexpr const char* kPassName = "share-activation-quant";

bool isDp4aConsumer(const ir::Op& op) {
  llvm::StringRef name = op.name();
  bool matmulLike = name == "matmul" || name == fused_ops::kMatmulQkv || name == fused_ops::kMatmulGateUp;
  return matmulLike && op.attrs().getString("kernel") == std::optional<std::string>("dp4a") &&
         op.operand(0)->type().elem == ir::ElemType::F32;
}

bool quantizable(const ir::Value& value) {
  const ir::TensorType& type = value.type();
  return type.rank() == 2 && type.shape[1] >= 0 && type.shape[1] % ir::blockElems(ir::ElemType::Q8_1) == 0;
}

ir::Value* insertQuantize(ir::Graph& graph, ir::Value* input) {
  ir::Op* producer = input->producer();
  ir::OpSpec spec;
  spec.name = fused_ops::kQuantizeQ81;
  spec.operands = {input};
  spec.resultNames = {input->name() + ".q8"};
  spec.resultTypes = {ir::TensorType(ir::ElemType::Q8_1, input->type().shape)};
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
    llvm::MapVector<ir::Value*, std::vector<ir::Op*>> consumersByInput;
    for (const std::unique_ptr<ir::Op>& op : graph.ops())
      if (isDp4aConsumer(*op) && quantizable(*op->operand(0))) consumersByInput[op->operand(0)].push_back(op.get());
    CostModel model(context.profile);
    DecisionGroups decisions(kPassName, graph.name());
    for (auto& [input, consumers] : consumersByInput) {
      decisions.add(input->name(), "1 quantize_q8_1", reasonFor(model, *input, consumers.size(), *bucket));
      ir::Value* quantized = insertQuantize(graph, input);
      for (ir::Op* consumer : consumers) consumer->setOperand(0, quantized);
    }
    decisions.flush(context);
    return !consumersByInput.empty();
  }
};

}  // namespace

PassInfo shareActivationQuantPassInfo() {
  PassInfo info{
      kPassName, "one quantize_q8_1 per distinct input of DP4A matmuls, shared by all of them", "memory", {}, [] {
        return std::make_unique<ShareActivationQuantPass>();
      }};
  info.ops = {fusedOpDef(fused_ops::kQuantizeQ81)};
  return info;
}

}  // namespace reel::passes
