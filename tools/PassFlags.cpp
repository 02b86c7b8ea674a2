#include "tools/PassFlags.h"

#include "ir/TensorParallel.h"
#include "passes/GpuProfile.h"
#include "passes/Instrumentation.h"
#include "passes/PassManager.h"
#include "passes/Plugin.h"
#include "support/Diagnostics.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>

#if REEL_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace reel::tools {
namespace {

#if REEL_WITH_CUDA
/// Device 0 as the CUDA runtime sees it; nullopt without a usable GPU (never fails).
std::optional<passes::DetectedGpu> detectCudaGpu() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();  // clear the sticky error of a machine without a driver
    return std::nullopt;
  }
  cudaDeviceProp properties{};
  if (cudaGetDeviceProperties(&properties, 0) != cudaSuccess) return std::nullopt;
  return passes::DetectedGpu{properties.name, properties.multiProcessorCount, properties.major * 10 + properties.minor};
}
#endif

void note(const std::string& text) {
  std::fprintf(stderr, "reel: note: %s\n", text.c_str());
}

/// Largest decode bucket and prefill chunk the flags accept.
constexpr int64_t kMaxBucketRows = int64_t{1} << 16;
/// Most ranks --tp accepts.
constexpr int64_t kMaxTpFlag = 64;

/// "1,2,4,8" -> positive, increasing sizes (`flag` names them in errors).
std::vector<int64_t> parseBuckets(const std::string& text, const std::string& flag = "--buckets") {
  const std::vector<int64_t> buckets = parseIntList(text, {1, kMaxBucketRows}, flag + " " + text + ":");
  for (size_t i = 1; i < buckets.size(); ++i)
    if (buckets[i] <= buckets[i - 1])
      failPlain("{} {}: sizes must be increasing ({} after {})", flag, text, buckets[i], buckets[i - 1]);
  return buckets;
}

/// Splits a reproducer header into arguments: spaces separate, single quotes group.
std::vector<std::string> splitHeaderFlags(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  bool quoted = false;
  bool inWord = false;
  for (char c : text) {
    if (c == '\'') {
      quoted = !quoted;
      inWord = true;
    } else if (c == ' ' && !quoted) {
      if (inWord) words.push_back(word);
      word.clear();
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quoted) failPlain("reproducer header: unbalanced quote in '{}'", text);
  if (inWord) words.push_back(word);
  return words;
}

/// "'x'" when `text` needs quoting in a header, else `text`.
std::string headerWord(const std::string& flag, const std::string& value) {
  bool plain = value.find_first_of(" '{}") == std::string::npos && !value.empty();
  return plain ? flag + "=" + value : flag + "='" + value + "'";
}

passes::GpuProfile resolveProfile(const ContextFlags& flags) {
  if (flags.gpu && flags.gpuProfile) failPlain("--gpu and --gpu-profile exclude each other");
  if (flags.gpuProfile) return passes::readGpuProfile(*flags.gpuProfile);
#if REEL_WITH_CUDA
  passes::setGpuDetector(detectCudaGpu);
#endif
  std::string autoNote;
  passes::GpuProfile profile = passes::resolveGpuProfile(flags.gpu.value_or("h100"), &autoNote);
  if (!autoNote.empty()) note(autoNote);
  return profile;
}

/// The flags a reproducer needs to rebuild this context (all resolved: `auto` becomes
/// the profile it picked).
std::string contextFlagsText(const ContextFlags& flags, const passes::PassContext& context) {
  std::vector<std::string> words;
  words.push_back(flags.gpuProfile ? headerWord("--gpu-profile", *flags.gpuProfile)
                                   : headerWord("--gpu", context.profile.name));
  words.push_back(headerWord("--buckets", fmt::format("{}", fmt::join(context.buckets, ","))));
  if (context.prefillTokens) words.push_back(headerWord("--prefill-tokens", std::to_string(*context.prefillTokens)));
  if (!context.prefillBuckets.empty())
    words.push_back(headerWord("--prefill-buckets", fmt::format("{}", fmt::join(context.prefillBuckets, ","))));
  if (context.memoryBudget) words.push_back(headerWord("--memory-budget", std::to_string(*context.memoryBudget)));
  for (const std::string& plugin : flags.plugins) words.push_back(headerWord("--load-pass-plugin", plugin));
  return fmt::format("{}", fmt::join(words, " "));
}

/// Pass names from repeatable, comma-separated flag values; each must be registered.
std::set<std::string> passNames(const Args& args, const std::string& flag) {
  std::set<std::string> names;
  for (const std::string& value : args.getAll(flag)) {
    size_t start = 0;
    while (start <= value.size()) {
      size_t comma = std::min(value.find(',', start), value.size());
      std::string name = value.substr(start, comma - start);
      if (!passes::PassRegistry::global().find(name)) failPlain("{}: unknown pass '{}' (see reel passes)", flag, name);
      names.insert(name);
      start = comma + 1;
    }
  }
  return names;
}

void addInstrumentation(passes::PassManager& manager, const Args& args, const PassSetup& setup) {
  passes::PrintIrOptions print;
  print.afterAll = args.has("--print-ir-after-all");
  print.afterChange = args.has("--print-ir-after-change");
  print.before = passNames(args, "--print-ir-before");
  print.after = passNames(args, "--print-ir-after");
  if (print.any()) manager.addInstrumentation(std::make_unique<passes::PrintIrInstrumentation>(print, std::cerr));
  std::optional<std::string> dumpDir = args.get("--dump-dir");
  if (dumpDir) manager.addInstrumentation(std::make_unique<passes::DumpDirInstrumentation>(*dumpDir));
  if (args.has("--time-passes")) manager.addInstrumentation(std::make_unique<passes::TimingInstrumentation>(std::cerr));
  manager.addInstrumentation(std::make_unique<passes::ReproducerInstrumentation>(
      passes::ReproducerOptions{dumpDir.value_or("."), setup.reproducerFlags}));
}

}  // namespace

