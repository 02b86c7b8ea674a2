// The GPU runtime against the CPU reference executor: the same optimized module runs on the CPU
// (ReferenceExecutor) and, lowered to a plan, on the GPU (CUDA graphs, poisoned buffers). Every
// logits row within the tolerance of the kernels involved, greedy tokens identical up to near
// ties (GpuTestSupport.h; over all 32 steps for tiny): the tiny model and a synthetic TinyLlama,
// decode and prefill (tensor-core prefill attention, and the decode kernel's), short and long
// (flash-decoding) context classes, DP4A and mma buckets.

#include "passes/PassTable.h"
#include "tests/runtime/gpu/GpuTestSupport.h"

using namespace reel;
using namespace reel::test;

namespace {

using decode::PrefillMode;

/// Tolerances of the token produced by prefill (token 0) and of those produced by decode steps.
struct Tolerances {
  double prefill = kGpuTolerance;
  double decode = kGpuTolerance;
};

/// The tolerances of a run whose decode steps have `sequences` rows: the prefill graphs'
/// families (unless prefilled token by token), and for decode the larger of its bucket's and the
/// prefill's (the KV cache carries prefill's differences into every decode step).
Tolerances tolerancesOf(const gpu::GpuRuntime& runtime, int64_t sequences, PrefillMode prefill) {
  const codegen::BucketPlan* decode = runtime.bucketFor(gpu::Phase::Decode, sequences, 1);
  REQUIRE(decode != nullptr);
  Tolerances tolerances;
  tolerances.decode = gpuToleranceFor(bucketKernelFamilies(*decode));
  tolerances.prefill = tolerances.decode;
  if (prefill != PrefillMode::TokenByToken) {
    bool first = true;
    for (const codegen::BucketPlan& bucket : runtime.plan().buckets) {
      if (bucket.phase != "prefill") continue;
      const double tolerance = gpuToleranceFor(bucketKernelFamilies(bucket));
      tolerances.prefill = first ? tolerance : std::max(tolerances.prefill, tolerance);
      first = false;
    }
  }
  tolerances.decode = std::max(tolerances.decode, tolerances.prefill);
  return tolerances;
}

/// Relative logits errors of `actual` against `expected`, per sequence and token.
std::vector<std::vector<double>> logitsErrors(const decode::DecodeReport& expected,
                                              const decode::DecodeReport& actual) {
  std::vector<std::vector<double>> errors(expected.sequences.size());
  for (size_t s = 0; s < expected.sequences.size(); ++s) {
    REQUIRE(actual.sequences[s].logits.size() == expected.sequences[s].logits.size());
    for (size_t t = 0; t < expected.sequences[s].logits.size(); ++t)
      errors[s].push_back(relativeError(expected.sequences[s].logits[t], actual.sequences[s].logits[t]));
  }
  return errors;
}

/// The CPU run, the GPU fed the CPU's tokens (teacher forcing) and the GPU free-running:
/// logits within tolerance, argmax equal except at near ties, free-running tokens equal up to
/// the first near tie.
/// How to compare.
struct Comparison {
  PrefillMode prefill = PrefillMode::Auto;
  bool allGreedyTokens = false;  ///< free-running tokens identical over the whole run, near ties or not
};

void compareWithCpu(const codegen::CompileResult& compiled, const synth::OpenWeights& weights,
                    const decode::DecodeRequest& request, const Comparison& how = {}) {
  const PrefillMode prefill = how.prefill;
  std::unique_ptr<gpu::GpuRuntime> runtime = poisonedRuntime(compiled.plan, weights);
  const Tolerances tol = tolerancesOf(*runtime, static_cast<int64_t>(request.prompts.size()), prefill);
  const decode::DecodeReport cpu = cpuDecode(*compiled.module, *weights.source, request, prefill);
  const decode::DecodeReport forced = gpuDecode(*runtime, following(request, cpu), 0, prefill);
  const std::vector<std::vector<double>> errors = logitsErrors(cpu, forced);
  runtime->poison();
  const decode::DecodeReport free = gpuDecode(*runtime, request, 0, prefill);
  double worst[2] = {0, 0};
  for (size_t s = 0; s < cpu.sequences.size(); ++s) {
    const decode::SequenceOutput& expected = cpu.sequences[s];
    size_t firstTie = expected.tokens.size();
    for (size_t t = 0; t < expected.tokens.size(); ++t) {
      INFO("sequence " << s << ", token " << t);
      CHECK(errors[s][t] <= (t == 0 ? tol.prefill : tol.decode));
      worst[t == 0 ? 0 : 1] = std::max(worst[t == 0 ? 0 : 1], errors[s][t]);
      if (!nearTie(expected.logits[t], errors[s][t])) {
        CHECK(forced.sequences[s].tokens[t] == expected.tokens[t]);
      } else if (firstTie == expected.tokens.size()) {
        firstTie = t;
      }
    }
    INFO("sequence " << s << ": greedy tokens compared up to the first near tie, token " << firstTie);
    CHECK(std::equal(expected.tokens.begin(), expected.tokens.begin() + static_cast<std::ptrdiff_t>(firstTie),
                     free.sequences[s].tokens.begin()));
    if (how.allGreedyTokens) CHECK(free.sequences[s].tokens == expected.tokens);
    WARN("sequence " << s << ": free-running greedy tokens identical to the CPU's for " << firstTie << " of "
                     << expected.tokens.size() << (firstTie < expected.tokens.size() ? " (then a near tie)" : ""));
  }
  WARN("worst relative logits error GPU vs CPU: " << worst[0] << " (prefill token), " << worst[1]
                                                  << " (decode tokens); tolerances " << tol.prefill << ", "
                                                  << tol.decode);
}

void checkModel(const models::ModelConfig& config, const GpuCompileSpec& spec, const decode::DecodeRequest& request,
                const Comparison& how = {}) {
  const synth::OpenWeights& weights = gpuTestWeights(config, spec.scheme);
  compareWithCpu(compileForGpu(config, *weights.source, spec), weights, request, how);
}

}  // namespace

