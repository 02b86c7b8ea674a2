#include "models/GgufConfig.h"

#include "models/ModelLoader.h"
#include "models/RopeFactors.h"
#include "support/Diagnostics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>

namespace reel::models {

namespace {

/// The Llama 3.x scaling a rope_freqs tensor without reel.rope.* keys is checked against.
constexpr models::Llama3RopeScaling kCommonLlama3{8.0, 1.0, 4.0, 8192};

/// Reads the keys of one file, with messages that name the file and the key.
class MetadataReader {
 public:
  MetadataReader(const GgufFile& file, std::string arch) : file_(file), arch_(std::move(arch)) {}

  [[nodiscard]] std::string key(std::string_view suffix) const { return arch_ + "." + std::string(suffix); }

  [[nodiscard]] std::optional<int64_t> optionalInt(const std::string& name) const {
    if (!file_.metadata().contains(name)) return std::nullopt;
    return file_.metadata().getInteger(name);
  }
  [[nodiscard]] int64_t requiredInt(const std::string& name) const {
    std::optional<int64_t> value = optionalInt(name);
    if (!value) missing(name);
    return *value;
  }
  /// A float key as the decimal it was written from (f32 1e-5 reads back as 1e-5, not
  /// 9.99999975e-06), so a config survives a trip through a GGUF file unchanged.
  [[nodiscard]] std::optional<double> optionalFloat(const std::string& name) const {
    if (!file_.metadata().contains(name)) return std::nullopt;
    const GgufValue& value = file_.metadata().get(name);
    if (std::optional<float> single = value.get<float>()) return std::stod(fmt::format("{}", *single));
    return file_.metadata().getFloat(name);
  }
  [[nodiscard]] double requiredFloat(const std::string& name) const {
    std::optional<double> value = optionalFloat(name);
    if (!value) missing(name);
    return *value;
  }

  [[noreturn]] void missing(const std::string& name) const {
    failPlain("{}: missing GGUF metadata key '{}' (needed for the model config)", file_.name(), name);
  }