ContextFlags ContextFlags::orElse(const ContextFlags& fallback) const {
  ContextFlags merged = *this;
  auto fill = [](std::optional<std::string>& mine, const std::optional<std::string>& theirs) {
    if (!mine) mine = theirs;
  };
  fill(merged.passes, fallback.passes);
  if (!merged.gpu && !merged.gpuProfile) {
    merged.gpu = fallback.gpu;
    merged.gpuProfile = fallback.gpuProfile;
  }
  fill(merged.buckets, fallback.buckets);
  fill(merged.prefillTokens, fallback.prefillTokens);
  fill(merged.prefillBuckets, fallback.prefillBuckets);
  fill(merged.memoryBudget, fallback.memoryBudget);
  fill(merged.tp, fallback.tp);
  if (merged.plugins.empty()) merged.plugins = fallback.plugins;
  return merged;
}

void declarePassFlags(Args& args) {
  args.option("--passes", "PIPELINE", "the pass pipeline, e.g. 'canonicalize,fuse-gate-up{max-m=8}' (see reel passes)");
  args.option("--gpu", "NAME", "target GPU profile: h100 (default), h200, a100, l40s, rtx4090, or auto");
  args.option("--gpu-profile", "FILE", "target GPU profile from a TOML file (see passes/profiles/)");
  args.option("--buckets", "LIST", "decode bucket sizes M, e.g. 1,2,4,8 (default 1,2,4,8,16,32,64)");
  args.option("--prefill-tokens", "N",
              "M of the @prefill graph, 0 for none (default: the GPU profile's measured prefill_tokens, else 256)");
  args.option("--prefill-buckets", "LIST",
              "M of smaller prefill graphs beside @prefill, e.g. 64,256 (@prefill.m64, ...): a step of fewer prompt "
              "rows runs the smallest that holds them instead of the whole chunk (default: none)");
  args.option("--memory-budget", "BYTES",
              "GPU memory for weights incl. derived copies: 24GB, 1.5GiB, 512MB, bytes (default: 1.1 x the stored "
              "weights, at most the GPU profile's memory)");
  args.option("--tp", "N",
              "tensor-parallel ranks: the pipeline starts with shard{tp=N} (default 1); runs on the CPU reference, "
              "ranks simulated in one process");
  args.option("--load-pass-plugin", "PATH", "load a pass plugin (.so); repeatable", "", true);
  args.flag("--explain", "after the IR (or alone with --emit=none), print each decision and why, as // comments");
  args.flag("--print-ir-after-all", "print the IR after every pass (stderr)");
  args.option("--print-ir-before", "PASS", "print the IR before each run of PASS (stderr); repeatable", "", true);
  args.option("--print-ir-after", "PASS", "print the IR after each run of PASS (stderr); repeatable", "", true);
  args.flag("--print-ir-after-change", "print the IR after every pass that changed it (stderr)");
  args.flag("--time-passes", "print the wall time of each pass (stderr)");
  args.option("--dump-dir", "DIR", "write 000-input.ir, 001-<pass>.ir, ... and any reproducer to DIR");
}

