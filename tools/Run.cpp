// reel run MODEL_OR_GGUF: greedy decoding of a few tokens, on the GPU runtime (RunGpu.cpp) or the CPU reference
// executor; with -p, text in and text streamed out (TextGen.h).
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
#include "tools/TextGen.h"

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
/// `sampling`: build the steps to sample even without a sampling flag.
CpuModel compileForCpu(const Args& args, bool sampling) {
  const std::string path = *args.get("MODEL");
  if (codegen::isPlanFile(path)) return loadPlanForCpu(args, path);
  const models::QuantScheme scheme = quantSchemeFlag(args);
  CpuModel model;
  model.config = models::loadModelConfig(path);
  model.weights = openWeights(args, model.config, scheme);
  std::unique_ptr<ir::Module> module = models::buildModule(model.config, {scheme, sampling || samplingRequested(args)});
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

/// "cpu (reference executor)", with the simulated ranks of a sharded module.
std::string cpuDevice(const ir::Module& module) {
  const int64_t ranks = module.attrs.getInt("tp").value_or(1);
  if (ranks == 1) return "cpu (reference executor)";
  return fmt::format("cpu (reference executor, {} tensor-parallel ranks simulated)", ranks);
}

/// The CPU reference as a StepBackend: the compiled model, its step graphs and an executor
/// of the KV slots asked for.
class CpuBackend final : public StepBackend {
 public:
  CpuBackend(const Args& args, const BackendNeeds& needs)
      : model_(compileForCpu(args, needs.sampling)), graphs_(reference::findStepGraphs(*model_.module)) {
    const int64_t maxContext = model_.config.maxContext;
    int64_t context = args.getInt("--ctx", std::min(maxContext, kDefaultTextContext), {1, maxContext});
    if (needs.positions > 0) context = std::min(context, needs.positions);
    reference::ReferenceStepOptions options;
    if (!model_.buckets.empty()) options.buckets = model_.buckets;
    options.threads = static_cast<unsigned>(args.getInt("--threads", 2, {1, kMaxThreads}));
    executor_ = std::make_unique<reference::ReferenceStepExecutor>(graphs_, *model_.weights.source,
                                                                   decode::KvGeometry{needs.slots, context}, options);
  }
  decode::StepExecutor& executor() override { return *executor_; }
  [[nodiscard]] std::string description() const override {
    return fmt::format("model: {} ({} layers), weights: {}, device: {}, context: {} positions", model_.config.name,
                       model_.config.numLayers, model_.weights.description, cpuDevice(*model_.module),
                       executor_->kvGeometry().positions);
  }

 private:
  CpuModel model_;
  reference::StepGraphs graphs_;
  std::unique_ptr<reference::ReferenceStepExecutor> executor_;
};

/// Why a text generation stopped, for stderr: "stopped: end of generation (token 2 '</s>')".
std::string stopLine(const Generation& generation, const text::Tokenizer& tokenizer, int64_t positions) {
  switch (generation.stop) {
    case decode::StopReason::EndOfGeneration: {
      const int32_t token = generation.tokens.back();
      return fmt::format("stopped: end of generation (token {} '{}')", token, tokenizer.piece(token, true));
    }
    case decode::StopReason::StopString:
      return "stopped: a stop string (--stop)";
    case decode::StopReason::Context:
      return fmt::format("stopped: context full ({} positions)", positions);
    case decode::StopReason::Length:
      break;
  }
  return fmt::format("stopped: {} tokens (-n)", generation.tokens.size());
}

/// reel run -p TEXT: the text tokenized with the model file's tokenizer, the generation
/// streamed to stdout, why it stopped and the speeds to stderr.
int runText(const Args& args) {
  if (args.has("--prompt-tokens") || args.has("--batch"))
    failPlain("reel run: -p (--prompt) takes the place of --prompt-tokens and --batch");
  const GenerationSettings settings = generationFromFlags(args, -1);
  const GgufFile file = GgufFile::open(tokenizerFile(args));
  const text::Tokenizer tokenizer = loadTokenizer(file, args.command());
  const std::string promptText = *args.get("--prompt");
  std::vector<int32_t> prompt = tokenizer.encode(promptText);
  if (prompt.empty()) failPlain("reel run: the prompt gives no tokens (an empty text, and no BOS)");
  const auto promptTokens = static_cast<int64_t>(prompt.size());
  const std::unique_ptr<StepBackend> backend =
      openStepBackend(args, {.positions = settings.maxTokens > 0 ? promptTokens + settings.maxTokens : 0});
  std::fprintf(stderr, "%s\n", backend->description().c_str());
  if (std::string sampling = describeSampling(settings.sampling); !sampling.empty())
    std::fprintf(stderr, "%s\n", sampling.c_str());
  const int64_t positions = backend->executor().kvGeometry().positions;
  if (promptTokens > positions)
    failPlain("reel run: the prompt of {} tokens does not fit the context of {} positions (--ctx)", promptTokens,
              positions);
  decode::DecodeScheduler scheduler(backend->executor(), {.prefill = prefillModeFromFlags(args)});
  if (!args.has("--no-display-prompt")) {
    std::fwrite(promptText.data(), 1, promptText.size(), stdout);
    std::fflush(stdout);
  }
  const Generation generation =
      generateText(scheduler, tokenizer, settings.request(std::move(prompt), tokenizer.vocabulary(), positions),
                   settings.stops, stdout);
  std::fputs("\n", stdout);
  std::fflush(stdout);
  std::fprintf(stderr, "%s\n%s\n", stopLine(generation, tokenizer, positions).c_str(), speedLine(generation).c_str());
  return 0;
}

}  // namespace

