/// fold-quantize: a `quantize_q8_1` whose input is produced by `rms_norm`, `add_rms_norm`
/// (its normed result), `silu_mul` or decode `attention` (head_dim a multiple of 32), and read
/// by nothing else, folds into that producer:
/// the producer's result becomes q8_1 and its kernel writes the Q8_1 blocks directly. The
/// f32 rows never reach memory and a launch disappears. The numerics do not change: the
/// fused kernels quantize exactly the floats the unfused ones would have stored.
///
/// Runs after share-activation-quant (which creates the quantizations it folds). A value
/// with another reader (a residual add, an FP8/HGEMM matmul, an output) keeps its f32 form
/// and its separate quantize.

#include "ir/DecisionAttrs.h"
#include "passes/DecisionPasses.h"
#include "passes/DecisionSupport.h"
#include "passes/FusedOps.h"

#include <fmt/format.h>

namespace reel::passes {
namespace {

constexpr const char* kPassName = "fold-quantize";

/// Decode attention (strategy "decode"; its flash-decoding variant's reduce too) writes
/// Q8_1 blocks within one head: head_dim a multiple of 32.
bool attentionWritesQ81(const ir::Op& attention) {
  const std::optional<std::string> strategy = attention.attrs().getString("strategy");
  const std::optional<int64_t> headDim = attention.attrs().getInt("head_dim");
  return strategy == ir::attentionStrategyName(ir::AttentionStrategy::Decode) && headDim && *headDim % 32 == 0;
}

/// The producers whose kernels have a Q8_1 epilogue, and which of their results it is.
std::optional<unsigned> foldableResult(const ir::Op& producer) {
  llvm::StringRef name = producer.name();
  if (name == "rms_norm" || name == "silu_mul") return 0U;
  if (name == fused_ops::kAddRmsNorm) return 1U;
  if (name == "attention" && attentionWritesQ81(producer)) return 0U;
  return std::nullopt;
}

/// Why `quantize` cannot fold into the producer of its input, or nullopt when it can.
std::optional<std::string> whyNotFoldable(const ir::Op& quantize) {
  const ir::Value* input = quantize.operand(0);
  const ir::Op* producer = input->producer();
  std::optional<unsigned> result = foldableResult(*producer);
  if (!result || producer->result(*result) != input)
    return fmt::format("{} has no q8_1 epilogue", producer->name().str());
  for (const ir::Use& use : input->uses())
    if (use.user != &quantize) return fmt::format("%{} is also read by {}", input->name(), use.user->name().str());
  return std::nullopt;
}

class FoldQuantizePass : public Pass {
 public:
  bool runOnGraph(ir::Graph& graph, PassContext& context) override {
    DecisionGroups decisions(kPassName, graph.name());
    bool changed = false;
    for (ir::Op* op : graph.opsSnapshot()) {
      if (op->name() != fused_ops::kQuantizeQ81) continue;
      ir::Value* input = op->operand(0);
      const std::string producer = input->producer()->name().str();
      if (std::optional<std::string> why = whyNotFoldable(*op)) {
        decisions.add(input->name(), "separate quantize_q8_1", *why);
        continue;
      }
      decisions.add(input->name(), producer + " writes q8_1", "the f32 rows have no other reader: one launch less");
      input->setType(op->result()->type());
      op->result()->replaceAllUsesWith(input);
      graph.erase(op);
      changed = true;
    }
    decisions.flush(context);
    return changed;
  }
};

}  // namespace

PassInfo foldQuantizePassInfo() {
  return {kPassName,
          "fold quantize_q8_1 into the rms_norm, add_rms_norm, silu_mul or decode attention producing its only input",
          "memory",
          {},
          [] { return std::make_unique<FoldQuantizePass>(); }};
}

}  // namespace reel::passes
