#include "codegen/LowerSample.h"

namespace reel::codegen {

OpLoweringFn sampleLowering() {
  return [](const ir::Op& op, LoweringContext& context) {
    const auto input = [](StepInput which) { return BufferRef{BufferKind::StepInput, static_cast<int64_t>(which), 0}; };
    const int64_t rows = context.rows();
    const int64_t vocab = op.operand(0)->type().shape.back();
    KernelLaunch launch{"sample",
                        {context.value(op.operand(0)), input(StepInput::Sampling), input(StepInput::RecentTokens),
                         input(StepInput::Positions), input(StepInput::NextTokens)},
                        {rows, vocab}};
    launch.activationBytes = rows * vocab * 4;
    context.emit(op, std::move(launch));
  };
}

}  // namespace reel::codegen
