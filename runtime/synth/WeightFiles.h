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

/// How openWeightFile serves a file.
struct WeightFileOptions {
  /// Whether the source scans each tensor for NaN and Inf when the CPU reference first
  /// reads it (reference::GgufWeightSource): the CLI's --check-tensors, on by default.
  reference::TensorValueCheck valueCheck = reference::TensorValueCheck::On;
};

/// Maps the GGUF file at `path`.
OpenWeights openWeightFile(const std::string& path, const WeightFileOptions& options = {});

/// Synthesizes weights for `config` into a temporary file and maps it. The file's size is
/// checked first against `memoryBudget` (the run's memory budget; by default the machine's
/// physical memory, as the CPU reference maps and reads all of it) and against the free
/// space of the temporary directory; nothing is written when it does not fit. The values
/// are generated finite, so the source does not scan them.
OpenWeights openSyntheticWeights(const models::ModelConfig& config, const SynthOptions& options,
                                 std::optional<uint64_t> memoryBudget = std::nullopt);

}  // namespace reel::synth
