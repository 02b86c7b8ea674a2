// libFuzzer target from GGUF bytes to one decode step, the path of `reel run FILE.gguf
// --device cpu`: parse the file -> the model config from its metadata -> the builder's
// module -> verify -> the file's weights checked against the graph (their qtypes adopted)
// -> the default pass pipeline for buckets 1 and 2 with a 2-row @prefill -> the CPU
// reference executor prefills a 2-token prompt and decodes one more token.
//
// A reel::Error anywhere is an expected outcome (a defective or unsupported file). A
// finding is anything else: a crash or sanitizer report, another exception type, the
// builder's own module failing the verifier, a pass breaking the IR (IrChecks.h),
// or a decode that does not give one in-vocabulary token per step.
//
// Harness bounds keep each input fast: models of more than kMaxLayers layers or
// kMaxParameters parameters are skipped (the library has its own, far larger limits).
// REEL_FUZZ_VERBOSE=1 in the environment prints why an input was rejected.

#include "ir/Verifier.h"
#include "models/Builder.h"
#include "models/GgufConfig.h"
#include "passes/GpuProfile.h"
#include "passes/PassManager.h"
#include "runtime/gguf/GgufFile.h"
#include "runtime/reference/ReferenceStepExecutor.h"
#include "runtime/reference/WeightSource.h"
#include "support/Diagnostics.h"
#include "tests/fuzz/FuzzSupport.h"
#include "tests/fuzz/IrChecks.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace {

using namespace reel;

constexpr const char* kTarget = "GgufEndToEndFuzz";
constexpr int64_t kMaxLayers = 4;
constexpr int64_t kMaxParameters = int64_t{4} << 20;
constexpr int64_t kNewTokens = 2;

bool withinHarnessBounds(const models::ModelConfig& config) {
  return config.numLayers <= kMaxLayers && config.parameterCount() <= kMaxParameters;
}

/// h100, decode buckets 1 and 2, a 2-row @prefill: every graph kind, few rows.
passes::PassContext smallContext() {
  static const passes::GpuProfile profile = passes::bundledGpuProfile("h100");
  passes::PassContext context;
  context.profile = profile;
  context.buckets = {1, 2};
  context.prefillTokens = 2;
  return context;
}

/// The builder's module for `config`, with the qtypes of the file's weights.
std::unique_ptr<ir::Module> buildForWeights(const models::ModelConfig& config,
                                            const reference::GgufWeightSource& weights) {
  std::unique_ptr<ir::Module> module = models::buildModule(config, {models::QuantScheme::F16});
  try {
    ir::verifyModule(*module);
  } catch (const Error& error) {
    fuzz::die(kTarget, fmt::format("the builder's module for a validated config fails the verifier: {}", error.what()));
  }
  reference::adoptWeightTypes(*module, weights);  // throws for a missing or misshapen tensor
  ir::verifyModule(*module);                      // the file's qtypes may not suit an op
  return module;
}

void checkDecode(const decode::DecodeReport& report, int64_t vocab) {
  if (report.sequences.size() != 1)
    fuzz::die(kTarget, fmt::format("{} sequences decoded, not 1", report.sequences.size()));
  const decode::SequenceOutput& out = report.sequences.front();
  if (static_cast<int64_t>(out.tokens.size()) != kNewTokens)
    fuzz::die(kTarget, fmt::format("{} tokens decoded, not {}", out.tokens.size(), kNewTokens));
  for (int32_t token : out.tokens)
    if (token < 0 || token >= vocab)
      fuzz::die(kTarget, fmt::format("token {} outside the vocabulary of {}", token, vocab));
  for (const std::vector<float>& logits : out.logits)
    if (static_cast<int64_t>(logits.size()) != vocab)
      fuzz::die(kTarget, fmt::format("a logits row of {} values for a vocabulary of {}", logits.size(), vocab));
}

void runEndToEnd(std::span<const uint8_t> bytes) {
  const GgufFile file = GgufFile::fromMemory(bytes, "fuzz.gguf");
  const models::ModelConfig config = models::configFromGguf(file);
  if (!withinHarnessBounds(config)) return fuzz::noteSkipped("larger than the harness bounds");
  const reference::GgufWeightSource weights(file);
  std::unique_ptr<ir::Module> module = buildForWeights(config, weights);

  passes::PassContext context = smallContext();
  fuzz::runCheckedPipeline(*module, context);

  decode::DecodeRequest request;
  request.prompts = {{0, static_cast<int32_t>(std::min<int64_t>(1, config.vocabSize - 1))}};
  request.newTokens = kNewTokens;
  reference::DecodeOptions options;
  options.buckets = context.buckets;
  options.keepLogits = true;
  options.threads = 1;
  checkDecode(reference::runGreedyDecode(reference::findStepGraphs(*module), weights, request, options),
              config.vocabSize);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    runEndToEnd({data, size});
  } catch (const Error& error) {
    fuzz::noteRejected(error);
  }
  return 0;
}
