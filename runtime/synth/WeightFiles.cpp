#include "runtime/synth/WeightFiles.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

namespace reel::synth {

namespace {

OpenWeights wrap(GgufFile file, std::string description) {
  OpenWeights weights;
  weights.file = std::make_unique<GgufFile>(std::move(file));
  weights.source = std::make_unique<reference::GgufWeightSource>(*weights.file);
  weights.description = std::move(description);
  return weights;
}

std::filesystem::path temporaryPath() {
  static std::atomic<unsigned> counter{0};
  return std::filesystem::temp_directory_path() /
         fmt::format("reel-synthetic-{}-{}.gguf", static_cast<long>(::getpid()), counter++);
}

}  // namespace

OpenWeights openWeightFile(const std::string& path) {
  return wrap(GgufFile::open(path), path);
}

OpenWeights openSyntheticWeights(const models::ModelConfig& config, const SynthOptions& options) {
  const std::filesystem::path path = temporaryPath();
  struct Unlink {
    const std::filesystem::path& path;
    ~Unlink() {
      std::error_code ignored;
      std::filesystem::remove(path, ignored);
    }
  } unlinkWhenMapped{path};
  writeSyntheticModel(config, options, path);
  return wrap(GgufFile::open(path),
              fmt::format("synthetic {} weights (seed {})", models::quantSchemeName(options.scheme), options.seed));
}

}  // namespace reel::synth
