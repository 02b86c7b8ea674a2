// Fused and unfused pipelines give the same logits and the same greedy tokens: the fusions
// (matmul_qkv, matmul_gate_up, add_rms_norm), the shared Q8_1 quantization and its folding
// into norms and SwiGLU change the graph, not the numbers. Same kernels on both sides, so the tolerance is
// kExactTolerance.

#include "tests/runtime/reference/ReferenceTestSupport.h"

#include <catch2/catch.hpp>
#include <set>

using namespace reel;
using namespace reel::decode;
using namespace reel::reference;
using namespace reel::test;

namespace {

constexpr const char* kFusedPipeline =
    "specialize-buckets,canonicalize,cse,dce,select-precision,fuse-qkv,fuse-gate-up,"
    "fuse-residual-norm{mode=always},select-attention,fuse-rope-attention,share-activation-quant,fold-quantize,dce,"
    "plan-memory";
constexpr const char* kUnfusedPipeline =
    "specialize-buckets,canonicalize,cse,dce,select-precision,select-attention,dce,plan-memory";

}  // namespace

TEST_CASE("fused and unfused pipelines agree on logits and tokens", "[parity][fusion]") {
  const models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = syntheticWeights(config);
  std::unique_ptr<ir::Module> fused = compileModule(config, *weights.source, {kFusedPipeline, {1, 4}, 8});
  std::unique_ptr<ir::Module> unfused = compileModule(config, *weights.source, {kUnfusedPipeline, {1, 4}, 8});
  REQUIRE(countOps(*fused, "matmul_qkv") > 0);
  REQUIRE(countOps(*fused, "matmul_gate_up") > 0);
  REQUIRE(countOps(*fused, "add_rms_norm") > 0);
  std::set<std::string> q81Producers;  // norms, SwiGLUs and attentions writing q8_1 (fold-quantize)
  for (const auto& graph : fused->graphs)
    for (const auto& op : graph->ops())
      if (op->name() != "quantize_q8_1" && op->numResults() > 0 &&
          op->result(op->numResults() - 1)->type().elem == ir::ElemType::Q8_1)
        q81Producers.insert(op->name().str());
  REQUIRE(q81Producers == std::set<std::string>{"add_rms_norm", "attention", "rms_norm", "silu_mul"});
  REQUIRE(countOps(*unfused, "matmul_qkv") + countOps(*unfused, "add_rms_norm") == 0);
  for (const char* graph : {"decode.m1", "decode.m4", "prefill"})
    REQUIRE(matmulKernels(*fused->findGraph(graph)) == matmulKernels(*unfused->findGraph(graph)));

  DecodeRequest request{staggeredPrompts(3, config.vocabSize), 6, {}};
  DecodeOptions options;
  options.keepLogits = true;
  const DecodeReport a = runGreedyDecode(findStepGraphs(*fused), *weights.source, request, options);
  const DecodeReport b = runGreedyDecode(findStepGraphs(*unfused), *weights.source, request, options);
  REQUIRE(a.decodePath.find("decode.m4") != std::string::npos);
  for (size_t s = 0; s < request.prompts.size(); ++s) {
    INFO("sequence " << s);
    CHECK(a.sequences[s].tokens == b.sequences[s].tokens);
    for (size_t t = 0; t < a.sequences[s].logits.size(); ++t)
      CHECK(relativeError(b.sequences[s].logits[t], a.sequences[s].logits[t]) <= kExactTolerance);
  }
}
