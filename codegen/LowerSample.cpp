#include "codegen/LowerSample.h"

namespace reel::codegen {

OpLoweringFn sampleLowering() {
  return [](const ir::Op& op, LoweringContext& context) {
    const auto input = [](StepInput which) { return BufferRef{BufferKind::StepInput, static_cast<int64_t>(which), 0}; };
    const int64_t rows = context.rows();
    const int64_t vocab = op.operand(0)->type().shape.back();
    kernels::args::Sample<BufferRef> sample;
    sample.logits = context.value(op.operand(0));
    sample.sampling = input(StepInput::Sampling);
    sample.recent = input(StepInput::RecentTokens);
    sample.positions = input(StepInput::Positions);
    sample.out = input(StepInput::NextTokens);
    sample.m = rows;
    sample.n = vocab;
    KernelLaunch launch = kernelLaunch("sample", sample);
    launch.activationBytes = rows * vocab * 4;
    context.emit(op, std::move(launch));
  };
}

}  // namespace reel::codegen
