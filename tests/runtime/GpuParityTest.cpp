// The GPU runtime against the CPU reference executor: the same optimized module runs on the CPU
// (ReferenceExecutor) and, lowered to a plan, on the GPU (CUDA graphs, poisoned buffers). Greedy
// tokens must be identical and every logits row within the tolerance of the kernels involved
// (GpuTestSupport.h): the tiny model and a synthetic TinyLlama, decode and prefill, short and
// long (flash-decoding) context classes.

#include "GpuTestSupport.h"

using namespace reel;
using namespace reel::test;

namespace {

/// Tolerances of the token produced by prefill (token 0) and by the decode buckets.
struct Tolerances {
  double prefill = kQ81Tolerance;
  double decode = kGpuTolerance;
};

Tolerances tolerancesOf(const codegen::Plan& plan) {
  Tolerances tolerances{kGpuTolerance, kGpuTolerance};
  for (const codegen::BucketPlan& bucket : plan.buckets) {
    double& target = bucket.phase == "prefill" ? tolerances.prefill : tolerances.decode;
    target = std::max(target, gpuToleranceFor(bucketKernelFamilies(bucket)));
  }
  return tolerances;
}

/// Tokens identical; logits within tolerance. Reports the worst error seen.
void expectMatchesCpu(const reference::DecodeReport& cpu, const reference::DecodeReport& gpu, const Tolerances& tol) {
  REQUIRE(gpu.sequences.size() == cpu.sequences.size());
  double worst = 0;
  for (size_t s = 0; s < cpu.sequences.size(); ++s) {
    INFO("sequence " << s);
    CHECK(gpu.sequences[s].tokens == cpu.sequences[s].tokens);
    REQUIRE(gpu.sequences[s].logits.size() == cpu.sequences[s].logits.size());
    for (size_t t = 0; t < cpu.sequences[s].logits.size(); ++t) {
      INFO("token " << t);
      const double error = relativeError(cpu.sequences[s].logits[t], gpu.sequences[s].logits[t]);
      CHECK(error <= (t == 0 ? tol.prefill : tol.decode));
      worst = std::max(worst, error);
    }
  }
  WARN("worst relative logits error GPU vs CPU: " << worst);
}

/// Compiles `config`, decodes `request` on the CPU and on the GPU, compares.
void checkModel(const models::ModelConfig& config, const GpuCompileSpec& spec, const reference::DecodeRequest& request) {
  const synth::OpenWeights& weights = gpuTestWeights(config);
  codegen::CompileResult compiled = compileForGpu(config, *weights.source, spec);
  std::unique_ptr<gpu::GpuRuntime> runtime = poisonedRuntime(compiled.plan, weights);
  const reference::DecodeReport gpuReport = gpuDecode(*runtime, request);
  const reference::DecodeReport cpuReport = cpuDecode(*compiled.module, *weights.source, request);
  expectMatchesCpu(cpuReport, gpuReport, tolerancesOf(compiled.plan));
}

}  // namespace

TEST_CASE("tiny: 32 greedy tokens on the GPU equal the CPU reference's", "[gpu][parity]") {
  const models::ModelConfig config = tinyConfig();
  checkModel(config, {}, {{staggeredPrompts(5, config.vocabSize)[4]}, 32, {}});
}

TEST_CASE("tiny: three sequences decoding together match the CPU reference", "[gpu][parity]") {
  const models::ModelConfig config = tinyConfig();
  std::vector<std::vector<int32_t>> prompts = staggeredPrompts(3, config.vocabSize);
  checkModel(config, {}, {prompts, 12, {}});
}

TEST_CASE("tiny: a prompt of several prefill chunks, then decode, matches the CPU reference", "[gpu][parity][prefill]") {
  const models::ModelConfig config = tinyConfig();
  std::vector<int32_t> prompt;
  for (int32_t i = 0; i < 37; ++i) prompt.push_back((11 + 17 * i) % static_cast<int32_t>(config.vocabSize));
  const synth::OpenWeights& weights = gpuTestWeights(config);
  codegen::CompileResult compiled = compileForGpu(config, *weights.source, {});
  std::unique_ptr<gpu::GpuRuntime> runtime = poisonedRuntime(compiled.plan, weights);
  const reference::DecodeRequest request{{prompt, {3, 1, 4}}, 8, {}};
  const reference::DecodeReport gpuReport = gpuDecode(*runtime, request);
  CHECK(gpuReport.prefillPath == "@prefill (chunks of 16 rows)");
  expectMatchesCpu(cpuDecode(*compiled.module, *weights.source, request), gpuReport, tolerancesOf(compiled.plan));
}

TEST_CASE("tiny: past the flash-decoding threshold the .long bucket runs and matches the CPU", "[gpu][parity][long]") {
  const models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = gpuTestWeights(config);
  GpuCompileSpec spec;
  spec.buckets = {1, 2};
  spec.prefillTokens = 128;
  spec.maxContext = 1152;
  codegen::CompileResult compiled = compileForGpu(config, *weights.source, spec);
  REQUIRE(std::any_of(compiled.plan.buckets.begin(), compiled.plan.buckets.end(),
                      [](const codegen::BucketPlan& b) { return b.minContext > 0; }));
  std::unique_ptr<gpu::GpuRuntime> runtime = poisonedRuntime(compiled.plan, weights);
  std::vector<int32_t> prompt;
  for (int32_t i = 0; i < 1030; ++i) prompt.push_back((5 + 29 * i) % static_cast<int32_t>(config.vocabSize));
  const reference::DecodeRequest request{{prompt}, 6, {}};
  const reference::DecodeReport gpuReport = gpuDecode(*runtime, request);
  REQUIRE(runtime->lastBucket() != nullptr);
  CHECK(runtime->lastBucket()->graph == "decode.m1.long");
  expectMatchesCpu(cpuDecode(*compiled.module, *weights.source, request), gpuReport, tolerancesOf(compiled.plan));
}

TEST_CASE("synthetic TinyLlama: 32 greedy tokens on the GPU equal the CPU reference's", "[gpu][parity][tinyllama]") {
  const models::ModelConfig config = models::loadModelConfig("tinyllama-1.1b");
  GpuCompileSpec spec;
  spec.buckets = {1, 2, 4};
  spec.maxContext = 128;
  checkModel(config, spec, {{{1, 450, 4996, 310}}, 32, {}});
}
