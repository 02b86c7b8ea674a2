// reel models: the bundled model configs with their sizes.
#include "models/Builder.h"
#include "models/ModelLoader.h"
#include "tools/Args.h"
#include "tools/Commands.h"

#include <fmt/format.h>

namespace reel::tools {
namespace {

/// 6.74B, 124M, 3.2K: a count with the largest unit that keeps it >= 1.
std::string humanCount(double count, const char* const units[3]) {
  if (count >= 1e9) return fmt::format("{:.2f}{}", count / 1e9, units[0]);
  if (count >= 1e6) return fmt::format("{:.1f}{}", count / 1e6, units[1]);
  return fmt::format("{:.1f}{}", count / 1e3, units[2]);
}

}  // namespace

int runModels(int argc, char** argv) {
  Args args("reel models", "List the bundled model configs with their sizes.");
  if (!args.parse(argc, argv, 2)) return 0;

  static const char* const kCountUnits[3] = {"B", "M", "K"};
  static const char* const kByteUnits[3] = {" GB", " MB", " KB"};
  std::string table = fmt::format("{:<18} {:<8} {:>6} {:>7} {:>9} {:>8} {:>10}\n", "name", "arch", "layers", "hidden",
                                  "heads/kv", "params", "q4_k_m");
  for (const std::string& name : models::bundledModelNames()) {
    models::ModelConfig config = models::loadModelConfig(name);
    int64_t bytes = 0;
    for (const models::WeightInfo& weight : models::modelWeights(config, {models::QuantScheme::Q4_K_M}))
      bytes += weight.type.numBytes(1, 1).value_or(0);
    table += fmt::format("{:<18} {:<8} {:>6} {:>7} {:>9} {:>8} {:>10}\n", config.name, config.architecture,
                         config.numLayers, config.hiddenSize, fmt::format("{}/{}", config.numHeads, config.numKvHeads),
                         humanCount(static_cast<double>(config.parameterCount()), kCountUnits),
                         humanCount(static_cast<double>(bytes), kByteUnits));
  }
  writeOutput("", table);
  return 0;
}

}  // namespace reel::tools
