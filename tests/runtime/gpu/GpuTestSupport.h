#pragma once
/// \file
/// Helpers of the GPU runtime tests: a model compiled to IR and a Plan in one go (the same
/// module feeds the CPU reference), synthetic weights written once per binary with every core,
/// the tiny model ready to run, the GPU runtime on poisoned buffers, and comparisons of decode
/// reports.
///
/// Tolerances (max |gpu - cpu| over a logits row / rms of the CPU row):
///  * kGpuTolerance (= kQ81Tolerance, 0.15) wherever the matmuls are DP4A, mma, HGEMM or
///    dequant-hgemm (HGEMM on the same f16 weight values, made per use). The
///    GEMVs are bit-exact with quant::dotQ81 (the mmq kernels with quant::dotQ81Mma) and short
///    runs of tiny match the CPU bit for bit, but
///    norms, RoPE and attention sum in another order or use other libm calls; a last-bit
///    difference that moves one Q8_1 rounding of a matmul input changes that output by up to
///    d = amax/127, and such flips add up over the layers. Measured on the H100: tiny <= 0.07,
///    TinyLlama (22 layers) <= 0.09, whether prefill is HGEMM or token by token through DP4A.
///  * kFp8Tolerance with FP8 (large buckets), as in ReferenceTestSupport.h.
///
/// Greedy tokens: along the CPU's tokens (teacher forcing), the GPU's argmax must equal the
/// CPU's wherever the CPU's top-two margin exceeds twice the row's measured difference (below
/// it either side may win); free-running, the GPU's tokens must equal the CPU's up to the first
/// such near tie (and, where a test says so, over the whole run).

#include "codegen/Compiler.h"
#include "runtime/decode/DecodeScheduler.h"
#include "runtime/gpu/GpuRuntime.h"
#include "tests/runtime/reference/ReferenceTestSupport.h"

#include <catch2/catch.hpp>

#include <cstring>
#include <stdexcept>
#include <thread>

namespace reel::test {

inline constexpr double kGpuTolerance = kQ81Tolerance;

/// Synthetic weights for `config` (seed 0), written with every core once per binary and scheme.
inline const synth::OpenWeights& gpuTestWeights(const models::ModelConfig& config,
                                                models::QuantScheme scheme = models::QuantScheme::Q4_K_M) {
  static std::map<std::string, synth::OpenWeights> cache;
  const std::string key = config.name + "/" + models::quantSchemeName(scheme);
  auto found = cache.find(key);
  if (found == cache.end()) {
    const unsigned threads = std::max(2u, std::thread::hardware_concurrency());
    found = cache.emplace(key, synth::openSyntheticWeights(config, {scheme, 0, threads})).first;
  }
  return found->second;
}

/// What to compile.
struct GpuCompileSpec {
  std::vector<int64_t> buckets{1, 2, 4, 8};
  int64_t prefillTokens = 16;
  std::vector<int64_t> prefillBuckets{};  ///< smaller prefill graphs (codegen::CompileRequest::prefillBuckets)
  int64_t maxContext = 256;
  std::string pipeline;   ///< empty: the default pipeline
  bool sampling = false;  ///< the step ends in `sample` (codegen::CompileRequest::sampling)
  models::QuantScheme scheme = models::QuantScheme::Q4_K_M;  ///< the weights' scheme (their qtypes are adopted)
};

/// The optimized module (for the CPU reference) and its plan (for the GPU).
inline codegen::CompileResult compileForGpu(const models::ModelConfig& config, const reference::WeightSource& weights,
                                            const GpuCompileSpec& spec) {
  std::unique_ptr<ir::Module> module = models::buildModule(config, {spec.scheme, spec.sampling});
  reference::adoptWeightTypes(*module, weights);
  codegen::CompileRequest request;
  request.sampling = spec.sampling;
  request.config = config;
  request.profile = passes::bundledGpuProfile("h100");
  if (!spec.pipeline.empty()) request.pipeline = spec.pipeline;
  request.buckets = spec.buckets;
  request.prefillTokens = spec.prefillTokens;
  request.prefillBuckets = spec.prefillBuckets;
  request.maxContext = spec.maxContext;
  return codegen::compileModule(std::move(module), request);
}

/// The tiny model compiled with the default spec, its weights and three staggered prompts.
struct TinySetup {
  models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = gpuTestWeights(config);
  codegen::CompileResult compiled = compileForGpu(config, *weights.source, {});
  std::vector<std::vector<int32_t>> prompts = staggeredPrompts(3, config.vocabSize);

