// Every bucket gives each sequence the logits it gets alone at M = 1: sequences at
// different positions (prompts of different lengths), padding rows in every bucket > 1,
// compared step by step along the same tokens (teacher forcing), with the tolerance of
// the two graphs' matmul kernels (ReferenceTestSupport.h).

#include "passes/PassTable.h"
#include "tests/runtime/reference/ReferenceTestSupport.h"

#include <catch2/catch.hpp>

#include <map>

using namespace reel;
using namespace reel::decode;
using namespace reel::reference;
using namespace reel::test;

namespace {

constexpr int64_t kNewTokens = 4;

/// Each prompt decoded alone through the M = 1 graph.
std::vector<SequenceOutput> decodeAlone(const StepGraphs& graphs, const WeightSource& weights,
                                        const std::vector<std::vector<int32_t>>& prompts) {
  DecodeOptions options;
  options.keepLogits = true;
  std::vector<SequenceOutput> outputs;
  for (const std::vector<int32_t>& prompt : prompts)
    outputs.push_back(runGreedyDecode(graphs, weights, {{prompt}, kNewTokens, {}}, options).sequences.at(0));
  return outputs;
}

/// Compares sequence outputs logits for logits; tokens must agree wherever the reference's
/// top-two margin exceeds the tolerance.
void compareWithAlone(const std::vector<SequenceOutput>& alone, const DecodeReport& report, double tolerance) {
  for (size_t s = 0; s < report.sequences.size(); ++s) {
    const SequenceOutput& batched = report.sequences[s];
    REQUIRE(batched.logits.size() == alone[s].logits.size());
    for (size_t step = 0; step < batched.logits.size(); ++step) {
      INFO("sequence " << s << ", token " << step);
      const double error = relativeError(alone[s].logits[step], batched.logits[step]);
      CHECK(error <= tolerance);
      if (topTwoMargin(alone[s].logits[step]) > 2 * tolerance * rms(alone[s].logits[step]))
        CHECK(batched.tokens[step] == alone[s].tokens[step]);
    }
  }
}

/// Decodes `config` with the default pipeline (bucket 1) on synthetic `scheme` weights,
/// teacher-forced along the f32 graph's tokens, and compares the logits with the f32 graph's
/// (the same weights dequantized); the M = 1 matmuls must all use `kernel`.
void checkCloseToF32(models::QuantScheme scheme, const std::string& kernel,
                     const models::ModelConfig& config = tinyConfig()) {
  INFO(config.name << ", " << models::quantSchemeName(scheme));
  const synth::OpenWeights& weights = syntheticWeights(config, scheme);
  CompileSpec generic;
  generic.scheme = scheme;
  std::unique_ptr<ir::Module> plain = compileModule(config, *weights.source, generic);
  CompileSpec optimized{passes::kDefaultPipeline, {1}, 0};
  optimized.scheme = scheme;
  std::unique_ptr<ir::Module> compiled = compileModule(config, *weights.source, optimized);
  const std::vector<std::vector<int32_t>> prompts = staggeredPrompts(2, config.vocabSize);
  const std::vector<SequenceOutput> f32 = decodeAlone(findStepGraphs(*plain), *weights.source, prompts);

  DecodeOptions options;
  options.keepLogits = true;
  DecodeRequest request{prompts, kNewTokens, {f32[0].tokens, f32[1].tokens}};
  const DecodeReport report = runGreedyDecode(findStepGraphs(*compiled), *weights.source, request, options);
  REQUIRE(matmulKernels(*compiled->findGraph("decode.m1")) == std::set<std::string>{kernel});
  compareWithAlone(f32, report, kQ81Tolerance);
}

/// Compiles `config` for the buckets of `bucketLive` (bucket, live sequences) with the default
/// pipeline and checks that each bucket gives every live sequence the logits it gets alone at
/// M = 1.
void checkBucketsMatchAlone(const models::ModelConfig& config, const synth::OpenWeights& weights,
                            const std::vector<std::pair<int64_t, int64_t>>& bucketLive) {
  CompileSpec spec{passes::kDefaultPipeline, {}, 16};
  for (const auto& [bucket, live] : bucketLive) spec.buckets.push_back(bucket);
  std::unique_ptr<ir::Module> module = compileModule(config, *weights.source, spec);
  const StepGraphs graphs = findStepGraphs(*module);
  REQUIRE(graphs.buckets.size() == bucketLive.size());
  REQUIRE(graphs.prefills.size() == 1);
  const std::vector<std::vector<int32_t>> prompts = staggeredPrompts(bucketLive.back().second, config.vocabSize);
  const std::vector<SequenceOutput> alone = decodeAlone(graphs, *weights.source, prompts);
  const std::set<std::string> singleKernels = matmulKernels(*graphs.buckets.at(1));

  for (const auto& [bucket, live] : bucketLive) {
    DecodeRequest request;
    request.prompts.assign(prompts.begin(), prompts.begin() + live);
    request.newTokens = kNewTokens;
    for (int64_t s = 0; s < live; ++s) request.followTokens.push_back(alone[static_cast<size_t>(s)].tokens);
    DecodeOptions options;
    options.keepLogits = true;
    options.decodeRows = bucket;
    const DecodeReport report = runGreedyDecode(graphs, *weights.source, request, options);
    const std::set<std::string> kernels = matmulKernels(*graphs.buckets.at(bucket));
    INFO("bucket " << bucket << ": " << report.decodePath << "; kernels " << *kernels.begin() << " (" << kernels.size()
                   << " families)");
    REQUIRE(report.decodePath.find("M = " + std::to_string(bucket)) != std::string::npos);
    compareWithAlone(alone, report, toleranceFor(singleKernels, kernels));
  }
}

}  // namespace

