#include "models/ModelConfig.h"

#include <array>
#include <cctype>
#include <cmath>
#include <string_view>

namespace reel::models {
namespace {

constexpr std::array<std::string_view, 3> kArchitectures = {"llama", "qwen2", "mistral"};

bool isKnownArchitecture(const std::string& architecture) {
  for (std::string_view known : kArchitectures)
    if (architecture == known) return true;
  return false;
}

bool hasControlCharacter(const std::string& text) {
  for (char c : text)
    if (std::iscntrl(static_cast<unsigned char>(c))) return true;
  return false;
}

/// `text` fit for a one-line message: control characters blanked, long text cut short.
std::string printable(const std::string& text) {
  constexpr size_t kMaxShown = 60;
  std::string shown = text.size() > kMaxShown ? text.substr(0, kMaxShown) + "..." : text;
  for (char& c : shown)
    if (std::iscntrl(static_cast<unsigned char>(c))) c = ' ';
  return shown;
}

/// The locator of a config built in code: TOML key names, and the source file alone.
FieldLocator sourceOnlyLocator(const ModelConfig& config) {
  std::string file = config.source.empty() ? std::string("<model config>") : config.source;
  return [file](ConfigField field) { return FieldOrigin{tomlKeyOf(field), SourceLoc{file}}; };
}

/// Checks one config, reporting each problem at the origin the locator gives.
class Validator {
 public:
  Validator(const ModelConfig& config, const FieldLocator& locate) : config_(config), locate_(locate) {}

  void run() const {
    checkIdentity();
    checkSizes();
    checkAttentionShape();
    checkNormAndRope();
    checkSlidingWindow();
  }

 private:
  /// Throws "<where>: '<key>' <complaint>", the complaint formatted by the caller.
  template <typename... Args>
  [[noreturn]] void reject(ConfigField field, fmt::format_string<Args...> complaint, Args&&... args) const {
    FieldOrigin origin = locate_(field);
    fail(origin.where, "'{}' {}", origin.key, fmt::format(complaint, std::forward<Args>(args)...));
  }

  std::string keyOf(ConfigField field) const { return locate_(field).key; }

  void requireSize(ConfigField field, int64_t value, int64_t limit) const {
    if (value <= 0) reject(field, "must be a positive integer, got {}", value);
    if (value > limit) reject(field, "must be at most {}, got {}", limit, value);
  }

  void requirePositiveNumber(ConfigField field, double value) const {
    if (!(value > 0) || !std::isfinite(value)) reject(field, "must be a positive number, got {}", value);
  }

  void checkIdentity() const {
    if (config_.name.empty()) reject(ConfigField::Name, "must not be empty");
    if (hasControlCharacter(config_.name)) reject(ConfigField::Name, "must not contain control characters");
    if (!isKnownArchitecture(config_.architecture))
      reject(ConfigField::Architecture, "must be one of \"llama\", \"qwen2\", \"mistral\", got \"{}\"",
             printable(config_.architecture));
  }

  void checkSizes() const {
    requireSize(ConfigField::VocabSize, config_.vocabSize, kMaxVocab);
    requireSize(ConfigField::HiddenSize, config_.hiddenSize, kMaxHiddenSize);
    requireSize(ConfigField::IntermediateSize, config_.intermediateSize, kMaxIntermediateSize);
    requireSize(ConfigField::NumLayers, config_.numLayers, kMaxLayers);
    requireSize(ConfigField::NumHeads, config_.numHeads, kMaxHeads);
    requireSize(ConfigField::NumKvHeads, config_.numKvHeads, kMaxHeads);
    requireSize(ConfigField::MaxContext, config_.maxContext, kMaxContext);
  }

  void checkAttentionShape() const {
    if (config_.numHeads % config_.numKvHeads != 0)
      reject(ConfigField::NumKvHeads, "({}) must divide '{}' ({})", config_.numKvHeads, keyOf(ConfigField::NumHeads),
             config_.numHeads);
    if (config_.headDim == 0) {
      checkDerivedHeadDim();
    } else {
      requireSize(ConfigField::HeadDim, config_.headDim, kMaxHeadDim);
      if (config_.headDim % 2 != 0)
        reject(ConfigField::HeadDim, "must be even (rotary embeddings rotate pairs), got {}", config_.headDim);
    }
    int64_t headDim = config_.headDim == 0 ? config_.hiddenSize / config_.numHeads : config_.headDim;
    if (config_.numHeads * headDim > kMaxAttentionWidth)  // both at most 1024: no overflow
      reject(ConfigField::NumHeads, "times the head dimension must be at most {}, got {} * {}", kMaxAttentionWidth,
             config_.numHeads, headDim);
  }

  /// Without head_dim the head dimension is hidden_size / num_heads: exact and even.
  void checkDerivedHeadDim() const {
    if (config_.hiddenSize % config_.numHeads != 0)
      reject(ConfigField::HiddenSize, "({}) must be divisible by '{}' ({}) when '{}' is not given", config_.hiddenSize,
             keyOf(ConfigField::NumHeads), config_.numHeads, keyOf(ConfigField::HeadDim));
    int64_t headDim = config_.hiddenSize / config_.numHeads;
    if (headDim % 2 != 0)
      reject(ConfigField::HiddenSize, "/ '{}' gives head dimension {}, which must be even (rotary embeddings)",
             keyOf(ConfigField::NumHeads), headDim);
    if (headDim > kMaxHeadDim)
      reject(ConfigField::HiddenSize, "/ '{}' gives head dimension {}, which must be at most {}",
             keyOf(ConfigField::NumHeads), headDim, kMaxHeadDim);
  }