  [[nodiscard]] const codegen::BucketPlan& decodeBucket(int64_t m) const {
    for (const codegen::BucketPlan& bucket : compiled.plan.buckets)
      if (bucket.phase == "decode" && bucket.m == m && bucket.minContext == 0) return bucket;
    FAIL("no decode bucket of m = " << m);
    throw std::logic_error("unreachable");
  }
};

/// A runtime on poisoned buffers (0xFF: NaN floats, -1 ints), so reading stale data shows.
inline std::unique_ptr<gpu::GpuRuntime> poisonedRuntime(const codegen::Plan& plan, const synth::OpenWeights& weights,
                                                        gpu::RuntimeOptions options = {}) {
  options.progress = false;
  auto runtime = std::make_unique<gpu::GpuRuntime>(plan, *weights.file, options);
  runtime->poison();
  return runtime;
}

/// The matmul kernel families (dp4a, mma, hgemm, dequant-hgemm, fp8) the steps of a bucket use:
/// an HGEMM right after a dequant_f16 launch is dequant-hgemm's.
inline std::set<std::string> bucketKernelFamilies(const codegen::BucketPlan& bucket) {
  std::set<std::string> families;
  bool afterDequant = false;
  for (const codegen::Step& step : bucket.steps) {
    if (step.kernel.rfind("gemv_dp4a", 0) == 0) families.insert("dp4a");
    if (step.kernel.rfind("mmq_", 0) == 0) families.insert("mma");
    if (step.kernel.rfind("mma_f16_", 0) == 0) families.insert("mma-f16");
    if (step.kernel == "hgemm_cublas") families.insert(afterDequant ? "dequant-hgemm" : "hgemm");
    if (step.kernel == "fp8_gemm_cublaslt") families.insert("fp8");
    afterDequant = step.kernel.rfind("dequant_f16_", 0) == 0;
  }
  return families;
}

/// The tolerance between the GPU and the CPU reference for plans using these families: mma as
/// dp4a (its kernels are bit-exact with quant::dotQ81Mma, which differs from dotQ81 only in the
/// float summation order), dequant-hgemm as hgemm (the same f16 weight values), mma-f16 as hgemm
/// (f16 weights and activations, f32 sums).
inline double gpuToleranceFor(const std::set<std::string>& families) {
  return families.count("fp8") ? kFp8Tolerance : kGpuTolerance;
}

/// Greedy decoding on the CPU reference, keeping logits (threads: every core).
inline decode::DecodeReport cpuDecode(const ir::Module& module, const reference::WeightSource& weights,
                                      const decode::DecodeRequest& request,
                                      decode::PrefillMode prefill = decode::PrefillMode::Auto) {
  reference::DecodeOptions options;
  options.keepLogits = true;
  options.prefill = prefill;
  options.threads = std::max(2u, std::thread::hardware_concurrency());
  return reference::runGreedyDecode(reference::findStepGraphs(module), weights, request, options);
}

/// Greedy decoding on the GPU runtime, keeping logits.
inline decode::DecodeReport gpuDecode(gpu::GpuRuntime& runtime, const decode::DecodeRequest& request,
                                      int64_t decodeRows = 0, decode::PrefillMode prefill = decode::PrefillMode::Auto) {
  decode::SchedulerOptions options;
  options.keepLogits = true;
  options.minDecodeRows = decodeRows;
  options.prefill = prefill;
  return decode::runDecode(runtime, request, options);
}

/// True when the top two logits are close enough that a difference of `error` (relative to
/// the row's rms) can swap them.
inline bool nearTie(const std::vector<float>& logits, double error) {
  return topTwoMargin(logits) <= 2 * error * rms(logits);
}

/// `request` with every sequence fed `report`'s tokens (teacher forcing along its path).
inline decode::DecodeRequest following(const decode::DecodeRequest& request, const decode::DecodeReport& report) {
  decode::DecodeRequest forced = request;
  forced.followTokens.clear();
  for (const decode::SequenceOutput& sequence : report.sequences) forced.followTokens.push_back(sequence.tokens);
  return forced;
}

/// The largest relative logits error between two reports (same shape required).
inline double worstError(const decode::DecodeReport& expected, const decode::DecodeReport& actual) {
  double worst = 0;
  REQUIRE(expected.sequences.size() == actual.sequences.size());
  for (size_t s = 0; s < expected.sequences.size(); ++s) {
    REQUIRE(expected.sequences[s].logits.size() == actual.sequences[s].logits.size());
    for (size_t t = 0; t < expected.sequences[s].logits.size(); ++t)
      worst = std::max(worst, relativeError(expected.sequences[s].logits[t], actual.sequences[s].logits[t]));
  }
  return worst;
}

/// True when both reports hold the same tokens and bit-identical logits.
inline bool bitwiseEqual(const decode::DecodeReport& a, const decode::DecodeReport& b) {
  if (a.sequences.size() != b.sequences.size()) return false;
  for (size_t s = 0; s < a.sequences.size(); ++s) {
    if (a.sequences[s].tokens != b.sequences[s].tokens || a.sequences[s].logits.size() != b.sequences[s].logits.size())
      return false;
    for (size_t t = 0; t < a.sequences[s].logits.size(); ++t) {
      const std::vector<float>& x = a.sequences[s].logits[t];
      const std::vector<float>& y = b.sequences[s].logits[t];
      if (x.size() != y.size() || std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) != 0) return false;
    }
  }
  return true;
}

}  // namespace reel::test
