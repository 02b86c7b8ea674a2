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
#include "runtime/synth/SyntheticGguf.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

namespace reel::synth {

struct SynthOptions {
  models::QuantScheme scheme = models::QuantScheme::Q4_K_M;
  uint64_t seed = 0;
  unsigned threads = 2;
  /// Metadata whose `tokenizer.*` entries the file carries (a real model's vocabulary, merges,
  /// special tokens and chat template); null: `tokenizer.ggml.model = "no_vocab"`. Its
  /// `tokenizer.ggml.tokens` must hold the config's vocabulary size.
  const GgufMetadata* tokenizer = nullptr;
};

/// The GGUF architecture of a config: "qwen2" for qwen2, "llama" for llama and mistral.
std::string ggufArchitecture(const models::ModelConfig& config);

/// llama.cpp's general.file_type of a scheme (MOSTLY_Q4_K_M = 15, ...).
uint32_t ggufFileType(models::QuantScheme scheme);

/// The plan of a synthetic GGUF file for `config`: the random tensors, and tensors of fixed
/// values (rope_freqs.weight) written after them.
SynthSpec planSyntheticModel(const models::ModelConfig& config, const SynthOptions& options);

/// The size of the synthetic GGUF file of `config`, computed from the config alone.
uint64_t syntheticModelBytes(const models::ModelConfig& config, const SynthOptions& options);

/// Refuses (a one-line reel::Error) to write `bytes` of synthetic weights of `config` at
/// `path` when they exceed `memoryBudget` (the bytes the run that maps them may use; nullopt:
/// no limit) or the free space of the directory that holds `path`; the message gives the
/// bytes needed and the bytes available.
void requireRoomForSynthetic(const models::ModelConfig& config, const SynthOptions& options, uint64_t bytes,
                             const std::filesystem::path& path, std::optional<uint64_t> memoryBudget = std::nullopt);

/// Writes the synthetic GGUF file of `config` at `path` (atomically: a failed run leaves no
/// file), after checking its size with requireRoomForSynthetic, so nothing is written when
/// it does not fit. Throws a reel::Error on failure.
SynthReport writeSyntheticModel(const models::ModelConfig& config, const SynthOptions& options,
                                const std::filesystem::path& path, std::optional<uint64_t> memoryBudget = std::nullopt);

}  // namespace reel::synth
