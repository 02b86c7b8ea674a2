#include "runtime/synth/ModelSynth.h"

#include "models/Builder.h"
#include "models/RopeFactors.h"
#include "runtime/reference/WeightSource.h"
#include "support/Diagnostics.h"
#include "support/FormatBytes.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>

namespace reel::synth {

namespace {

/// Standard deviation and mean of a weight's synthetic values, by what it is.
void setMagnitude(const models::ModelConfig& config, SynthTensor& tensor) {
  const std::string& name = tensor.name;
  const auto endsWith = [&](std::string_view suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (endsWith("_norm.weight")) {
    tensor.mean = 1.0f;
    tensor.scale = 0.05f;
  } else if (endsWith(".bias")) {
    tensor.scale = 0.02f;
  } else if (name == "token_embd.weight" || name == "output.weight") {
    tensor.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(config.hiddenSize)));
  } else {
    tensor.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(tensor.ne.front())));
  }
}

void setModelMetadata(const models::ModelConfig& config, const SynthOptions& options, GgufMetadata& metadata) {
  const std::string arch = ggufArchitecture(config);
  const auto u32 = [](int64_t value) { return static_cast<uint32_t>(value); };
  metadata.set("general.name", config.name);
  metadata.set("general.file_type", ggufFileType(options.scheme));
  metadata.set("general.quantization_version", uint32_t{2});
  metadata.set("general.alignment", uint32_t{32});
  metadata.set(arch + ".vocab_size", u32(config.vocabSize));
  metadata.set(arch + ".context_length", u32(config.maxContext));
  metadata.set(arch + ".embedding_length", u32(config.hiddenSize));
  metadata.set(arch + ".block_count", u32(config.numLayers));
  metadata.set(arch + ".feed_forward_length", u32(config.intermediateSize));
  metadata.set(arch + ".attention.head_count", u32(config.numHeads));
  metadata.set(arch + ".attention.head_count_kv", u32(config.numKvHeads));
  metadata.set(arch + ".attention.layer_norm_rms_epsilon", static_cast<float>(config.rmsNormEps));
  metadata.set(arch + ".rope.freq_base", static_cast<float>(config.ropeTheta));
  metadata.set(arch + ".rope.dimension_count", u32(config.headDim));
  if (config.headDim * config.numHeads != config.hiddenSize) {
    metadata.set(arch + ".attention.key_length", u32(config.headDim));
    metadata.set(arch + ".attention.value_length", u32(config.headDim));
  }
  if (config.slidingWindow) metadata.set(arch + ".attention.sliding_window", u32(*config.slidingWindow));
  if (config.ropeScaling) {
    metadata.set("reel.rope.llama3.factor", static_cast<float>(config.ropeScaling->factor));
    metadata.set("reel.rope.llama3.low_freq_factor", static_cast<float>(config.ropeScaling->lowFreqFactor));
    metadata.set("reel.rope.llama3.high_freq_factor", static_cast<float>(config.ropeScaling->highFreqFactor));
    metadata.set("reel.rope.llama3.original_context_length", u32(config.ropeScaling->originalContext));
  }
  if (!options.tokenizer) {
    metadata.set("tokenizer.ggml.model", "no_vocab");
    return;
  }
  const GgufMetadata& tokenizer = *options.tokenizer;
  const size_t tokens = tokenizer.getArray("tokenizer.ggml.tokens").size();
  if (tokens != static_cast<size_t>(config.vocabSize))
    failPlain("{}: tokenizer.ggml.tokens holds {} tokens, the model '{}' a vocabulary of {}", tokenizer.source(),
              tokens, config.name, config.vocabSize);
  for (const GgufMetadataEntry& entry : tokenizer.entries())
    if (entry.key.rfind("tokenizer.", 0) == 0) metadata.set(entry.key, entry.value);
}