std::unique_ptr<StepBackend> openCpuBackend(const Args& args, const BackendNeeds& needs) {
  return std::make_unique<CpuBackend>(args, needs);
}

void declareModelFlags(Args& args) {
  args.positional("MODEL",
                  "a .gguf file (config and weights), a .plan file, or a model .toml, config.json or bundled name");
  args.option("--weights", "FILE", "the GGUF file holding the weights");
  args.flag("--synthetic", "run on random weights (written to a temporary file)");
  declareTensorCheckFlag(args);
  args.option("--device", "DEVICE",
              "auto (default: cuda when a GPU is present, else cpu), cpu (the CPU reference) or cuda");
  args.option("--quant", "SCHEME",
              "weight quantization for --synthetic: q4_k_m (default), q4_k, q8_0, f16, bf16, q4_0, "
              "q5_k_m");
  args.option("--threads", "N", fmt::format("CPU threads per matmul (default 2, at most {})", kMaxThreads));
  declareGpuRunFlags(args);
  declarePassFlags(args);
  declareSamplingFlags(args);
}

int runRun(int argc, char** argv) {
  Args args("reel run",
            "Generate tokens: greedily, or sampled where a sampling flag (--temp, --top-k, ..., --seed) is given.\n"
            "The model is compiled with the pass pipeline (one graph per bucket, plus\n"
            "@prefill) and run on the GPU (CUDA graphs) or the CPU reference executor: the prompt is prefilled, then\n"
            "-n tokens are decoded.\n"
            "With --batch M, M sequences (sequence i's prompt is the given one plus i more tokens, so they sit at\n"
            "different positions) decode together through the smallest bucket >= M, padding rows included.\n"
            "With -p TEXT (a GGUF model file with a tokenizer): the text is tokenized (BOS as the file says, special\n"
            "tokens parsed), echoed unless --no-display-prompt, and the generated text streams to stdout as the\n"
            "tokens come, until an end-of-generation token (EOS, EOT, <|eot_id|>, <|im_end|>, ...), a --stop text\n"
            "or -n tokens (default with -p: -1, until the end of generation or a full context). Why it stopped\n"
            "and the speeds ('prompt eval: N tokens in S s, X tok/s; eval: ...') go to stderr.");
  declareModelFlags(args);
  declareRunRequestFlags(args);
  args.option("--prompt", "TEXT", "the prompt as text, tokenized with the model file's tokenizer", "-p");
  args.flag("--no-display-prompt", "with -p: do not echo the prompt before the generated text");
  declareGenerationFlags(args);
  if (!args.parse(argc, argv, 2)) return 0;
  if (args.has("--prompt")) return runText(args);
  if (args.has("--stop") || args.has("--no-display-prompt"))
    failPlain("reel run: --stop and --no-display-prompt need a text prompt (-p)");

  if (resolveDevice(args.getOr("--device", "auto")) == "cuda") return runRunOnGpu(args);
  const decode::DecodeRequest request = runRequestFromFlags(args);
  const CpuModel model = compileForCpu(args, false);

  reference::DecodeOptions options;
  if (!model.buckets.empty()) options.buckets = model.buckets;
  options.prefill = prefillModeFromFlags(args);
  options.threads = static_cast<unsigned>(args.getInt("--threads", 2, {1, kMaxThreads}));
  options.maxContext = args.getInt("--ctx", model.config.maxContext, {1, model.config.maxContext});

  writeOutput("", fmt::format("model: {} ({} layers), weights: {}, device: {}\n", model.config.name,
                              model.config.numLayers, model.weights.description, cpuDevice(*model.module)));
  decode::DecodeReport report =
      reference::runGreedyDecode(reference::findStepGraphs(*model.module), *model.weights.source, request, options);
  writeOutput("", runReport(report, request, options.maxContext));
  return 0;
}

}  // namespace reel::tools
