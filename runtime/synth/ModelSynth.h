#pragma once
/// \file
/// Synthetic model files: a ModelConfig becomes a GGUF file of random weights with the
/// model's tensors (llama.cpp's names, shapes and, under a quantization scheme, qtypes) and
/// the metadata llama.cpp needs to load it (`general.architecture`, the `<arch>.*` keys,
/// `tokenizer.ggml.model = "no_vocab"` with `<arch>.vocab_size`). Llama-3 RoPE scaling is
/// written as llama.cpp expects it, the F32 tensor `rope_freqs.weight`, plus `reel.rope.*`
/// keys holding the parameters (llama.cpp ignores keys it does not know).
///
/// Magnitudes keep activations finite over many layers: every matrix has standard
/// deviation 1/sqrt(row length) (a unit-variance input gives unit-variance outputs), the
/// token embedding and the output projection 1/sqrt(hidden), norm weights 1 +- 0.05,
/// biases 0.02.

#include "models/ModelConfig.h"
#include "runtime/gguf/GgufWriter.h"
#include "runtime/gguf/Synthetic.h"

#include <cstdint>
#include <filesystem>
#include <vector>

namespace reel::synth {

struct SynthOptions {
  models::QuantScheme scheme = models::QuantScheme::Q4_K_M;
  uint64_t seed = 0;
  unsigned threads = 2;
};

/// What to write: the random tensors (a generic SynthSpec) and tensors of fixed values.
struct ModelSynthPlan {
  SynthSpec spec;
  std::vector<GgufTensorBlob> fixedTensors;  ///< e.g. rope_freqs.weight
};

/// The GGUF architecture of a config: "qwen2" for qwen2, "llama" for llama and mistral.
std::string ggufArchitecture(const models::ModelConfig& config);

/// llama.cpp's general.file_type of a scheme (MOSTLY_Q4_K_M = 15, ...).
uint32_t ggufFileType(models::QuantScheme scheme);

/// The plan of a synthetic GGUF file for `config`.
ModelSynthPlan planSyntheticModel(const models::ModelConfig& config, const SynthOptions& options);

/// Writes the synthetic GGUF file of `config` at `path` (atomically: a failed run leaves no
/// file). Throws a reel::Error on failure.
SynthReport writeSyntheticModel(const models::ModelConfig& config, const SynthOptions& options,
                                const std::filesystem::path& path);

}  // namespace reel::synth