TEST_CASE("tiny: 32 greedy tokens on the GPU equal the CPU reference's", "[gpu][parity]") {
  const models::ModelConfig config = tinyConfig();
  checkModel(config, {}, {{staggeredPrompts(5, config.vocabSize)[4]}, 32, {}}, {PrefillMode::Auto, true});
}

TEST_CASE("tiny: with every matmul DP4A (prefill token by token) the GPU tracks the CPU", "[gpu][parity]") {
  const models::ModelConfig config = tinyConfig();
  checkModel(config, {}, {staggeredPrompts(3, config.vocabSize), 16, {}}, {PrefillMode::TokenByToken});
}

TEST_CASE("tiny: a decode-only plan (no prefill graph, no kv_append step) matches the CPU", "[gpu][parity]") {
  // Every KV-cache write is then inside the fused RoPE + append + attention kernel.
  const models::ModelConfig config = tinyConfig();
  GpuCompileSpec spec;
  spec.prefillTokens = 0;
  checkModel(config, spec, {staggeredPrompts(2, config.vocabSize), 12, {}}, {PrefillMode::TokenByToken});
}

TEST_CASE("tiny: q4_0, q5_k_m, f16 and bf16 weights on the GPU match the CPU reference", "[gpu][parity]") {
  // DP4A GEMVs on Q4_0 and Q5_K (with Q6_K where llama.cpp gives more bits), HGEMM on f16 weights
  // and on the f16 copy of bf16 ones; Q4_0/Q5_K/bf16 embedding tables.
  const models::ModelConfig config = tinyConfig();
  for (const models::QuantScheme scheme :
       {models::QuantScheme::Q4_0, models::QuantScheme::Q5_K_M, models::QuantScheme::F16, models::QuantScheme::BF16}) {
    INFO(models::quantSchemeName(scheme));
    GpuCompileSpec spec;
    spec.scheme = scheme;
    checkModel(config, spec, {staggeredPrompts(2, config.vocabSize), 12, {}});
  }
}

TEST_CASE("Qwen-shaped q5_k_m: Q5_1 GEMVs (rows of 384) on the GPU match the CPU reference", "[gpu][parity]") {
  // llama.cpp's Q5_K_M on rows that are not whole super-blocks, as on Qwen2.5-0.5B: Q5_1 for
  // Q5_K, Q8_0 for Q6_K (the tied embedding table too); rows of 384 end in a partial unit.
  const models::ModelConfig config = qwenShapedConfig();
  GpuCompileSpec spec;
  spec.scheme = models::QuantScheme::Q5_K_M;
  const synth::OpenWeights& weights = gpuTestWeights(config, spec.scheme);
  const codegen::CompileResult compiled = compileForGpu(config, *weights.source, spec);
  int q51Launches = 0, q80Embeddings = 0;
  for (const codegen::BucketPlan& bucket : compiled.plan.buckets) {
    for (const codegen::Step& step : bucket.steps) {
      q51Launches += step.kernel.rfind("gemv_dp4a", 0) == 0 && step.kernel.ends_with("_q5_1") ? 1 : 0;
      q80Embeddings += step.kernel == "embed_q8_0" ? 1 : 0;
    }
  }
  CHECK(q51Launches > 0);
  CHECK(q80Embeddings > 0);
  compareWithCpu(compiled, weights, {staggeredPrompts(3, config.vocabSize), 12, {}});
}