ContextFlags readContextFlags(const Args& args) {
  ContextFlags flags;
  flags.passes = args.get("--passes");
  flags.gpu = args.get("--gpu");
  flags.gpuProfile = args.get("--gpu-profile");
  flags.buckets = args.get("--buckets");
  flags.prefillTokens = args.get("--prefill-tokens");
  flags.prefillBuckets = args.get("--prefill-buckets");
  flags.memoryBudget = args.get("--memory-budget");
  flags.tp = args.get("--tp");
  flags.plugins = args.getAll("--load-pass-plugin");
  return flags;
}

ContextFlags parseReproducerFlags(const std::string& headerFlags) {
  std::vector<std::string> words = splitHeaderFlags(headerFlags);
  std::vector<char*> argv;
  std::string program = "reel";
  std::string command = "opt";
  argv.push_back(program.data());
  argv.push_back(command.data());
  for (std::string& word : words) argv.push_back(word.data());
  Args args("reproducer header", "the flags of a reel-reproducer header");
  args.option("--passes", "PIPELINE", "");
  args.option("--gpu", "NAME", "");
  args.option("--gpu-profile", "FILE", "");
  args.option("--buckets", "LIST", "");
  args.option("--prefill-tokens", "N", "");
  args.option("--prefill-buckets", "LIST", "");
  args.option("--memory-budget", "BYTES", "");
  args.option("--load-pass-plugin", "PATH", "", "", true);
  args.parse(static_cast<int>(argv.size()), argv.data(), 2);
  return readContextFlags(args);
}

PassSetup resolvePassSetup(const ContextFlags& flags, PipelineDefault fallback) {
  for (const std::string& plugin : flags.plugins) passes::loadPassPlugin(plugin);
  PassSetup setup;
  setup.context.profile = resolveProfile(flags);
  if (flags.buckets) setup.context.buckets = parseBuckets(*flags.buckets);
  if (flags.prefillTokens)
    setup.context.prefillTokens = parseIntIn(*flags.prefillTokens, {0, kMaxBucketRows}, "--prefill-tokens");
  if (flags.prefillBuckets) setup.context.prefillBuckets = parseBuckets(*flags.prefillBuckets, "--prefill-buckets");
  if (flags.memoryBudget) setup.context.memoryBudget = byteSizeFlag(*flags.memoryBudget, "--memory-budget");
  // The default pipeline is read after the plugins are loaded: their passes may join it.
  const std::string defaultPipeline =
      fallback == PipelineDefault::Full ? passes::PassRegistry::global().defaultPipeline() : std::string();
  std::string pipeline = flags.passes.value_or(defaultPipeline);
  const int64_t ranks = flags.tp ? parseIntIn(*flags.tp, {1, kMaxTpFlag}, "--tp") : 1;
  if (ranks > 1) {
    const passes::Pipeline given = passes::Pipeline::parse(pipeline);
    for (const passes::PipelineEntry& entry : given.entries())
      if (entry.name() == "shard")
        failPlain("--tp {}: the pipeline already has a shard pass; give --tp or shard{{tp=N}} in --passes", ranks);
    pipeline = fmt::format("shard{{tp={}}}{}{}", ranks, pipeline.empty() ? "" : ",", pipeline);
  }
  setup.pipeline = passes::Pipeline::parse(pipeline);
  setup.reproducerFlags = contextFlagsText(flags, setup.context);
  return setup;
}

bool runPasses(ir::Module& module, PassSetup& setup, const Args& args) {
  passes::PassManagerOptions options;
  options.verifyInput = options.verifyEach = !args.has("--no-verify");
  passes::PassManager manager(setup.pipeline, options);
  addInstrumentation(manager, args, setup);
  try {
    manager.run(module, setup.context);
  } catch (const passes::PassError& error) {
    std::fprintf(stderr, "reel: error: %s\n", error.what());
    for (const std::string& line : error.notes()) note(line);
    return false;
  }
  return true;
}

models::QuantScheme quantSchemeFlag(const Args& args, const std::string& fallback) {
  const std::string text = args.getOr("--quant", fallback);
  const std::optional<models::QuantScheme> scheme = models::parseQuantScheme(text);
  if (!scheme)
    failPlain("{}: unknown --quant {} (expected q4_k_m, q4_k, q8_0, f16, bf16, q4_0 or q5_k_m)", args.command(),
              quoteForMessage(text));
  return *scheme;
}

