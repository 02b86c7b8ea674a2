#pragma once
/// \file
/// Helpers of the CPU-reference tests: synthetic weights for small configs (written once
/// per config and seed per test binary), compiling a module with a pipeline string, and
/// comparing logits.
///
/// Tolerances: the error of a logits row is max |a - b| over the row divided by the rms
/// of the reference row (so it reads as "the worst logit moved by this many rms").
///  * Same numerics on both sides (fused vs unfused; bucket vs M = 1 where both graphs use
///    the same non-fp8 family; token-by-token vs prefill graph at one precision): every op
///    but fp8 is row-independent and deterministic in the reference, so the results are
///    bit-identical. kExactTolerance = 1e-6 (measured: 0).
///  * dp4a (Q8_1 activations: 8 bits per value, one scale per 32) against hgemm (fp16
///    weights and activations) or f32: kQ81Tolerance = 0.15 (measured on tiny: <= 0.08).
///  * fp8 (E4M3 weights scaled per row, activations per step as kernels/Blas.h: 3 mantissa bits)
///    against anything: kFp8Tolerance = 1.0 (measured on tiny: <= 0.51). Unrelated logits rows
///    score ~4-5 on this measure, so even this tolerance catches a wrong row or position.
/// Tokens are compared only where the reference's top-two logit gap exceeds twice the
/// tolerance (times the rms): below that a flip is within the precision's noise.

#include "ir/Graph.h"
#include "models/Builder.h"
#include "models/ModelLoader.h"
#include "passes/GpuProfile.h"
#include "passes/PassManager.h"
#include "runtime/reference/ReferenceStepExecutor.h"
#include "runtime/reference/WeightSource.h"
#include "runtime/synth/WeightFiles.h"

#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace reel::test {

inline constexpr double kExactTolerance = 1e-6;
inline constexpr double kQ81Tolerance = 0.15;
inline constexpr double kFp8Tolerance = 1.0;

/// The bundled tiny config (2 layers, hidden 256, GQA 8/2, vocab 1024).
inline models::ModelConfig tinyConfig() {
  return models::loadModelConfig("tiny");
}

/// Gives `config` Qwen2.5's traits: the qwen2 architecture, neox RoPE (theta 1e6), q/k/v biases,
/// tied embeddings, RMSNorm eps 1e-6.
inline void setQwen2Traits(models::ModelConfig& config) {
  config.architecture = "qwen2";
  config.ropeStyle = models::RopeStyle::Neox;
  config.qkvBias = true;
  config.tieEmbeddings = true;
  config.rmsNormEps = 1e-6;
  config.ropeTheta = 1000000.0;
}

/// A Qwen2-shaped test model: tiny's layers with Qwen2.5's features (qwen2, neox RoPE, q/k/v
/// biases, tied embeddings) and rows of 384, which are not whole K-quant super-blocks, so the
/// K-quant schemes fall back to the 32-element block formats as they do on Qwen2.5-0.5B (rows of
/// 896; ffn_down's 512 stays whole, as Qwen2.5-0.5B's 4864).
inline models::ModelConfig qwenShapedConfig() {
  models::ModelConfig config = tinyConfig();
  config.name = "tiny-qwen2-384";
  config.source.clear();
  setQwen2Traits(config);
  config.hiddenSize = 384;
  config.numHeads = 6;
  config.numKvHeads = 3;
  config.headDim = 64;
  config.validate();
  return config;
}

/// Synthetic weights for `config`, made once per (name, scheme, seed) and kept for the
/// rest of the test binary.
inline const synth::OpenWeights& syntheticWeights(const models::ModelConfig& config,
                                                  models::QuantScheme scheme = models::QuantScheme::Q4_K_M,
                                                  uint64_t seed = 0) {
  static std::map<std::string, synth::OpenWeights> cache;
  const std::string key = config.name + "/" + models::quantSchemeName(scheme) + "/" + std::to_string(seed);
  auto found = cache.find(key);
  if (found == cache.end()) found = cache.emplace(key, synth::openSyntheticWeights(config, {scheme, seed, 2})).first;
  return found->second;
}

