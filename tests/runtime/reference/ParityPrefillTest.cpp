// Token-by-token prefill (one token per sequence and step through the decode graphs) and chunked prefill
// through @prefill fill the KV cache alike: with one kernel family on both paths the
// logits and tokens are identical (kExactTolerance); with the default pipeline (prefill by
// hgemm, decode by dp4a) the first token's logits agree within kQ81Tolerance.

#include "passes/PassTable.h"
#include "tests/runtime/reference/ReferenceTestSupport.h"

#include <catch2/catch.hpp>

using namespace reel;
using namespace reel::decode;
using namespace reel::reference;
using namespace reel::test;

namespace {

/// One kernel family everywhere: with DP4A, FP8, mma and dequant-hgemm off, every matmul is hgemm.
constexpr const char* kHgemmPipeline =
    "specialize-buckets,canonicalize,cse,dce,select-precision{dp4a=false,fp8=false,mma=false,dequant-hgemm=false},"
    "select-attention";

DecodeReport decodeWith(const ir::Module& module, const WeightSource& weights, const DecodeRequest& request,
                        PrefillMode mode) {
  DecodeOptions options;
  options.keepLogits = true;
  options.prefill = mode;
  options.prefillChunk = 4;  // for the generic prefill graph
  return runGreedyDecode(findStepGraphs(module), weights, request, options);
}

/// A 10-token prompt (3 chunks of 4 rows, the last padded) and a 3-token one.
DecodeRequest prefillRequest(int64_t vocab) {
  std::vector<std::vector<int32_t>> prompts = staggeredPrompts(9, vocab);
  return {{prompts[8], prompts[1]}, 4, {}};
}

void expectIdentical(const DecodeReport& a, const DecodeReport& b) {
  for (size_t s = 0; s < a.sequences.size(); ++s) {
    INFO("sequence " << s);
    CHECK(a.sequences[s].tokens == b.sequences[s].tokens);
    for (size_t t = 0; t < a.sequences[s].logits.size(); ++t)
      CHECK(relativeError(a.sequences[s].logits[t], b.sequences[s].logits[t]) <= kExactTolerance);
  }
}

}  // namespace

TEST_CASE("prefill graph and token-by-token prefill agree at one precision", "[parity][prefill]") {
  const models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = syntheticWeights(config);
  std::unique_ptr<ir::Module> module = compileModule(config, *weights.source, {kHgemmPipeline, {1, 2}, 4});
  REQUIRE(matmulKernels(*module->findGraph("prefill")) == std::set<std::string>{"hgemm"});
  REQUIRE(matmulKernels(*module->findGraph("decode.m1")) == std::set<std::string>{"hgemm"});
  const DecodeRequest request = prefillRequest(config.vocabSize);
  const DecodeReport byGraph = decodeWith(*module, *weights.source, request, PrefillMode::Graph);
  const DecodeReport byToken = decodeWith(*module, *weights.source, request, PrefillMode::TokenByToken);
  CHECK(byGraph.prefillPath == "@prefill (chunks of 4 rows)");
  // Token by token, the two prompts advance together: a row each per step.
  CHECK(byToken.prefillPath == "token by token through @decode.m2 (M = 2)");
  expectIdentical(byGraph, byToken);
}

TEST_CASE("smaller prefill buckets run the steps they hold, with the chunk's tokens", "[parity][prefill]") {
  const models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = syntheticWeights(config);
  const std::string withBuckets =
      std::string(kHgemmPipeline)
          .replace(0, std::string("specialize-buckets").size(), "specialize-buckets{prefill-buckets=[2]}");
  std::unique_ptr<ir::Module> chunkOnly = compileModule(config, *weights.source, {kHgemmPipeline, {1, 2}, 4});
  std::unique_ptr<ir::Module> bucketed = compileModule(config, *weights.source, {withBuckets, {1, 2}, 4});
  REQUIRE(bucketed->findGraph("prefill.m2") != nullptr);
  REQUIRE(matmulKernels(*bucketed->findGraph("prefill.m2")) == std::set<std::string>{"hgemm"});
  const DecodeRequest request = prefillRequest(config.vocabSize);
  const DecodeReport chunks = decodeWith(*chunkOnly, *weights.source, request, PrefillMode::Graph);
  const DecodeReport buckets = decodeWith(*bucketed, *weights.source, request, PrefillMode::Graph);
  // 13 prompt rows: three whole chunks through @prefill, the last row through @prefill.m2.
  CHECK(chunks.prefillPath == "@prefill (chunks of 4 rows)");
  CHECK(buckets.prefillPath == "@prefill, @prefill.m2 (chunks of 4 rows)");
  expectIdentical(chunks, buckets);
}

TEST_CASE("a prefill graph generic in M prefills in chunks too", "[parity][prefill]") {
  const models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = syntheticWeights(config);
  std::unique_ptr<ir::Module> module = compileModule(config, *weights.source, {});
  std::unique_ptr<ir::Graph> prefill = module->graphs.front()->clone("prefill");
  prefill->attrs().set("phase", std::string("prefill"));
  module->graphs.push_back(std::move(prefill));
  const DecodeRequest request = prefillRequest(config.vocabSize);
  const DecodeReport byGraph = decodeWith(*module, *weights.source, request, PrefillMode::Auto);
  const DecodeReport byToken = decodeWith(*module, *weights.source, request, PrefillMode::TokenByToken);
  CHECK(byGraph.prefillPath == "@prefill (chunks of 4 rows)");
  expectIdentical(byGraph, byToken);
}

TEST_CASE("default pipeline: hgemm prefill and dp4a decode agree within tolerance", "[parity][prefill]") {
  const models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = syntheticWeights(config);
  std::unique_ptr<ir::Module> module = compileModule(config, *weights.source, {passes::kDefaultPipeline, {1}, 16});
  const DecodeRequest request = prefillRequest(config.vocabSize);
  const DecodeReport byGraph = decodeWith(*module, *weights.source, request, PrefillMode::Graph);
  const DecodeReport byToken = decodeWith(*module, *weights.source, request, PrefillMode::TokenByToken);
  for (size_t s = 0; s < request.prompts.size(); ++s) {
    INFO("sequence " << s);
    const std::vector<float>& reference = byToken.sequences[s].logits.front();
    CHECK(relativeError(reference, byGraph.sequences[s].logits.front()) <= kQ81Tolerance);
    if (topTwoMargin(reference) > 2 * kQ81Tolerance * rms(reference))
      CHECK(byGraph.sequences[s].tokens.front() == byToken.sequences[s].tokens.front());
  }
}

TEST_CASE("prefill through a missing graph is refused", "[parity][prefill]") {
  const models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = syntheticWeights(config);
  std::unique_ptr<ir::Module> module = compileModule(config, *weights.source, {});
  CHECK_THROWS_WITH(decodeWith(*module, *weights.source, prefillRequest(config.vocabSize), PrefillMode::Graph),
                    Catch::Matchers::Contains("prefill through a prefill graph was asked for, but there is none"));
}
