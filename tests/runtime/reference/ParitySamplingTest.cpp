// Sampled decoding on the CPU reference: reproducible from the seed, and each sequence draws
// the same tokens alone at M = 1 as beside others in a larger bucket with padding rows
// (buckets of one matmul family, so the logits are bit-identical and so must the draws be).
// Greedy rows of a sampling graph give the argmax graph's tokens.

#include "passes/PassTable.h"
#include "tests/runtime/reference/ReferenceTestSupport.h"

#include <catch2/catch.hpp>

using namespace reel;
using namespace reel::decode;
using namespace reel::reference;
using namespace reel::test;

namespace {

constexpr int64_t kNewTokens = 4;

/// Sampling of sequence s: its own seed, every knob on.
SamplingParams samplingOf(size_t s, uint64_t seed) {
  SamplingParams p;
  p.temperature = 1.5f;
  p.topK = 40;
  p.topP = 0.95f;
  p.minP = 0.01f;
  p.repeatPenalty = 1.1f;
  p.frequencyPenalty = 0.1f;
  p.seed = seed + s;
  return p;
}

std::vector<std::vector<int32_t>> tokensOf(const DecodeReport& report) {
  std::vector<std::vector<int32_t>> tokens;
  for (const SequenceOutput& sequence : report.sequences) tokens.push_back(sequence.tokens);
  return tokens;
}

}  // namespace

TEST_CASE("sampled tokens are the same alone and in every bucket, and follow the seed", "[parity][sampling]") {
  const models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = syntheticWeights(config);
  CompileSpec spec{passes::kDefaultPipeline, {1, 2, 4, 8}, 0};
  spec.sampling = true;
  std::unique_ptr<ir::Module> module = compileModule(config, *weights.source, spec);
  const StepGraphs graphs = findStepGraphs(*module);
  REQUIRE(countOps(*module, "sample") >= 4);
  REQUIRE(countOps(*module, "argmax") == 0);
  for (int64_t bucket : {2, 4, 8})
    REQUIRE(matmulKernels(*graphs.buckets.at(bucket)) == matmulKernels(*graphs.buckets.at(1)));

  const std::vector<std::vector<int32_t>> prompts = staggeredPrompts(5, config.vocabSize);
  std::vector<std::vector<int32_t>> alone;
  for (size_t s = 0; s < prompts.size(); ++s) {
    const DecodeRequest request{{prompts[s]}, kNewTokens, {}, {samplingOf(s, 1000)}};
    alone.push_back(runGreedyDecode(graphs, *weights.source, request, {}).sequences.at(0).tokens);
  }
  // 2, 3 and 5 live sequences: buckets 2, 4 (one padding row) and 8 (three).
  for (size_t live : {2, 3, 5}) {
    DecodeRequest request{{prompts.begin(), prompts.begin() + static_cast<std::ptrdiff_t>(live)}, kNewTokens, {}, {}};
    for (size_t s = 0; s < live; ++s) request.sampling.push_back(samplingOf(s, 1000));
    INFO(live << " sequences");
    CHECK(tokensOf(runGreedyDecode(graphs, *weights.source, request, {})) ==
          std::vector<std::vector<int32_t>>(alone.begin(), alone.begin() + static_cast<std::ptrdiff_t>(live)));
  }
  DecodeRequest request{prompts, kNewTokens, {}, {}};
  for (size_t s = 0; s < prompts.size(); ++s) request.sampling.push_back(samplingOf(s, 1000));

  // Another seed draws other tokens.
  DecodeRequest reseeded = request;
  for (size_t s = 0; s < prompts.size(); ++s) reseeded.sampling[s] = samplingOf(s, 2000);
  CHECK(tokensOf(runGreedyDecode(graphs, *weights.source, reseeded, {})) != alone);
}

TEST_CASE("greedy rows of a sampling graph give the argmax graph's tokens", "[parity][sampling]") {
  const models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = syntheticWeights(config);
  CompileSpec spec{passes::kDefaultPipeline, {1, 2, 4}, 0};
  std::unique_ptr<ir::Module> argmax = compileModule(config, *weights.source, spec);
  spec.sampling = true;
  std::unique_ptr<ir::Module> sampling = compileModule(config, *weights.source, spec);
  const std::vector<std::vector<int32_t>> prompts = staggeredPrompts(3, config.vocabSize);
  DecodeRequest request{prompts, kNewTokens, {}, {}};
  const DecodeReport greedy = runGreedyDecode(findStepGraphs(*argmax), *weights.source, request, {});
  CHECK(tokensOf(runGreedyDecode(findStepGraphs(*sampling), *weights.source, request, {})) == tokensOf(greedy));
  // One sampled sequence beside greedy ones leaves theirs alone.
  request.sampling = {SamplingParams{}, samplingOf(1, 7), SamplingParams{}};
  const DecodeReport mixed = runGreedyDecode(findStepGraphs(*sampling), *weights.source, request, {});
  CHECK(mixed.sequences[0].tokens == greedy.sequences[0].tokens);
  CHECK(mixed.sequences[2].tokens == greedy.sequences[2].tokens);
  // A graph that takes the argmax refuses sampled rows.
  CHECK_THROWS_WITH(runGreedyDecode(findStepGraphs(*argmax), *weights.source, request, {}),
                    Catch::Contains("takes the argmax of the logits (compile with sampling)"));
}
