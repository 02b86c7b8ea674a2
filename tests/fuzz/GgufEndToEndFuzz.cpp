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
// Inputs that would only hit an open finding again are skipped too (ropeDimsBounded,
// tensorsAligned, weightsInRange); REEL_FUZZ_NO_SKIPS=1 in the environment runs them.
// REEL_FUZZ_VERBOSE=1 in the environment prints why an input was rejected.

#include "ir/Diagnostics.h"
#include "ir/Verifier.h"
#include "kernels/QuantRef.h"
#include "models/Builder.h"
#include "passes/GpuProfile.h"
#include "passes/PassManager.h"
#include "runtime/gguf/GgufFile.h"
#include "runtime/reference/DecodeDriver.h"
#include "runtime/reference/WeightSource.h"
#include "runtime/synth/GgufConfig.h"
#include "tests/fuzz/FuzzSupport.h"
#include "tests/fuzz/IrChecks.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
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

/// Open finding tests/fuzz/findings/reel_gguf_e2e_fuzz/nan-activation-quantize-q8_1: the
/// reference's Q8_1 quantizer (quant::quantizeQ81) converts NaN to int, which is undefined
/// behaviour, when an activation is not finite (or when a block is so tiny that its scale
/// amax / 127 rounds to 0). Large weights get there: the KV cache holds f16, so a K or V
/// entry beyond 65504 becomes inf and the attention makes NaN of it. Such inputs would
/// stop every run there, so until the reference copes they are skipped. With W the
/// largest weight magnitude and H the hidden size, a normalized input element is at most
/// sqrt(H) W and a K or V entry at most H^1.5 W^2 + W; inputs where that passes half of
/// f16's range are skipped, as are weights that are not 0 but below kTiny in magnitude
/// (rope_freqs.weight holds RoPE divisors, not weights: it only has to be finite).
bool weightsInRange(const GgufFile& file, int64_t hiddenSize) {
  constexpr double kF16Max = 65504.0;
  constexpr float kTiny = 1e-20f;
  double largest = 0.0;
  std::vector<float> row;
  for (const GgufTensorInfo& info : file.tensors()) {
    const std::span<const uint8_t> data = file.tensorData(info);
    const size_t rowBytes = quant::rowBytes(info.type, info.ne[0]);
    row.resize(static_cast<size_t>(info.ne[0]));
    for (int64_t r = 0; r < info.rowCount(); ++r) {
      quant::dequantizeRow(info.type, data.data() + static_cast<size_t>(r) * rowBytes, row.data(), info.ne[0]);
      for (float value : row) {
        const double magnitude = std::fabs(value);
        if (!(magnitude <= kF16Max) || (value != 0.0f && magnitude < kTiny)) return false;
        if (info.name != "rope_freqs.weight") largest = std::max(largest, magnitude);
      }
    }
  }
  const double hidden = static_cast<double>(hiddenSize);
  return hidden * std::sqrt(hidden) * largest * largest + largest <= kF16Max / 2;
}

/// Open finding tests/fuzz/findings/reel_gguf_e2e_fuzz/huge-allocation-rope-factors: with a
/// rope_freqs.weight tensor, the config reader computes the Llama-3 RoPE factors of the
/// head dimension (attention.key_length, else embedding_length / head_count) before it
/// validates the config, so an absurd dimension allocates that many floats. Skipped until
/// the reader validates first: files with rope_freqs.weight and either key above 2^16.
bool ropeDimsBounded(const GgufFile& file) {
  constexpr int64_t kMaxDim = int64_t{1} << 16;
  if (!file.findTensor("rope_freqs.weight")) return true;
  for (const GgufMetadataEntry& entry : file.metadata().entries()) {
    if (!entry.key.ends_with(".attention.key_length") && !entry.key.ends_with(".embedding_length")) continue;
    try {
      const int64_t dim = file.metadata().getInteger(entry.key);
      if (dim < 0 || dim > kMaxDim) return false;
    } catch (const Error&) {
      // Not an integer: the config reader rejects it before it gets to RoPE.
    }
  }
  return true;
}

/// Open finding tests/fuzz/findings/reel_gguf_e2e_fuzz/misaligned-blocks-alignment-1: the
/// reader accepts general.alignment = 1 or 2 (powers of two, as llama.cpp does), so tensor
/// data may start at any byte, and the reference reads f32 values and quantized blocks
/// (with their f16 scales) in place, misaligned, which is undefined behaviour. Skipped
/// until the reference copes with it.
bool tensorsAligned(const GgufFile& file) {
  return file.alignment() % alignof(float) == 0;
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

void checkDecode(const reference::DecodeReport& report, int64_t vocab) {
  if (report.sequences.size() != 1)
    fuzz::die(kTarget, fmt::format("{} sequences decoded, not 1", report.sequences.size()));
  const reference::SequenceOutput& out = report.sequences.front();
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
  const bool skipFindings = !fuzz::runsOpenFindings();
  if (skipFindings && !ropeDimsBounded(file)) return fuzz::noteSkipped("RoPE head dimension (open finding)");
  const models::ModelConfig config = synth::configFromGguf(file);
  if (!withinHarnessBounds(config)) return fuzz::noteSkipped("larger than the harness bounds");
  if (skipFindings && !tensorsAligned(file)) return fuzz::noteSkipped("misaligned tensor data (open finding)");
  if (skipFindings && !weightsInRange(file, config.hiddenSize))
    return fuzz::noteSkipped("weights out of range (open finding)");
  const reference::GgufWeightSource weights(file);
  std::unique_ptr<ir::Module> module = buildForWeights(config, weights);

  passes::PassContext context = smallContext();
  fuzz::runCheckedPipeline(*module, context);

  reference::DecodeRequest request;
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