  void checkNormAndRope() const {
    requirePositiveNumber(ConfigField::RmsNormEps, config_.rmsNormEps);
    requirePositiveNumber(ConfigField::RopeTheta, config_.ropeTheta);
    if (!config_.ropeScaling) return;
    const Llama3RopeScaling& scaling = *config_.ropeScaling;
    requirePositiveNumber(ConfigField::RopeScalingFactor, scaling.factor);
    requirePositiveNumber(ConfigField::RopeScalingLowFreqFactor, scaling.lowFreqFactor);
    requirePositiveNumber(ConfigField::RopeScalingHighFreqFactor, scaling.highFreqFactor);
    if (scaling.highFreqFactor <= scaling.lowFreqFactor)
      reject(ConfigField::RopeScalingHighFreqFactor, "({}) must be greater than '{}' ({})", scaling.highFreqFactor,
             keyOf(ConfigField::RopeScalingLowFreqFactor), scaling.lowFreqFactor);
    requireSize(ConfigField::RopeScalingOriginalContext, scaling.originalContext, kMaxContext);
  }

  void checkSlidingWindow() const {
    if (config_.slidingWindow) requireSize(ConfigField::SlidingWindow, *config_.slidingWindow, kMaxContext);
  }

  const ModelConfig& config_;
  const FieldLocator& locate_;
};

}  // namespace

const char* tomlKeyOf(ConfigField field) {
  switch (field) {
    case ConfigField::Name:
      return "name";
    case ConfigField::Architecture:
      return "architecture";
    case ConfigField::VocabSize:
      return "vocab_size";
    case ConfigField::HiddenSize:
      return "hidden_size";
    case ConfigField::IntermediateSize:
      return "intermediate_size";
    case ConfigField::NumLayers:
      return "num_layers";
    case ConfigField::NumHeads:
      return "num_heads";
    case ConfigField::NumKvHeads:
      return "num_kv_heads";
    case ConfigField::HeadDim:
      return "head_dim";
    case ConfigField::MaxContext:
      return "max_context";
    case ConfigField::RmsNormEps:
      return "rms_norm_eps";
    case ConfigField::RopeTheta:
      return "rope_theta";
    case ConfigField::RopeScalingFactor:
      return "rope_scaling.factor";
    case ConfigField::RopeScalingLowFreqFactor:
      return "rope_scaling.low_freq_factor";
    case ConfigField::RopeScalingHighFreqFactor:
      return "rope_scaling.high_freq_factor";
    case ConfigField::RopeScalingOriginalContext:
      return "rope_scaling.original_context";
    case ConfigField::SlidingWindow:
      return "sliding_window";
  }
  return "?";
}

void ModelConfig::validate() const {
  validate(sourceOnlyLocator(*this));
}

void ModelConfig::validate(const FieldLocator& locate) const {
  Validator(*this, locate).run();
}

void ModelConfig::finalize(const FieldLocator& locate) {
  validate(locate);
  if (headDim == 0) headDim = hiddenSize / numHeads;
}

void ModelConfig::finalize() {
  finalize(sourceOnlyLocator(*this));
}

int64_t ModelConfig::parameterCount() const {
  const int64_t dim = headDim != 0 ? headDim : (numHeads > 0 ? hiddenSize / numHeads : 0);
  const int64_t qWidth = numHeads * dim;
  const int64_t kvWidth = numKvHeads * dim;
  const int64_t attention = hiddenSize * (qWidth + 2 * kvWidth) + qWidth * hiddenSize;
  const int64_t attentionBias = qkvBias ? qWidth + 2 * kvWidth : 0;
  const int64_t feedForward = 3 * hiddenSize * intermediateSize;
  const int64_t norms = 2 * hiddenSize;
  const int64_t perLayer = attention + attentionBias + feedForward + norms;
  const int64_t embeddings = vocabSize * hiddenSize * (tieEmbeddings ? 1 : 2);
  return embeddings + numLayers * perLayer + hiddenSize;  // + the final norm
}

std::optional<QuantScheme> parseQuantScheme(const std::string& name) {
  std::string lower;
  lower.reserve(name.size());
  for (char c : name) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  for (QuantScheme scheme : {QuantScheme::Q4_K_M, QuantScheme::Q4_K, QuantScheme::Q8_0, QuantScheme::F16,
                             QuantScheme::Q4_0, QuantScheme::Q5_K_M, QuantScheme::BF16})
    if (lower == quantSchemeName(scheme)) return scheme;
  return std::nullopt;
}

const char* quantSchemeName(QuantScheme scheme) {
  switch (scheme) {
    case QuantScheme::Q4_K_M:
      return "q4_k_m";
    case QuantScheme::Q4_K:
      return "q4_k";
    case QuantScheme::Q8_0:
      return "q8_0";
    case QuantScheme::F16:
      return "f16";
    case QuantScheme::Q4_0:
      return "q4_0";
    case QuantScheme::Q5_K_M:
      return "q5_k_m";
    case QuantScheme::BF16:
      return "bf16";
  }
  return "?";
}

}  // namespace reel::models
