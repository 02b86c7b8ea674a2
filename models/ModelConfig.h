#pragma once
/// \file
/// ModelConfig: the hyper-parameters of one Llama-family model, whatever the source
/// (reel's model TOML, a Hugging Face config.json, a GGUF header). Readers fill it and
/// validate() checks it; the builder turns it into IR.

#include "support/Diagnostics.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace reel::models {

/// Rotary embedding styles: `norm` rotates adjacent pairs (llama.cpp's Llama/Mistral),
/// `neox` rotates the two halves of each head (Qwen2).
enum class RopeStyle { Norm, Neox };

/// Llama 3.1-style frequency scaling of RoPE.
struct Llama3RopeScaling {
  double factor = 8.0;
  double lowFreqFactor = 1.0;
  double highFreqFactor = 4.0;
  int64_t originalContext = 8192;
};

/// The fields validate() can complain about, so a reader can say where each came from.
enum class ConfigField {
  Name,
  Architecture,
  VocabSize,
  HiddenSize,
  IntermediateSize,
  NumLayers,
  NumHeads,
  NumKvHeads,
  HeadDim,
  MaxContext,
  RmsNormEps,
  RopeTheta,
  RopeScalingFactor,
  RopeScalingLowFreqFactor,
  RopeScalingHighFreqFactor,
  RopeScalingOriginalContext,
  SlidingWindow,
};

/// How a field is spelled in the input it came from, and where it is.
struct FieldOrigin {
  std::string key;  ///< e.g. "num_heads" (reel TOML) or "num_attention_heads" (config.json)
  SourceLoc where;  ///< the value's place, or just the file where no place is known
};

/// Maps a field to its origin; readers pass one to validate() for precise messages.
using FieldLocator = std::function<FieldOrigin(ConfigField)>;

/// The key of `field` in reel's model TOML ("num_heads", "rope_scaling.factor", ...).
const char* tomlKeyOf(ConfigField field);

/// Upper bounds on every dimension, generously above published models (the largest
/// Llama has hidden 16384, ffn 53248, 128 heads, 126 layers; head_dim is at most 256 in
/// practice). They keep every size product (parameter, byte and KV-cache counts) far
/// inside int64, and they are checked before anything is sized from a config, so a
/// hostile config is refused instead of allocating or writing terabytes.
inline constexpr int64_t kMaxHiddenSize = int64_t{1} << 16;        ///< hidden_size
inline constexpr int64_t kMaxIntermediateSize = int64_t{1} << 18;  ///< intermediate_size
inline constexpr int64_t kMaxHeads = 1024;                         ///< num_heads, num_kv_heads
inline constexpr int64_t kMaxHeadDim = 1024;                       ///< head_dim, given or derived
inline constexpr int64_t kMaxAttentionWidth = int64_t{1} << 17;    ///< num_heads * head_dim
inline constexpr int64_t kMaxLayers = 1024;
inline constexpr int64_t kMaxVocab = int64_t{1} << 22;
inline constexpr int64_t kMaxContext = int64_t{1} << 24;  ///< max_context, windows, original context

struct ModelConfig {
  std::string name;          ///< e.g. "llama-2-7b"
  std::string architecture;  ///< "llama", "qwen2" or "mistral"
  std::string source;        ///< the file it was read from (for messages)

  int64_t vocabSize = 0;
  int64_t hiddenSize = 0;        ///< n_embd
  int64_t intermediateSize = 0;  ///< n_ff
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numKvHeads = 0;
  int64_t headDim = 0;     ///< hiddenSize / numHeads unless given (readers fill it)
  int64_t maxContext = 0;  ///< max_position_embeddings

  double rmsNormEps = 1e-5;
  double ropeTheta = 10000.0;
  RopeStyle ropeStyle = RopeStyle::Norm;
  std::optional<Llama3RopeScaling> ropeScaling;

  bool tieEmbeddings = false;            ///< output projection reuses token_embd
  bool qkvBias = false;                  ///< Q, K, V projections have biases (Qwen2)
  std::optional<int64_t> slidingWindow;  ///< attention window (Mistral)

  /// Total parameters of the matmul weights, embeddings, norms and Q/K/V biases.
  /// Exact for a validated config (the bounds keep it far from int64 overflow).
  [[nodiscard]] int64_t parameterCount() const;
  /// Throws reel::Error naming `source` and the field if the config is inconsistent.
  /// headDim 0 means "not given": hiddenSize must then divide by numHeads.
  void validate() const;
  /// validate(), with each message placed and spelled by `locate`.
  void validate(const FieldLocator& locate) const;
  /// validate(locate), then fills headDim = hiddenSize / numHeads where it is 0.
  /// Every reader ends with this, so a loaded config always has headDim > 0.
  void finalize(const FieldLocator& locate);
  /// finalize() with validate()'s plain messages (for configs read from a GGUF header).
  void finalize();
};

/// Quantization schemes for weights. q4_k_m mixes Q4_K and Q6_K, q5_k_m Q5_K and Q6_K, as
/// llama.cpp does.
enum class QuantScheme { Q4_K_M, Q4_K, Q8_0, F16, Q4_0, Q5_K_M, BF16 };

/// Parses "q4_k_m", "q4_k", "q8_0", "f16", "q4_0", "q5_k_m", "bf16" (any case); nullopt if unknown.
std::optional<QuantScheme> parseQuantScheme(const std::string& name);
/// The lower-case name parseQuantScheme() accepts: "q4_k_m", ...
const char* quantSchemeName(QuantScheme scheme);

}  // namespace reel::models