/// What to compile with.
struct CompileSpec {
  std::string pipeline;  ///< pipeline text; empty = no passes (the generic @step alone)
  std::vector<int64_t> buckets{1, 2, 4, 8, 16};
  int64_t prefillTokens = 16;
  models::QuantScheme scheme = models::QuantScheme::Q4_K_M;
  bool sampling = false;  ///< the step ends in `sample` (models::BuildOptions::sampling)
};

/// Builds the module of `config`, adopts the weights' qtypes and runs the pipeline
/// (profile h100).
inline std::unique_ptr<ir::Module> compileModule(const models::ModelConfig& config,
                                                 const reference::WeightSource& weights, const CompileSpec& spec) {
  std::unique_ptr<ir::Module> module = models::buildModule(config, {spec.scheme, spec.sampling});
  reference::adoptWeightTypes(*module, weights);
  if (spec.pipeline.empty()) return module;
  passes::PassContext context;
  context.profile = passes::bundledGpuProfile("h100");
  context.buckets = spec.buckets;
  context.prefillTokens = spec.prefillTokens;
  passes::PassManager(passes::Pipeline::parse(spec.pipeline)).run(*module, context);
  return module;
}

/// The numerics families of the matmuls of `graph`: the `kernel` attributes ("mma" apart from
/// "dp4a": the same Q8_1 integer products, summed in another float order), no attribute as
/// "f32".
inline std::set<std::string> matmulKernels(const ir::Graph& graph) {
  std::set<std::string> kernels;
  for (const auto& op : graph.ops()) {
    if (op->name() != "matmul" && op->name() != "matmul_qkv" && op->name() != "matmul_gate_up") continue;
    kernels.insert(op->attrs().getString("kernel").value_or("f32"));
  }
  return kernels;
}

/// How many ops named `name` the module's graphs hold.
inline int countOps(const ir::Module& module, const std::string& name) {
  int count = 0;
  for (const auto& graph : module.graphs)
    for (const auto& op : graph->ops()) count += op->name() == name ? 1 : 0;
  return count;
}

/// The tolerance for comparing logits computed with these two sets of kernels.
inline double toleranceFor(const std::set<std::string>& a, const std::set<std::string>& b) {
  if (a.count("fp8") || b.count("fp8")) return kFp8Tolerance;
  if (a == b && a.size() <= 1) return kExactTolerance;
  return kQ81Tolerance;
}

/// max |a - b| / rms(a).
inline double relativeError(const std::vector<float>& a, const std::vector<float>& b) {
  double sumSquares = 0.0;
  double worst = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    sumSquares += static_cast<double>(a[i]) * a[i];
    worst = std::max(worst, std::fabs(static_cast<double>(a[i]) - b[i]));
  }
  const double rms = std::sqrt(sumSquares / static_cast<double>(std::max<size_t>(1, a.size())));
  return worst / std::max(rms, 1e-30);
}

/// The gap between the largest and the second largest value (how safe an argmax is).
inline double topTwoMargin(const std::vector<float>& logits) {
  float first = -INFINITY;
  float second = -INFINITY;
  for (float value : logits) {
    if (value > first) {
      second = first;
      first = value;
    } else if (value > second) {
      second = value;
    }
  }
  return static_cast<double>(first) - second;
}

/// The rms of a logits row.
inline double rms(const std::vector<float>& values) {
  double sum = 0.0;
  for (float value : values) sum += static_cast<double>(value) * value;
  return std::sqrt(sum / static_cast<double>(std::max<size_t>(1, values.size())));
}

/// Prompts of different lengths: sequence i has 2 + i tokens (so they sit at different
/// positions), drawn from a fixed pattern.
inline std::vector<std::vector<int32_t>> staggeredPrompts(int64_t count, int64_t vocab) {
  std::vector<std::vector<int32_t>> prompts;
  for (int64_t i = 0; i < count; ++i) {
    std::vector<int32_t> prompt;
    for (int64_t j = 0; j < 2 + i; ++j) prompt.push_back(static_cast<int32_t>((7 + 31 * i + 13 * j) % vocab));
    prompts.push_back(std::move(prompt));
  }
  return prompts;
}

}  // namespace reel::test
