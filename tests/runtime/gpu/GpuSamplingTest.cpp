// Sampled decoding through the GPU runtime: each sequence draws the same tokens alone as in a
// padded bucket (row-independent DP4A buckets: the same logits bits, so the same draws), CUDA
// graphs and eager runs agree, and greedy rows of a sampling plan give the argmax plan's tokens
// and logits bit for bit.

#include "tests/runtime/gpu/GpuTestSupport.h"

using namespace reel;
using namespace reel::test;

namespace {

constexpr int64_t kNewTokens = 8;

decode::SamplingParams samplingOf(size_t s) {
  decode::SamplingParams p;
  p.temperature = 1.3f;
  p.topK = 50;
  p.topP = 0.95f;
  p.minP = 0.01f;
  p.repeatPenalty = 1.1f;
  p.presencePenalty = 0.2f;
  p.seed = 1234 + s;
  return p;
}

decode::DecodeRequest sampledRequest(const std::vector<std::vector<int32_t>>& prompts) {
  decode::DecodeRequest request{prompts, kNewTokens, {}, {}};
  for (size_t s = 0; s < prompts.size(); ++s) request.sampling.push_back(samplingOf(s));
  return request;
}

}  // namespace

TEST_CASE("sampled tokens do not depend on the bucket or the neighbours", "[gpu][buckets][sampling]") {
  TinySetup setup;
  GpuCompileSpec spec;
  spec.sampling = true;
  const codegen::CompileResult compiled = compileForGpu(setup.config, *setup.weights.source, spec);
  REQUIRE(compiled.plan.buckets.front().steps.back().kernel == "sample");
  std::unique_ptr<gpu::GpuRuntime> runtime = poisonedRuntime(compiled.plan, setup.weights);
  std::vector<std::vector<int32_t>> alone;
  for (size_t s = 0; s < setup.prompts.size(); ++s) {
    decode::DecodeRequest one{{setup.prompts[s]}, kNewTokens, {}, {samplingOf(s)}};
    alone.push_back(gpuDecode(*runtime, one).sequences.at(0).tokens);
  }
  for (int64_t rows : {4, 8}) {
    INFO("bucket decode.m" << rows << ": 3 live rows, " << rows - 3 << " padding");
    REQUIRE(bucketKernelFamilies(setup.decodeBucket(rows)) == std::set<std::string>{"dp4a"});
    runtime->poison();
    const decode::DecodeReport batched = gpuDecode(*runtime, sampledRequest(setup.prompts), rows);
    REQUIRE(runtime->lastBucket()->m == rows);
    for (size_t s = 0; s < alone.size(); ++s) {
      INFO("sequence " << s);
      CHECK(batched.sequences[s].tokens == alone[s]);
    }
  }
  // CUDA graphs and eager launches draw the same tokens.
  runtime->poison();
  runtime->setEager(true);
  const decode::DecodeReport eager = gpuDecode(*runtime, sampledRequest(setup.prompts), 4);
  runtime->setEager(false);
  CHECK(bitwiseEqual(eager, gpuDecode(*runtime, sampledRequest(setup.prompts), 4)));
}

TEST_CASE("greedy rows of a sampling plan are the argmax plan's, bit for bit", "[gpu][sampling]") {
  TinySetup setup;
  GpuCompileSpec spec;
  spec.sampling = true;
  const codegen::CompileResult compiled = compileForGpu(setup.config, *setup.weights.source, spec);
  std::unique_ptr<gpu::GpuRuntime> sampling = poisonedRuntime(compiled.plan, setup.weights);
  std::unique_ptr<gpu::GpuRuntime> argmax = poisonedRuntime(setup.compiled.plan, setup.weights);
  const decode::DecodeRequest request{setup.prompts, kNewTokens, {}};
  CHECK(bitwiseEqual(gpuDecode(*sampling, request), gpuDecode(*argmax, request)));
  // The argmax plan refuses sampled rows.
  CHECK_THROWS_WITH(gpuDecode(*argmax, sampledRequest(setup.prompts)),
                    Catch::Contains("takes the argmax of the logits (compile with sampling)"));
}