TEST_CASE("tiny: three sequences decoding together match the CPU reference", "[gpu][parity]") {
  const models::ModelConfig config = tinyConfig();
  std::vector<std::vector<int32_t>> prompts = staggeredPrompts(3, config.vocabSize);
  checkModel(config, {}, {prompts, 12, {}});
}

TEST_CASE("tiny: mma decode buckets of 16 and 64 sequences and mma prefill match the CPU reference",
          "[gpu][parity][mma]") {
  const models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = gpuTestWeights(config);
  GpuCompileSpec spec;
  spec.buckets = {1, 16, 64};
  const codegen::CompileResult compiled = compileForGpu(config, *weights.source, spec);
  for (const codegen::BucketPlan& bucket : compiled.plan.buckets) {
    INFO(bucket.graph);
    if (bucket.phase == "prefill" || bucket.m >= 16) CHECK(bucketKernelFamilies(bucket).count("mma") == 1);
  }
  // 16 sequences decode together in bucket 16, 33 in bucket 64 (31 padding rows); every prompt
  // is prefilled through the mma prefill graph.
  for (const int sequences : {16, 33}) {
    INFO(sequences << " sequences");
    compareWithCpu(compiled, weights, {staggeredPrompts(sequences, config.vocabSize), 4, {}});
  }
}

TEST_CASE("tiny: dequant-hgemm prefill (f16 weights dequantized per use) matches the CPU reference",
          "[gpu][parity][dequant-hgemm]") {
  // dequant-hgemm on (it is off by default), without mma and DP4A, and no room for f16 copies in
  // the default budget (1.1 x the stored weights): prefill's matmuls run on the copy-free HGEMM,
  // dequant_f16 into the workspace, then cuBLAS on it.
  const models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = gpuTestWeights(config);
  GpuCompileSpec spec;
  spec.pipeline = passes::kDefaultPipeline;
  const std::string pass = "select-precision";
  spec.pipeline.replace(spec.pipeline.find(pass), pass.size(), pass + "{mma=false,dp4a=false,dequant-hgemm=true}");
  const codegen::CompileResult compiled = compileForGpu(config, *weights.source, spec);
  for (const codegen::BucketPlan& bucket : compiled.plan.buckets)
    if (bucket.phase == "prefill") CHECK(bucketKernelFamilies(bucket).count("dequant-hgemm") == 1);
  compareWithCpu(compiled, weights, {staggeredPrompts(3, config.vocabSize), 6, {}});
}

TEST_CASE("tiny: mma-f16 decode buckets of 16 and 64 sequences and mma-f16 prefill match the CPU reference",
          "[gpu][parity][mma-f16]") {
  // mma-f16 on (it is off by default), the other copy-free tensor-core families and FP8 off: the
  // Q4_K matmuls of buckets 16, 64 and prefill run mma_f16 (the Q6_K ones another family).
  const models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = gpuTestWeights(config);
  GpuCompileSpec spec;
  spec.buckets = {1, 16, 64};
  spec.pipeline = passes::kDefaultPipeline;
  const std::string pass = "select-precision";
  spec.pipeline.replace(spec.pipeline.find(pass), pass.size(),
                        pass + "{mma-f16=true,mma=false,fp8=false,dequant-hgemm=false}");
  const codegen::CompileResult compiled = compileForGpu(config, *weights.source, spec);
  for (const codegen::BucketPlan& bucket : compiled.plan.buckets) {
    INFO(bucket.graph);
    if (bucket.phase == "prefill" || bucket.m >= 16) CHECK(bucketKernelFamilies(bucket).count("mma-f16") == 1);
  }
  for (const int sequences : {16, 33}) {
    INFO(sequences << " sequences");
    compareWithCpu(compiled, weights, {staggeredPrompts(sequences, config.vocabSize), 4, {}});
  }
}

