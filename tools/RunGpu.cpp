// reel run --device cuda: the GPU path of reel run (see RunGpu.h).
#include "tools/RunGpu.h"

#include "support/Diagnostics.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <iterator>
#include <utility>

#if REEL_WITH_CUDA
#include "runtime/decode/DecodeScheduler.h"
#include "runtime/gpu/GpuRuntime.h"
#include "tools/Commands.h"
#include "tools/GpuModel.h"
#include "tools/RunFlags.h"

#include <fmt/format.h>

#endif
#include "tools/TextGen.h"

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

std::string resolveDevice(const std::string& device) {
  if (device == "auto") return gpu::gpuAvailable() ? "cuda" : "cpu";
  if (device == "cpu" || device == "cuda") return device;
  failPlain("reel run: --device {}: expected auto, cpu or cuda", device);
}

int runRunOnGpu(const Args& args) {
  const uint64_t memoryLimit = gpuMemoryLimit(args);  // a bad flag is reported first, GPU or not
  gpu::requireGpu("reel run --device cuda");
  // Buckets up to 8 by default: `run` decodes a few sequences, and larger buckets choose FP8 or HGEMM
  // kernels whose derived weight copies hold several times the file's size on the GPU.
  CompileDefaults defaults;
  defaults.buckets = "1,2,4,8";
  defaults.maxContext = 4096;
  GpuModel model = loadGpuModel(args, defaults);
  const decode::DecodeRequest request = runRequestFromFlags(args);

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
  decode::SchedulerOptions scheduling;
  scheduling.prefill = prefillModeFromFlags(args);
  writeOutput("", runReport(decode::runDecode(runtime, request, scheduling), request, runtime.kv().positions));
  return 0;
}

namespace {

/// The largest decode bucket the text commands compile by default.
constexpr int64_t kLargestDefaultBucket = 256;

/// The decode buckets the GPU text commands compile unless --buckets says: powers of two from 1
/// up to the first that holds `slots` sequences (1,2,4,8 at least, at most
/// kLargestDefaultBucket), so that a server's whole running batch decodes in one step.
std::string defaultDecodeBuckets(int64_t slots) {
  std::string buckets = "1";
  for (int64_t m = 2; m <= kLargestDefaultBucket && (m <= 8 || m / 2 < slots); m *= 2) buckets += fmt::format(",{}", m);
  return buckets;
}

/// The text commands' prefill graphs on the GPU (docs/serving.md, "Prefill buckets"): a large
/// chunk, whose step dequantizes each weight once for a whole wave of prompts, and smaller
/// graphs for a prompt or a few, which would otherwise pay for the whole chunk (the
/// measurements behind the sizes are in docs/performance.md).
constexpr const char* kTextPrefillChunk = "2048";
constexpr const char* kTextPrefillBuckets = "128,512";

/// The GPU runtime as a StepBackend for the text commands: the KV cache holds the slots of the
/// largest decode bucket or those asked for, if more, each of the context the plan is compiled
/// for (--ctx, default the model's, at most kDefaultTextContext).
class GpuBackend final : public StepBackend {
 public:
  GpuBackend(const Args& args, const BackendNeeds& needs) {
    const uint64_t memoryLimit = gpuMemoryLimit(args);
    gpu::requireGpu(args.command() + " --device cuda");
    CompileDefaults defaults;
    defaults.buckets = defaultDecodeBuckets(needs.slots);
    defaults.prefillTokens = kTextPrefillChunk;
    defaults.prefillBuckets = kTextPrefillBuckets;
    defaults.maxContext = kDefaultTextContext;
    defaults.sampling = needs.sampling;
    GpuModel model = loadGpuModel(args, defaults);
    gpu::RuntimeOptions options;
    options.useGraphs = !args.has("--eager");
    options.gpuMemoryLimit = memoryLimit;
    int64_t largestDecode = 0;
    for (const codegen::BucketPlan& bucket : model.plan.buckets)
      if (bucket.phase == "decode") largestDecode = std::max(largestDecode, bucket.m);
    options.kvSlots = std::max(largestDecode, needs.slots);
    description_ =
        fmt::format("model: {}, weights: {}, device: cuda ({}), {}", model.plan.model, model.weights.description,
                    gpu::gpuName(), options.useGraphs ? "CUDA graphs" : "eager (--eager)");
    runtime_ = std::make_unique<gpu::GpuRuntime>(std::move(model.plan), *model.weights.file, options);
    description_ += fmt::format(", context: {} positions", runtime_->kv().positions);
  }
  decode::StepExecutor& executor() override { return *runtime_; }
  [[nodiscard]] std::string description() const override { return description_; }

 private:
  std::unique_ptr<gpu::GpuRuntime> runtime_;
  std::string description_;
};

}  // namespace

std::unique_ptr<StepBackend> openGpuBackend(const Args& args, const BackendNeeds& needs) {
  return std::make_unique<GpuBackend>(args, needs);
}

#else

std::unique_ptr<StepBackend> openGpuBackend(const Args& args, const BackendNeeds& needs) {
  (void)needs;
  (void)gpuMemoryLimit(args);  // a bad flag is reported first, as with the GPU runtime
  failPlain(
      "{}: --device cuda: this build of reel has no GPU support (configure with REEL_WITH_CUDA=ON); use "
      "--device cpu",
      args.command());
}

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
