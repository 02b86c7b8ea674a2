// reel run --device cuda: the GPU path of reel run (see RunGpu.h).
#include "tools/RunGpu.h"

#include "ir/Diagnostics.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <iterator>
#include <utility>

#if REEL_WITH_CUDA
#include "runtime/gpu/GpuDecode.h"
#include "tools/Commands.h"
#include "tools/GpuModel.h"

#include <fmt/format.h>

#include <charconv>
#endif

namespace reel::tools {

void declareGpuRunFlags(Args& args) {
  args.flag("--eager", "GPU: launch the steps one by one instead of replaying CUDA graphs (the baseline)");
  args.option("--ctx", "N",
              "GPU: KV positions per sequence the plan is compiled for (default: the model's, at most 4096)");
  args.option("--weights-cache", "FILE",
              "GPU: where --synthetic weights are kept and reused (default $TMPDIR/reel-synthetic-MODEL-QUANT.gguf)");
  declareGpuMemoryLimitFlag(args);
}

void declareGpuMemoryLimitFlag(Args& args) {
  args.option("--gpu-memory-limit", "SIZE",
              "GPU: the most device memory reel may use, e.g. 512M, 4G, 4GiB (default: what the GPU has)");
}

std::optional<uint64_t> parseByteSize(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  size_t number = digits;
  if (number < text.size() && text[number] == '.') {
    size_t fraction = number + 1;
    while (fraction < text.size() && text[fraction] >= '0' && text[fraction] <= '9') ++fraction;
    if (fraction == number + 1) return std::nullopt;  // "4." or "4.G"
    number = fraction;
  }
  if (digits == 0 || number > 24) return std::nullopt;
  std::string suffix(text.substr(number));
  for (char& c : suffix) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  static const std::pair<const char*, long double> kSuffixes[] = {
      {"", 1.0L},       {"B", 1.0L},    {"K", 0x1p10L},   {"KIB", 0x1p10L}, {"M", 0x1p20L},
      {"MIB", 0x1p20L}, {"G", 0x1p30L}, {"GIB", 0x1p30L}, {"T", 0x1p40L},   {"TIB", 0x1p40L},
      {"KB", 1e3L},     {"MB", 1e6L},   {"GB", 1e9L},     {"TB", 1e12L}};
  const auto* found = std::find_if(std::begin(kSuffixes), std::end(kSuffixes),
                                   [&](const auto& entry) { return suffix == entry.first; });
  if (found == std::end(kSuffixes)) return std::nullopt;
  const long double bytes =
      std::floor(std::strtold(std::string(text.substr(0, number)).c_str(), nullptr) * found->second);
  if (found->second == 1.0L && number != digits) return std::nullopt;  // a fraction of a byte
  if (!(bytes >= 1.0L) || bytes > 0x1p60L) return std::nullopt;
  return static_cast<uint64_t>(bytes);
}

uint64_t gpuMemoryLimit(const Args& args) {
  const std::optional<std::string> text = args.get("--gpu-memory-limit");
  if (!text) return 0;
  const std::optional<uint64_t> bytes = parseByteSize(*text);
  if (!bytes)
    failPlain("{}: --gpu-memory-limit {}: expected a size such as 4096, 512M, 4G or 4GiB (at least 1 byte)",
              args.command(), *text);
  return *bytes;
}

#if REEL_WITH_CUDA

namespace {

/// Bounds of the numeric flags, as on the CPU path (--batch's help states its bound).
constexpr int64_t kMaxBatch = 1024;
constexpr int64_t kMaxTokens = int64_t{1} << 24;

/// "1,2,3" -> token ids.
std::vector<int32_t> promptTokens(const std::string& text) {
  std::vector<int32_t> tokens;
  for (size_t start = 0; start <= text.size();) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    int32_t value = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size() || value < 0)
      failPlain("reel run: --prompt-tokens {}: expected token ids separated by commas, got '{}'", text, item);
    tokens.push_back(value);
    start = comma + 1;
  }
  return tokens;
}

/// Sequence i's prompt: the given one plus its first i tokens again (cyclically), as on the CPU.
std::vector<std::vector<int32_t>> batchPrompts(const std::vector<int32_t>& prompt, int64_t batch) {
  std::vector<std::vector<int32_t>> prompts;
  for (int64_t i = 0; i < batch; ++i) {
    std::vector<int32_t> sequence = prompt;
    for (int64_t j = 0; j < i; ++j) sequence.push_back(prompt[static_cast<size_t>(j) % prompt.size()]);
    prompts.push_back(std::move(sequence));
  }
  return prompts;
}

