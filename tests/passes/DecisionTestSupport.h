#pragma once
/// \file
/// Helpers for the decision-pass tests: model configs written out by hand (so the tests
/// do not depend on the bundled files), GPU profiles filled by hand, and a way to run a
/// pipeline on a model and look at the resulting bucket graphs.

#include "ir/Graph.h"
#include "ir/Parser.h"
#include "models/Builder.h"
#include "passes/PassManager.h"
#include "passes/Pipeline.h"

#include <memory>
#include <string>
#include <vector>

namespace reel::passes::testing {

/// The sizes that make a Llama-family config.
struct ModelSizes {
  const char* name;
  int64_t hidden;
  int64_t ffn;
  int64_t layers;
  int64_t heads;
  int64_t kvHeads;
  int64_t vocab;
  int64_t context;
};

inline models::ModelConfig configOf(const ModelSizes& sizes) {
  models::ModelConfig config;
  config.name = sizes.name;
  config.architecture = "llama";
  config.vocabSize = sizes.vocab;
  config.hiddenSize = sizes.hidden;
  config.intermediateSize = sizes.ffn;
  config.numLayers = sizes.layers;
  config.numHeads = sizes.heads;
  config.numKvHeads = sizes.kvHeads;
  config.headDim = sizes.hidden / sizes.heads;
  config.maxContext = sizes.context;
  config.ropeTheta = 500000.0;
  config.validate();
  return config;
}

/// Llama-3-8B's shape.
inline models::ModelConfig llama3_8b() {
  return configOf({"llama-3-8b", 4096, 14336, 32, 32, 8, 128256, 8192});
}
/// A two-layer model small enough that every kernel is launch-bound.
inline models::ModelConfig tinyModel() {
  return configOf({"tiny", 256, 768, 2, 4, 2, 1024, 2048});
}
/// A model of the Qwen2.5-1.5B shape (hidden 1536, 28 layers): the model of the RTX 4090
/// measurements in docs/design.md.
inline models::ModelConfig qwen15bLike() {
  models::ModelConfig config = configOf({"qwen2.5-1.5b-like", 1536, 8960, 28, 12, 2, 151936, 32768});
  config.architecture = "qwen2";
  config.qkvBias = true;
  config.tieEmbeddings = true;
  return config;
}

/// An H100 SXM as the bundled profile describes it, filled by hand.
inline GpuProfile h100Like() {
  GpuProfile profile;
  profile.name = "h100-like";
  profile.smCount = 132;
  profile.computeCapability = 90;
  profile.memoryBandwidthGBs = 3100;
  profile.memoryGB = 80;
  profile.fp16Tflops = 989;
  profile.fp8Tflops = 1979;
  profile.int8Tops = 134;
  profile.launchCostUs = 2.5;
  profile.fp8 = true;
  profile.wgmma = true;
  return profile;
}

/// An RTX 4090 (the GPU class of the measurements in docs/design.md).
inline GpuProfile rtx4090Like() {
  GpuProfile profile;
  profile.name = "rtx4090-like";
  profile.smCount = 128;
  profile.computeCapability = 89;
  profile.memoryBandwidthGBs = 950;
  profile.memoryGB = 24;
  profile.fp16Tflops = 165;
  profile.fp8Tflops = 330;
  profile.int8Tops = 165;
  profile.launchCostUs = 2.5;
  profile.maxThreadsPerSm = 1536;
  profile.fp8 = true;
  return profile;
}

/// An A100: no FP8.
inline GpuProfile a100Like() {
  GpuProfile profile;
  profile.name = "a100-like";
  profile.smCount = 108;
  profile.computeCapability = 80;
  profile.memoryBandwidthGBs = 1800;
  profile.memoryGB = 80;
  profile.fp16Tflops = 312;
  profile.int8Tops = 78;
  profile.launchCostUs = 2.5;
  return profile;
}

inline PassContext contextFor(const GpuProfile& profile, std::vector<int64_t> buckets = {1, 2, 4, 8, 16, 32, 64}) {
  PassContext context;
  context.profile = profile;
  context.buckets = std::move(buckets);
  context.prefillTokens = 256;
  return context;
}

/// Builds `config` at Q4_K_M and runs `pipeline` on it (verifying after each pass).
inline std::unique_ptr<ir::Module> compile(const models::ModelConfig& config, const std::string& pipeline,
                                           PassContext& context) {
  std::unique_ptr<ir::Module> module = models::buildModule(config, {models::QuantScheme::Q4_K_M});
  PassManager(Pipeline::parse(pipeline)).run(*module, context);
  return module;
}

/// The ops named `opName` in `graph`.
inline std::vector<const ir::Op*> opsNamed(const ir::Graph& graph, llvm::StringRef opName) {
  std::vector<const ir::Op*> ops;
  for (const std::unique_ptr<ir::Op>& op : graph.ops())
    if (op->name() == opName) ops.push_back(op.get());
  return ops;
}

/// The op producing value `valueName` in `graph`, or nullptr.
inline const ir::Op* producerOf(const ir::Graph& graph, llvm::StringRef valueName) {
  ir::Value* value = graph.lookup(valueName);
  return value ? value->producer() : nullptr;
}

/// The string attribute `name` of the producer of `valueName` ("" if absent).
inline std::string attrOf(const ir::Graph& graph, llvm::StringRef valueName, llvm::StringRef name) {
  const ir::Op* op = producerOf(graph, valueName);
  return op ? op->attrs().getString(name).value_or("") : std::string();
}

/// The decisions of `pass` on `graph`.
inline std::vector<Decision> decisionsOf(const PassContext& context, const std::string& pass,
                                         const std::string& graph) {
  std::vector<Decision> found;
  for (const Decision& decision : context.decisions)
    if (decision.pass == pass && decision.graph == graph) found.push_back(decision);
  return found;
}

}  // namespace reel::passes::testing