 private:
  const GgufFile& file_;
  std::string arch_;
};

int64_t readVocabSize(const GgufFile& file, const MetadataReader& keys) {
  if (std::optional<int64_t> size = keys.optionalInt(keys.key("vocab_size"))) return *size;
  if (const GgufValue* tokens = file.metadata().find("tokenizer.ggml.tokens"); tokens && tokens->array())
    return static_cast<int64_t>(tokens->array()->size());
  if (const GgufTensorInfo* embedding = file.findTensor("token_embd.weight"); embedding && embedding->nDims == 2)
    return embedding->ne[1];
  keys.missing(keys.key("vocab_size"));
}

std::vector<float> tensorFloats(const GgufFile& file, const GgufTensorInfo& info) {
  if (info.type != quant::QType::F32 || info.nDims != 1)
    failPlain("{}: tensor '{}' must be a 1-D F32 tensor", file.name(), info.name);
  std::vector<float> values(static_cast<size_t>(info.ne[0]));
  std::memcpy(values.data(), file.tensorData(info).data(), values.size() * sizeof(float));
  return values;
}

bool factorsMatch(const std::vector<float>& expected, const std::vector<float>& actual) {
  if (expected.size() != actual.size()) return false;
  for (size_t i = 0; i < expected.size(); ++i)
    if (std::fabs(expected[i] - actual[i]) > 1e-5f * std::max(1.0f, std::fabs(expected[i]))) return false;
  return true;
}

/// Llama-3 scaling from the reel.rope.llama3.* keys, or recognised in rope_freqs.weight.
std::optional<models::Llama3RopeScaling> readRopeScaling(const GgufFile& file, const MetadataReader& keys,
                                                         const models::ModelConfig& config) {
  const GgufTensorInfo* freqs = file.findTensor("rope_freqs.weight");
  std::optional<double> factor = keys.optionalFloat("reel.rope.llama3.factor");
  if (!freqs && !factor) return std::nullopt;
  models::Llama3RopeScaling params = kCommonLlama3;
  if (factor) {
    params = {*factor, keys.requiredFloat("reel.rope.llama3.low_freq_factor"),
              keys.requiredFloat("reel.rope.llama3.high_freq_factor"),
              keys.requiredInt("reel.rope.llama3.original_context_length")};
  }
  if (freqs) {
    const std::vector<float> stored = tensorFloats(file, *freqs);
    const int64_t headDim =
        config.headDim > 0 ? config.headDim : config.hiddenSize / std::max<int64_t>(1, config.numHeads);
    if (!factor && !stored.empty()) params.factor = *std::max_element(stored.begin(), stored.end());
    if (!factorsMatch(models::llama3RopeFactors(headDim, config.ropeTheta, params), stored))
      failPlain(
          "{}: rope_freqs.weight does not match Llama-3 RoPE scaling (factor {}, low {}, high {}, original "
          "context {}); other frequency factors are not supported",
          file.name(), params.factor, params.lowFreqFactor, params.highFreqFactor, params.originalContext);
  }
  return params;
}

/// The GGUF key each config field comes from; `perArch` keys follow "<arch>.".
struct GgufKey {
  models::ConfigField field;
  const char* key;
  bool perArch;
};

constexpr GgufKey kGgufKeys[] = {
    {models::ConfigField::Name, "general.name", false},
    {models::ConfigField::Architecture, "general.architecture", false},
    {models::ConfigField::VocabSize, "vocab_size", true},
    {models::ConfigField::HiddenSize, "embedding_length", true},
    {models::ConfigField::IntermediateSize, "feed_forward_length", true},
    {models::ConfigField::NumLayers, "block_count", true},
    {models::ConfigField::NumHeads, "attention.head_count", true},
    {models::ConfigField::NumKvHeads, "attention.head_count_kv", true},
    {models::ConfigField::HeadDim, "attention.key_length", true},
    {models::ConfigField::MaxContext, "context_length", true},
    {models::ConfigField::RmsNormEps, "attention.layer_norm_rms_epsilon", true},
    {models::ConfigField::RopeTheta, "rope.freq_base", true},
    {models::ConfigField::RopeScalingFactor, "reel.rope.llama3.factor", false},
    {models::ConfigField::RopeScalingLowFreqFactor, "reel.rope.llama3.low_freq_factor", false},
    {models::ConfigField::RopeScalingHighFreqFactor, "reel.rope.llama3.high_freq_factor", false},
    {models::ConfigField::RopeScalingOriginalContext, "reel.rope.llama3.original_context_length", false},
    {models::ConfigField::SlidingWindow, "attention.sliding_window", true},
};

/// Names each config field by the GGUF key it comes from, so a message says which key of
/// the file is wrong ("m.gguf: 'llama.attention.key_length' must be at most 1024, ...").
models::FieldLocator ggufLocator(const std::string& fileName, const std::string& arch) {
  return [fileName, arch](models::ConfigField field) {
    for (const GgufKey& entry : kGgufKeys)
      if (entry.field == field)
        return models::FieldOrigin{entry.perArch ? arch + "." + entry.key : std::string(entry.key),
                                   SourceLoc{fileName}};
    return models::FieldOrigin{models::tomlKeyOf(field), SourceLoc{fileName}};
  };
}

}  // namespace

models::ModelConfig configFromGguf(const GgufFile& file) {
  const GgufValue* archValue = file.metadata().find("general.architecture");
  if (!archValue || !archValue->string())
    failPlain("{}: missing GGUF metadata key 'general.architecture' (a string)", file.name());
  const std::string arch = *archValue->string();
  if (arch != "llama" && arch != "qwen2")
    failPlain("{}: architecture '{}' is not supported (expected llama or qwen2)", file.name(), arch);
  const MetadataReader keys(file, arch);

  models::ModelConfig config;
  config.source = file.name();
  const GgufValue* name = file.metadata().find("general.name");
  config.name = name && name->string() ? *name->string() : std::filesystem::path(file.name()).stem().string();
  config.architecture = arch;
  config.vocabSize = readVocabSize(file, keys);
  config.hiddenSize = keys.requiredInt(keys.key("embedding_length"));
  config.intermediateSize = keys.requiredInt(keys.key("feed_forward_length"));
  config.numLayers = keys.requiredInt(keys.key("block_count"));
  config.numHeads = keys.requiredInt(keys.key("attention.head_count"));
  config.numKvHeads = keys.optionalInt(keys.key("attention.head_count_kv")).value_or(config.numHeads);
  config.headDim = keys.optionalInt(keys.key("attention.key_length")).value_or(0);
  config.maxContext = keys.requiredInt(keys.key("context_length"));
  config.rmsNormEps = keys.requiredFloat(keys.key("attention.layer_norm_rms_epsilon"));
  config.ropeTheta = keys.optionalFloat(keys.key("rope.freq_base")).value_or(10000.0);
  config.ropeStyle = arch == "qwen2" ? models::RopeStyle::Neox : models::RopeStyle::Norm;
  config.tieEmbeddings = file.findTensor("output.weight") == nullptr;
  config.qkvBias = file.findTensor("blk.0.attn_q.bias") != nullptr;
  config.slidingWindow = keys.optionalInt(keys.key("attention.sliding_window"));
  if (config.slidingWindow && arch == "llama") config.architecture = "mistral";
  // Every size is checked before readRopeScaling sizes the expected factors from head_dim.
  const models::FieldLocator locate = ggufLocator(file.name(), arch);
  config.validate(locate);
  config.ropeScaling = readRopeScaling(file, keys, config);
  config.finalize(locate);
  return config;
}

models::ModelConfig readGgufConfig(const std::string& path) {
  return configFromGguf(GgufFile::open(path));
}

}  // namespace reel::models