GgufTensorBlob ropeFreqsTensor(const models::ModelConfig& config) {
  const std::vector<float> factors = models::llama3RopeFactors(config.headDim, config.ropeTheta, *config.ropeScaling);
  GgufTensorBlob blob;
  blob.decl = {"rope_freqs.weight", quant::QType::F32, {static_cast<int64_t>(factors.size())}};
  blob.data.resize(factors.size() * sizeof(float));
  std::memcpy(blob.data.data(), factors.data(), blob.data.size());
  return blob;
}

std::filesystem::path directoryOf(const std::filesystem::path& path) {
  return path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
}

std::string describeBytes(uint64_t bytes) {
  return fmt::format("{} ({} bytes)", support::formatBytes(static_cast<double>(bytes)), bytes);
}

}  // namespace

std::string ggufArchitecture(const models::ModelConfig& config) {
  return config.architecture == "qwen2" ? "qwen2" : "llama";
}

uint32_t ggufFileType(models::QuantScheme scheme) {
  switch (scheme) {
    case models::QuantScheme::F16:
      return 1;
    case models::QuantScheme::Q8_0:
      return 7;
    case models::QuantScheme::Q4_K:
      return 14;  // LLAMA_FTYPE_MOSTLY_Q4_K_S
    case models::QuantScheme::Q4_K_M:
      return 15;
    case models::QuantScheme::Q4_0:
      return 2;  // LLAMA_FTYPE_MOSTLY_Q4_0
    case models::QuantScheme::Q5_K_M:
      return 17;
    case models::QuantScheme::BF16:
      return 32;
  }
  return 0;
}

SynthSpec planSyntheticModel(const models::ModelConfig& config, const SynthOptions& options) {
  config.validate();
  SynthSpec spec;
  spec.arch = ggufArchitecture(config);
  spec.seed = options.seed;
  spec.threads = options.threads;
  setModelMetadata(config, options, spec.metadata);
  for (const models::WeightInfo& weight : models::modelWeights(config, {options.scheme})) {
    SynthTensor tensor;
    tensor.name = weight.name;
    tensor.type = ir::toQType(weight.type.elem);
    tensor.ne.assign(weight.type.shape.rbegin(), weight.type.shape.rend());
    setMagnitude(config, tensor);
    spec.tensors.push_back(std::move(tensor));
  }
  if (config.ropeScaling) spec.fixedTensors.push_back(ropeFreqsTensor(config));
  return spec;
}

uint64_t syntheticModelBytes(const models::ModelConfig& config, const SynthOptions& options) {
  return syntheticGgufBytes(planSyntheticModel(config, options));
}

void requireRoomForSynthetic(const models::ModelConfig& config, const SynthOptions& options, uint64_t bytes,
                             const std::filesystem::path& path, std::optional<uint64_t> memoryBudget) {
  const char* scheme = models::quantSchemeName(options.scheme);
  if (memoryBudget && bytes > *memoryBudget)
    failPlain("{}: synthetic {} weights of {} need {}, over the memory budget of {}", path.string(), scheme,
              config.name, describeBytes(bytes), describeBytes(*memoryBudget));
  const std::filesystem::path directory = directoryOf(path);
  std::error_code error;
  const std::filesystem::space_info space = std::filesystem::space(directory, error);
  // Without an answer (no such directory, ...), the write itself reports the problem.
  if (!error && bytes > space.available)
    failPlain("{}: synthetic {} weights of {} need {}, but {} has only {} free", path.string(), scheme, config.name,
              describeBytes(bytes), directory.string(), describeBytes(space.available));
}

SynthReport writeSyntheticModel(const models::ModelConfig& config, const SynthOptions& options,
                                const std::filesystem::path& path, std::optional<uint64_t> memoryBudget) {
  const SynthSpec spec = planSyntheticModel(config, options);
  requireRoomForSynthetic(config, options, syntheticGgufBytes(spec), path, memoryBudget);
  return writeSyntheticGguf(spec, path);
}

}  // namespace reel::synth