reference::PrefillMode prefillMode(const std::string& text) {
  if (text == "auto") return reference::PrefillMode::Auto;
  if (text == "graph") return reference::PrefillMode::Graph;
  if (text == "tokens") return reference::PrefillMode::TokenByToken;
  failPlain("reel run: --prefill {}: expected auto, graph or tokens", text);
}

void printGpuReport(const reference::DecodeReport& report, const reference::DecodeRequest& request,
                    int64_t maxContext) {
  std::string out = fmt::format("prefill: {}\n", report.prefillPath);
  if (!report.decodePath.empty()) out += fmt::format("decode: {}\n", report.decodePath);
  size_t decodedTokens = 0;  // tokens of the decode steps (each sequence's first comes from prefill)
  for (size_t i = 0; i < report.sequences.size(); ++i) {
    out += fmt::format("sequence {} (prompt of {} tokens): {}\n", i, request.prompts[i].size(),
                       fmt::join(report.sequences[i].tokens, " "));
    if (std::string stop = reference::describeStop(report.sequences[i], maxContext, request.newTokens); !stop.empty())
      out += fmt::format("sequence {}: {}\n", i, stop);
    decodedTokens += report.sequences[i].tokens.size() - 1;
  }
  if (report.decodeSteps > 0) {
    const double perStep = report.decodeSeconds / static_cast<double>(report.decodeSteps);
    out += fmt::format(
        "decode: {} steps in {:.3f} s: {:.3f} ms per step, {:.1f} tok/s per sequence, {:.1f} tok/s in all "
        "(prefill {:.3f} s)\n",
        report.decodeSteps, report.decodeSeconds, perStep * 1e3, 1.0 / perStep,
        static_cast<double>(decodedTokens) / report.decodeSeconds, report.prefillSeconds);
  }
  writeOutput("", out);
}

}  // namespace

std::string resolveDevice(const std::string& device) {
  if (device == "auto") return gpu::gpuAvailable() ? "cuda" : "cpu";
  if (device == "cpu" || device == "cuda") return device;
  failPlain("reel run: --device {}: expected auto, cpu or cuda", device);
}

int runRunOnGpu(const Args& args) {
  const uint64_t memoryLimit = gpuMemoryLimit(args);  // a bad flag is reported first, GPU or not
  gpu::requireGpu("reel run --device cuda");
  // Buckets up to 8 by default: larger ones choose tensor-core kernels that cannot be lowered yet.
  GpuModel model = loadGpuModel(args, {"1,2,4,8", "", 4096});
  reference::DecodeRequest request;
  request.prompts =
      batchPrompts(promptTokens(args.getOr("--prompt-tokens", "1")), args.getInt("--batch", 1, {1, kMaxBatch}));
  request.newTokens = args.getInt("--tokens", 16, {1, kMaxTokens});

  gpu::RuntimeOptions options;
  options.useGraphs = !args.has("--eager");
  options.gpuMemoryLimit = memoryLimit;
  int64_t largestDecode = 0;
  for (const codegen::BucketPlan& bucket : model.plan.buckets)
    if (bucket.phase == "decode") largestDecode = std::max(largestDecode, bucket.m);
  options.kvSlots = std::max<int64_t>(largestDecode, static_cast<int64_t>(request.prompts.size()));
  const std::string planName = model.plan.model;
  const size_t buckets = model.plan.buckets.size();
  gpu::GpuRuntime runtime(std::move(model.plan), *model.weights.file, options);
  writeOutput("", fmt::format("model: {}, weights: {}, device: cuda ({}), {} buckets, {}\nGPU memory: {}\n", planName,
                              model.weights.description, gpu::gpuName(), buckets,
                              options.useGraphs ? "CUDA graphs" : "eager (--eager)", runtime.memoryReport()));
  gpu::GpuDecodeOptions decode;
  decode.prefill = prefillMode(args.getOr("--prefill", "auto"));
  printGpuReport(gpu::runGpuGreedyDecode(runtime, request, decode), request, runtime.kv().positions);
  return 0;
}

#else

std::string resolveDevice(const std::string& device) {
  if (device == "auto" || device == "cpu") return "cpu";
  if (device == "cuda") return "cuda";
  failPlain("reel run: --device {}: expected auto, cpu or cuda", device);
}

int runRunOnGpu(const Args& args) {
  (void)gpuMemoryLimit(args);  // a bad flag is reported first, as with the GPU runtime
  failPlain(
      "reel run: --device cuda: this build of reel has no GPU support (configure with REEL_WITH_CUDA=ON); "
      "use --device cpu");
}

#endif

}  // namespace reel::tools