namespace {

/// How many launches of `kernel` the plan's prefill bucket has.
size_t prefillLaunches(const codegen::Plan& plan, const std::string& kernel) {
  size_t count = 0;
  for (const codegen::BucketPlan& bucket : plan.buckets)
    for (const codegen::Step& step : bucket.steps) count += bucket.phase == "prefill" && step.kernel == kernel ? 1 : 0;
  return count;
}

}  // namespace

TEST_CASE("tiny: a prompt of several prefill chunks, then decode, matches the CPU reference",
          "[gpu][parity][prefill]") {
  // The default plan prefills through the tensor-core attention (flash-prefill); with
  // select-attention{flash-prefill=false}, through the decode kernel with per-row lengths.
  // Two prompts, whose rows the scheduler packs into the 16-row prefill steps (a step may hold
  // rows of both sequences: two slots in one row tile of the kernel).
  const models::ModelConfig config = tinyConfig();
  std::vector<int32_t> prompt;
  for (int32_t i = 0; i < 37; ++i) prompt.push_back((11 + 17 * i) % static_cast<int32_t>(config.vocabSize));
  const synth::OpenWeights& weights = gpuTestWeights(config);
  const decode::DecodeRequest request{{prompt, {3, 1, 4}}, 8, {}};
  for (const bool flash : {true, false}) {
    INFO("flash-prefill " << flash);
    GpuCompileSpec spec;
    if (!flash) {
      spec.pipeline = passes::kDefaultPipeline;
      const std::string pass = "select-attention";
      spec.pipeline.replace(spec.pipeline.find(pass), pass.size(), pass + "{flash-prefill=false}");
    }
    codegen::CompileResult compiled = compileForGpu(config, *weights.source, spec);
    CHECK(prefillLaunches(compiled.plan, "attn_prefill_flash") == (flash ? static_cast<size_t>(config.numLayers) : 0));
    CHECK(prefillLaunches(compiled.plan, "attn_prefill") == (flash ? 0 : static_cast<size_t>(config.numLayers)));
    CHECK(gpuDecode(*poisonedRuntime(compiled.plan, weights), request).prefillPath == "@prefill (chunks of 16 rows)");
    compareWithCpu(compiled, weights, request);
  }
}

TEST_CASE("tiny: a step of few prompt rows runs the smallest prefill graph and matches the CPU",
          "[gpu][parity][prefill]") {
  const models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = gpuTestWeights(config);
  GpuCompileSpec spec;
  spec.buckets = {1, 2};
  spec.prefillBuckets = {4};
  codegen::CompileResult compiled = compileForGpu(config, *weights.source, spec);
  // A 19-token prompt: one 16-row chunk through @prefill, its last 3 rows through @prefill.m4.
  std::vector<int32_t> prompt;
  for (int32_t i = 0; i < 19; ++i) prompt.push_back((7 + 31 * i) % static_cast<int32_t>(config.vocabSize));
  const decode::DecodeRequest request{{prompt}, 8, {}};
  CHECK(gpuDecode(*poisonedRuntime(compiled.plan, weights), request).prefillPath ==
        "@prefill, @prefill.m4 (chunks of 16 rows)");
  compareWithCpu(compiled, weights, request);
}

TEST_CASE("tiny: past the flash-decoding threshold the .long bucket runs and matches the CPU", "[gpu][parity][long]") {
  models::ModelConfig config = tinyConfig();
  config.maxContext = 2048;  // tiny's own 512 is below the flash-decoding threshold
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
  const decode::DecodeRequest request{{prompt}, 6, {}};
  gpuDecode(*runtime, request);
  REQUIRE(runtime->lastBucket() != nullptr);
  CHECK(runtime->lastBucket()->graph == "decode.m1.long");
  compareWithCpu(compiled, weights, request);
}

TEST_CASE("synthetic TinyLlama: 32 greedy tokens on the GPU equal the CPU reference's", "[gpu][parity][tinyllama]") {
  const models::ModelConfig config = models::loadModelConfig("tinyllama-1.1b");
  GpuCompileSpec spec;
  spec.buckets = {1, 2, 4};
  spec.maxContext = 128;
  checkModel(config, spec, {{{1, 450, 4996, 310}}, 32, {}});
}

TEST_CASE("synthetic TinyLlama: every matmul DP4A (prefill token by token)", "[gpu][parity][tinyllama]") {
  const models::ModelConfig config = models::loadModelConfig("tinyllama-1.1b");
  GpuCompileSpec spec;
  spec.buckets = {1, 2};
  spec.maxContext = 64;
  checkModel(config, spec, {{{1, 450, 4996, 310}}, 16, {}}, {PrefillMode::TokenByToken});
}
