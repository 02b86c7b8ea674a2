#include "tools/GpuModel.h"

#include "codegen/PlanFile.h"
#include "ir/Verifier.h"
#include "models/Builder.h"
#include "models/ModelLoader.h"
#include "runtime/gguf/TensorCheck.h"
#include "tools/PassFlags.h"
#include "tools/RunFlags.h"
#include "tools/SamplingFlags.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <thread>

namespace reel::tools {

namespace {

bool hasExtension(const std::string& path, const char* extension) {
  return std::filesystem::path(path).extension() == extension;
}

/// Synthetic weights of `config`, from the cache file when it exists, else written there first.
synth::OpenWeights cachedSyntheticWeights(const Args& args, const models::ModelConfig& config) {
  const models::QuantScheme scheme = quantSchemeFlag(args);
  const std::filesystem::path path =
      args.get("--weights-cache")
          .value_or((std::filesystem::temp_directory_path() /
                     fmt::format("reel-synthetic-{}-{}.gguf", config.name, models::quantSchemeName(scheme)))
                        .string());
  if (!std::filesystem::exists(path)) {
    fmt::print(stderr, "reel: writing synthetic {} weights of {} to {} (once; later runs reuse it)\n",
               models::quantSchemeName(scheme), config.name, path.string());
    synth::writeSyntheticModel(config, {scheme, 0, std::max(2u, std::thread::hardware_concurrency())}, path);
  }
  synth::OpenWeights weights = synth::openWeightFile(path.string());
  weights.description =
      fmt::format("synthetic {} weights (seed 0, cached in {})", models::quantSchemeName(scheme), path.string());
  return weights;
}

/// The weight file at `path`, its values checked whole (on all cores) unless --check-tensors
/// off: the GPU reads every tensor at upload, so the check costs one more pass over the file.
synth::OpenWeights checkedWeightFile(const Args& args, const std::string& path) {
  const reference::TensorValueCheck check = tensorCheckFromFlags(args);
  synth::OpenWeights weights = synth::openWeightFile(path, {.valueCheck = check});
  if (check == reference::TensorValueCheck::On) {
    checkAllTensorValues(*weights.file, std::max(1u, std::thread::hardware_concurrency()));
    weights.source->setValueCheck(reference::TensorValueCheck::Off);  // checked already
  }
  return weights;
}

synth::OpenWeights openWeights(const Args& args, const std::string& model, const models::ModelConfig* config) {
  if (args.has("--weights") && args.has("--synthetic"))
    failPlain("{}: --weights and --synthetic exclude each other", args.command());
  if (std::optional<std::string> weights = args.get("--weights")) return checkedWeightFile(args, *weights);
  if (args.has("--synthetic") && config) return cachedSyntheticWeights(args, *config);
  if (hasExtension(model, ".gguf")) return checkedWeightFile(args, model);
  failPlain("{}: '{}' comes without weights: pass --weights FILE.gguf or --synthetic", args.command(), model);
}

GpuModel loadPlanFile(const Args& args, const std::string& path) {
  GpuModel model;
  model.plan = codegen::readPlanFile(path);
  if (args.has("--synthetic")) {
    const models::ModelConfig config = models::loadModelConfig(model.plan.model);
    model.weights = openWeights(args, path, &config);
  } else {
    model.weights = openWeights(args, path, nullptr);
  }
  return model;
}

}  // namespace

GpuModel loadGpuModel(const Args& args, const CompileDefaults& defaults) {
  const std::string path = *args.get("MODEL");
  if (codegen::isPlanFile(path)) return loadPlanFile(args, path);
  const models::ModelConfig config = models::loadModelConfig(path);
  GpuModel model;
  model.weights = openWeights(args, path, &config);
  std::unique_ptr<ir::Module> module =
      models::buildModule(config, {quantSchemeFlag(args), defaults.sampling || samplingRequested(args)});
  reference::adoptWeightTypes(*module, *model.weights.source);
  ir::verifyModule(*module);

  CompileDefaults lowered = defaults;
  lowered.lower = true;
  std::optional<codegen::CompileResult> compiled = compileWithFlags(args, std::move(module), lowered);
  if (!compiled) failPlain("{}: the pass pipeline failed (see above)", args.command());
  model.plan = std::move(compiled->plan);
  return model;
}

}  // namespace reel::tools