TEST_CASE("every bucket matches M = 1 per sequence, padding rows present", "[parity][buckets]") {
  // Live sequences per bucket: fewer than the bucket, so every bucket > 1 pads.
  const models::ModelConfig config = tinyConfig();
  checkBucketsMatchAlone(config, syntheticWeights(config), {{1, 1}, {2, 1}, {4, 3}, {8, 5}, {16, 9}});
}

TEST_CASE("more sequences than the largest bucket are split into several steps", "[parity][buckets]") {
  const models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = syntheticWeights(config);
  std::unique_ptr<ir::Module> module = compileModule(config, *weights.source, {passes::kDefaultPipeline, {1, 2}, 0});
  const StepGraphs graphs = findStepGraphs(*module);
  REQUIRE(graphs.prefills.empty());
  const std::vector<std::vector<int32_t>> prompts = staggeredPrompts(3, config.vocabSize);
  const std::vector<SequenceOutput> alone = decodeAlone(graphs, *weights.source, prompts);

  DecodeOptions options;
  options.keepLogits = true;
  const DecodeReport report = runGreedyDecode(graphs, *weights.source, {prompts, kNewTokens, {}}, options);
  CHECK(report.decodePath.find("3 sequences exceed the largest bucket, so each token takes 2 steps") !=
        std::string::npos);
  CHECK(report.decodeSteps == kNewTokens - 1);
  compareWithAlone(alone, report,
                   toleranceFor(matmulKernels(*graphs.buckets.at(1)), matmulKernels(*graphs.buckets.at(2))));
}

TEST_CASE("the quantized pipeline stays close to the f32 reference", "[parity][precision]") {
  checkCloseToF32(models::QuantScheme::Q4_K_M, "dp4a");
}

TEST_CASE("q4_0 and q5_k_m weights (DP4A) and f16 and bf16 weights (hgemm) stay close to the f32 reference",
          "[parity][precision]") {
  checkCloseToF32(models::QuantScheme::Q4_0, "dp4a");
  checkCloseToF32(models::QuantScheme::Q5_K_M, "dp4a");
  checkCloseToF32(models::QuantScheme::F16, "hgemm");
  checkCloseToF32(models::QuantScheme::BF16, "hgemm");
}

TEST_CASE("a Qwen-shaped q5_k_m model (Q5_1 where rows are not whole super-blocks) decodes on the CPU",
          "[parity][precision]") {
  // llama.cpp's Q5_K_M on rows of 384 (Qwen2.5-0.5B: 896): Q5_K -> Q5_1, Q6_K -> Q8_0.
  const models::ModelConfig config = qwenShapedConfig();
  const synth::OpenWeights& weights = syntheticWeights(config, models::QuantScheme::Q5_K_M);
  std::map<quant::QType, int> types;
  for (const GgufTensorInfo& tensor : weights.file->tensors()) ++types[tensor.type];
  CHECK(types[quant::QType::Q5_1] == 11);  // q, k, o, gate, up of both layers; layer 0's v
  CHECK(types[quant::QType::Q8_0] == 2);   // layer 1's v (more bits); the tied embedding table
  CHECK(types[quant::QType::Q5_K] == 1);   // ffn_down, rows of 512: layer 0's
  CHECK(types[quant::QType::Q6_K] == 1);   // and layer 1's (more bits)
  checkCloseToF32(models::QuantScheme::Q5_K_M, "dp4a", config);
  checkBucketsMatchAlone(config, weights, {{1, 1}, {4, 3}});
}
