#include "runtime/synth/WeightFiles.h"

#include "support/SystemMemory.h"

#include <fmt/format.h>

#include <atomic>
#include <filesystem>

namespace reel::synth {

namespace {

OpenWeights wrap(GgufFile file, std::string description, reference::TensorValueCheck valueCheck) {
  OpenWeights weights;
  weights.file = std::make_unique<GgufFile>(std::move(file));
  weights.source = std::make_unique<reference::GgufWeightSource>(*weights.file, valueCheck);
  weights.description = std::move(description);
  return weights;
}

std::filesystem::path temporaryPath() {
  static std::atomic<unsigned> counter{0};
  return std::filesystem::temp_directory_path() /
         fmt::format("reel-synthetic-{}-{}.gguf", static_cast<long>(::getpid()), counter++);
}

}  // namespace

OpenWeights openWeightFile(const std::string& path, const WeightFileOptions& options) {
  return wrap(GgufFile::open(path), path, options.valueCheck);
}

OpenWeights openSyntheticWeights(const models::ModelConfig& config, const SynthOptions& options,
                                 std::optional<uint64_t> memoryBudget) {
  if (!memoryBudget) {
    if (const uint64_t memory = support::physicalMemoryBytes(); memory > 0) memoryBudget = memory;
  }
  const std::filesystem::path path = temporaryPath();
  struct Unlink {
    const std::filesystem::path& path;
    ~Unlink() {
      std::error_code ignored;
      std::filesystem::remove(path, ignored);
    }
  } unlinkWhenMapped{path};
  writeSyntheticModel(config, options, path, memoryBudget);
  return wrap(GgufFile::open(path),
              fmt::format("synthetic {} weights (seed {})", models::quantSchemeName(options.scheme), options.seed),
              reference::TensorValueCheck::Off);
}

}  // namespace reel::synth
