// reel run MODEL_OR_GGUF: greedy decoding of a few tokens, on the GPU runtime (RunGpu.cpp) or the CPU reference executor.
#include "codegen/PlanFile.h"
#include "ir/Parser.h"
#include "ir/Verifier.h"
#include "models/Builder.h"
#include "models/ModelLoader.h"
#include "runtime/reference/ReferenceStepExecutor.h"
#include "runtime/synth/WeightFiles.h"
#include "tools/Args.h"
#include "tools/Commands.h"
#include "tools/PassFlags.h"
#include "tools/RunFlags.h"
#include "tools/RunGpu.h"

#include <fmt/format.h>

#include <filesystem>

namespace reel::tools {

namespace {

/// Most threads per matmul --threads accepts.
constexpr int64_t kMaxThreads = 256;

bool hasExtension(const std::string& path, const char* extension) {
  return std::filesystem::path(path).extension() == extension;
}

/// The weights the flags name: --weights, --synthetic, or the MODEL itself when it is a GGUF.
synth::OpenWeights openWeights(const Args& args, const models::ModelConfig& config, models::QuantScheme scheme) {
  const std::string model = *args.get("MODEL");
  if (args.has("--weights") && args.has("--synthetic"))
    failPlain("reel run: --weights and --synthetic exclude each other");
  const synth::WeightFileOptions fileOptions{.valueCheck = tensorCheckFromFlags(args)};
  if (std::optional<std::string> weights = args.get("--weights")) return synth::openWeightFile(*weights, fileOptions);
  if (args.has("--synthetic")) return synth::openSyntheticWeights(config, {scheme, 0, 2});
  if (hasExtension(model, ".gguf")) return synth::openWeightFile(model, fileOptions);
  failPlain("reel run: model '{}' comes without weights: pass --weights FILE.gguf or --synthetic", model);
}

/// What the CPU reference runs: the optimized module, its config and weights.
struct CpuModel {
  models::ModelConfig config;
  synth::OpenWeights weights;
  std::unique_ptr<ir::Module> module;
  std::vector<int64_t> buckets;
};

/// A plan file's optimized IR: no passes run, the weights must fit its qtypes.
CpuModel loadPlanForCpu(const Args& args, const std::string& path) {
  CpuModel model;
  model.module = ir::parseModule(codegen::readPlanFile(path).moduleIr, path);
  ir::verifyModule(*model.module);
  model.config = models::configFromModule(*model.module);
  const models::QuantScheme scheme = quantSchemeFlag(args, model.module->attrs.getString("quant").value_or("q4_k_m"));
  model.weights = openWeights(args, model.config, scheme);
  return model;
}

/// A model config (or GGUF file) built, its weight types adopted from the weights, and
/// optimized with the pass flags.
CpuModel compileForCpu(const Args& args) {
  const std::string path = *args.get("MODEL");
  if (codegen::isPlanFile(path)) return loadPlanForCpu(args, path);
  const models::QuantScheme scheme = quantSchemeFlag(args);
  CpuModel model;
  model.config = models::loadModelConfig(path);
  model.weights = openWeights(args, model.config, scheme);
  std::unique_ptr<ir::Module> module = models::buildModule(model.config, {scheme});
  reference::adoptWeightTypes(*module, *model.weights.source);
  ir::verifyModule(*module);
  CompileDefaults defaults;
  defaults.lower = false;
  std::optional<codegen::CompileResult> compiled = compileWithFlags(args, std::move(module), defaults);
  if (!compiled) failPlain("reel run: the pass pipeline failed (see above)");
  model.module = std::move(compiled->module);
  model.buckets = compiled->context.buckets;
  return model;
}

}  // namespace

int runRun(int argc, char** argv) {
  Args args("reel run",
            "Generate tokens greedily. The model is compiled with the pass pipeline (one graph per bucket, plus\n"
            "@prefill) and run on the GPU (CUDA graphs) or the CPU reference executor: the prompt is prefilled, then\n"
            "-n tokens are decoded.\n"
            "With --batch M, M sequences (sequence i's prompt is the given one plus i more tokens, so they sit at\n"
            "different positions) decode together through the smallest bucket >= M, padding rows included.");
  args.positional("MODEL",
                  "a .gguf file (config and weights), a .plan file, or a model .toml, config.json or bundled name");
  args.option("--weights", "FILE", "the GGUF file holding the weights");
  args.flag("--synthetic", "run on random weights (written to a temporary file)");
  declareTensorCheckFlag(args);
  args.option("--device", "DEVICE",
              "auto (default: cuda when a GPU is present, else cpu), cpu (the CPU reference) or cuda");
  declareRunRequestFlags(args);
  args.option("--quant", "SCHEME", "weight quantization for --synthetic: q4_k_m (default), q4_k, q8_0, f16");
  args.option("--threads", "N", fmt::format("CPU threads per matmul (default 2, at most {})", kMaxThreads));
  declareGpuRunFlags(args);
  declarePassFlags(args);
  if (!args.parse(argc, argv, 2)) return 0;

  if (resolveDevice(args.getOr("--device", "auto")) == "cuda") return runRunOnGpu(args);
  const decode::DecodeRequest request = runRequestFromFlags(args);
  const CpuModel model = compileForCpu(args);

  reference::DecodeOptions options;
  if (!model.buckets.empty()) options.buckets = model.buckets;
  options.prefill = prefillModeFromFlags(args);
  options.threads = static_cast<unsigned>(args.getInt("--threads", 2, {1, kMaxThreads}));
  options.maxContext = args.getInt("--ctx", model.config.maxContext, {1, model.config.maxContext});

  writeOutput("", fmt::format("model: {} ({} layers), weights: {}, device: cpu (reference executor)\n",
                              model.config.name, model.config.numLayers, model.weights.description));
  decode::DecodeReport report =
      reference::runGreedyDecode(reference::findStepGraphs(*model.module), *model.weights.source, request, options);
  writeOutput("", runReport(report, request, options.maxContext));
  return 0;
}

}  // namespace reel::tools