std::optional<codegen::CompileResult> compileWithFlags(const Args& args, std::unique_ptr<ir::Module> module,
                                                       const CompileDefaults& defaults) {
  ContextFlags flags = readContextFlags(args);
  if (!flags.buckets && !defaults.buckets.empty()) flags.buckets = defaults.buckets;
  // The default prefill buckets go with the default chunk: below a chunk the flags name they
  // might not fit.
  const bool defaultChunk = !flags.prefillTokens;
  if (defaultChunk && !defaults.prefillTokens.empty()) flags.prefillTokens = defaults.prefillTokens;
  if (defaultChunk && !flags.prefillBuckets && !defaults.prefillBuckets.empty())
    flags.prefillBuckets = defaults.prefillBuckets;
  const PassSetup setup = resolvePassSetup(flags, PipelineDefault::Full);
  const int64_t ranks = pipelineRanks(setup.pipeline);
  const std::optional<int64_t> heads = module->attrs.getInt("heads");
  const std::optional<int64_t> kvHeads = module->attrs.getInt("kv_heads");
  if (ranks > 1 && heads && kvHeads)
    if (std::optional<std::string> error = ir::headSplitError(*heads, *kvHeads, ranks))
      failPlain("{}: tp {} does not fit {}: {}", args.command(), ranks, module->name, *error);
  if (ranks > 1 && defaults.lower)
    failPlain(
        "{}: tensor parallel (tp = {}) on the GPU needs {} GPUs and NCCL, which reel's GPU runtime does not have "
        "yet; emit the sharded IR (reel compile --emit=ir) or run it on the CPU reference (reel run --device cpu)",
        args.command(), ranks, ranks);
  codegen::CompileRequest request;
  request.profile = setup.context.profile;
  request.buckets = setup.context.buckets;
  request.prefillTokens = setup.context.prefillTokens;
  request.prefillBuckets = setup.context.prefillBuckets;
  request.memoryBudget = setup.context.memoryBudget;
  request.pipeline = setup.pipeline.str();
  request.verify = !args.has("--no-verify");
  request.instrument = [&](passes::PassManager& manager) { addInstrumentation(manager, args, setup); };
  request.lower = defaults.lower;
  const int64_t context = codegen::moduleContext(*module);
  request.maxContext = args.getInt("--ctx", std::min(context, defaults.maxContext), {1, context});
  try {
    return codegen::compileModule(std::move(module), request);
  } catch (const passes::PassError& error) {
    std::fprintf(stderr, "reel: error: %s\n", error.what());
    for (const std::string& line : error.notes()) note(line);
    return std::nullopt;
  }
}

int64_t pipelineRanks(const passes::Pipeline& pipeline) {
  for (const passes::PipelineEntry& entry : pipeline.entries())
    if (entry.name() == "shard") return entry.options.getInt("tp");
  return 1;
}

std::string explainDecisions(const ir::Module& module, const passes::PassContext& context) {
  std::map<std::string, std::vector<const passes::Decision*>> byGraph;
  for (const passes::Decision& decision : context.decisions) byGraph[decision.graph].push_back(&decision);
  std::string text = fmt::format("// ----- decisions ({} in all, by graph) -----\n", context.decisions.size());
  auto section = [&](const std::string& title, const std::vector<const passes::Decision*>& decisions) {
    text += "// " + title + "\n";
    for (const passes::Decision* d : decisions)
      text += fmt::format("//   {}: {} -> {}: {}\n", d->pass, d->subject, d->choice, d->reason);
  };
  for (const std::unique_ptr<ir::Graph>& graph : module.graphs) {
    auto it = byGraph.find(graph->name());
    if (it == byGraph.end()) continue;
    section("graph @" + graph->name(), it->second);
    byGraph.erase(it);
  }
  for (const auto& [graph, decisions] : byGraph) section(graph.empty() ? "module" : "graph @" + graph, decisions);
  return text;
}

void printReport(const passes::PassContext& context) {
  for (const auto& [key, value] : context.report) std::fprintf(stderr, "reel: %s: %s\n", key.c_str(), value.c_str());
}

int64_t byteSizeFlag(const std::string& text, const std::string& flag) {
  const std::optional<uint64_t> bytes = parseByteSize(text);
  if (!bytes) failPlain("{} {}: expected a positive size such as 24GB, 1.5GiB, 512MB or a byte count", flag, text);
  return static_cast<int64_t>(*bytes);
}

}  // namespace reel::tools
