#include "tools/GpuModel.h"

#include "codegen/Lower.h"
#include "codegen/PlanFile.h"
#include "ir/Verifier.h"
#include "models/Builder.h"
#include "models/ModelLoader.h"
#include "passes/PassTable.h"
#include "runtime/synth/GgufConfig.h"
#include "tools/PassFlags.h"

#include <fmt/format.h>

#include <filesystem>
#include <thread>

namespace reel::tools {

namespace {

bool hasExtension(const std::string& path, const char* extension) {
  return std::filesystem::path(path).extension() == extension;
}

models::QuantScheme quantScheme(const Args& args) {
  std::optional<models::QuantScheme> scheme = models::parseQuantScheme(args.getOr("--quant", "q4_k_m"));
  if (!scheme)
    failPlain("{}: unknown --quant '{}' (expected q4_k_m, q4_k, q8_0 or f16)", args.command(), *args.get("--quant"));
  return *scheme;
}

/// Synthetic weights of `config`, from the cache file when it exists, else written there first.
synth::OpenWeights cachedSyntheticWeights(const Args& args, const models::ModelConfig& config) {
  const models::QuantScheme scheme = quantScheme(args);
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

synth::OpenWeights openWeights(const Args& args, const std::string& model, const models::ModelConfig* config) {
  if (args.has("--weights") && args.has("--synthetic"))
    failPlain("{}: --weights and --synthetic exclude each other", args.command());
  if (std::optional<std::string> weights = args.get("--weights")) return synth::openWeightFile(*weights);
  if (args.has("--synthetic") && config) return cachedSyntheticWeights(args, *config);
  if (hasExtension(model, ".gguf")) return synth::openWeightFile(model);
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

GpuModel loadGpuModel(const Args& args, const GpuModelDefaults& defaults) {
  const std::string path = *args.get("MODEL");
  if (codegen::isPlanFile(path)) return loadPlanFile(args, path);
  synth::registerGgufConfigReader();
  const models::ModelConfig config = models::loadModelConfig(path);
  GpuModel model;
  model.weights = openWeights(args, path, &config);
  std::unique_ptr<ir::Module> module = models::buildModule(config, {quantScheme(args)});
  reference::adoptWeightTypes(*module, *model.weights.source);
  ir::verifyModule(*module);

  ContextFlags flags = readContextFlags(args);
  if (!flags.buckets && !defaults.buckets.empty()) flags.buckets = defaults.buckets;
  if (!flags.prefillTokens && !defaults.prefillTokens.empty()) flags.prefillTokens = defaults.prefillTokens;
  PassSetup setup = resolvePassSetup(flags, passes::kDefaultPipeline);
  if (!runPasses(*module, setup, args)) failPlain("{}: the pass pipeline failed (see above)", args.command());
  codegen::LowerOptions lower;
  lower.profile = setup.context.profile;
  lower.pipeline = setup.pipeline.str();
  lower.maxContext = args.getInt("--ctx", std::min(config.maxContext, defaults.maxContext), {1, config.maxContext});
  model.plan = codegen::lowerModule(*module, lower);
  return model;
}

}  // namespace reel::tools
