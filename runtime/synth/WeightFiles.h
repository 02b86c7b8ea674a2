#pragma once
/// \file
/// Opening the weights the CPU reference runs on: a GGUF file by path, or synthetic
/// weights for a config written to a temporary GGUF file that is unlinked as soon as it is
/// mapped (nothing is left behind, even if the process dies).

#include "runtime/gguf/GgufFile.h"
#include "runtime/reference/WeightSource.h"
#include "runtime/synth/ModelSynth.h"

#include <memory>
#include <string>

namespace reel::synth {

/// A mapped GGUF file and the weight source over it (move-only).
struct OpenWeights {
  std::unique_ptr<GgufFile> file;
  std::unique_ptr<reference::GgufWeightSource> source;
  std::string description;  ///< "t.gguf" or "synthetic q4_k_m weights (seed 0)"
};

/// Maps the GGUF file at `path`.
OpenWeights openWeightFile(const std::string& path);

/// Synthesizes weights for `config` into a temporary file and maps it.
OpenWeights openSyntheticWeights(const models::ModelConfig& config, const SynthOptions& options);

}  // namespace reel::synth
