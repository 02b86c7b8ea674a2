// reel bench MODEL_OR_PLAN: decode throughput per bucket on the GPU, CUDA graphs against eager
// launches, in the spirit of llama-bench.
#include "support/Diagnostics.h"
#include "tools/Args.h"
#include "tools/BenchPlot.h"
#include "tools/Commands.h"
#include "tools/RunFlags.h"
#include "tools/RunGpu.h"

#if REEL_WITH_CUDA
#include "codegen/PlanCheck.h"
#include "runtime/gpu/DecodeBench.h"
#include "tools/GpuModel.h"
#include "tools/PassFlags.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#endif

namespace reel::tools {

#if REEL_WITH_CUDA

namespace {

/// One bucket's figures.
struct BenchRow {
  gpu::DecodeBenchResult result;
  double bandwidthGBs = 0;  ///< the profile's, for the percentage

  [[nodiscard]] double graphTokPerSeq() const {
    return result.graphSecondsPerStep > 0 ? 1.0 / result.graphSecondsPerStep : 0;
  }
  [[nodiscard]] double eagerTokPerSeq() const { return 1.0 / result.eagerSecondsPerStep; }
  /// The best of graph and eager: what the runtime delivers.
  [[nodiscard]] double bestSeconds() const {
    return result.graphSecondsPerStep > 0 ? result.graphSecondsPerStep : result.eagerSecondsPerStep;
  }
  [[nodiscard]] double weightGBs() const {
    return static_cast<double>(result.weightBytesPerStep) / bestSeconds() / 1e9;
  }
  [[nodiscard]] double kvGBs() const { return static_cast<double>(result.kvBytesPerStep) / bestSeconds() / 1e9; }
  /// Weights and KV cache read per second against the profile's bandwidth.
  [[nodiscard]] double percentOfBandwidth() const {
    return bandwidthGBs > 0 ? 100.0 * (weightGBs() + kvGBs()) / bandwidthGBs : 0;
  }
  [[nodiscard]] double graphSpeedup() const {
    return result.graphSecondsPerStep > 0 ? result.eagerSecondsPerStep / result.graphSecondsPerStep : 0;
  }
};

/// What the header says about the run.
struct BenchContext {
  std::string model;
  std::string weights;
  std::string gpu;
  std::string profile;
  int64_t weightBytes = 0;
  int64_t tokens = 0;
  int64_t depth = 0;
  std::string planWeights;  ///< the plan's weight bytes, stored and derived (codegen::PlanWeightBytes)
};

std::string markdown(const BenchContext& c, const std::vector<BenchRow>& rows) {
  std::string out = fmt::format(
      "model: {}, {} ({:.2f} GB on the GPU; the plan's weights: {})\nGPU: {} (profile {}), {} decode steps per "
      "bucket from KV depth {}\n\n"
      "| bucket | M | tok/s per seq | tok/s total | eager tok/s per seq | graph speedup | weight GB/s | KV GB/s | "
      "% of {} BW |\n"
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
      c.model, c.weights, static_cast<double>(c.weightBytes) / 1e9, c.planWeights, c.gpu, c.profile, c.tokens, c.depth,
      c.profile);
  for (const BenchRow& r : rows)
    out += fmt::format("| {} | {} | {:.1f} | {:.1f} | {:.1f} | {:.2f}x | {:.0f} | {:.0f} | {:.1f} |\n", r.result.bucket,
                       r.result.rows, 1.0 / r.bestSeconds(), static_cast<double>(r.result.rows) / r.bestSeconds(),
                       r.eagerTokPerSeq(), r.graphSpeedup(), r.weightGBs(), r.kvGBs(), r.percentOfBandwidth());
  return out;
}

std::string csv(const std::vector<BenchRow>& rows) {
  std::string out =
      "bucket,m,graph_tok_s_per_seq,graph_tok_s_total,eager_tok_s_per_seq,graph_speedup,weight_gb_s,kv_gb_s,"
      "pct_bandwidth\n";
  for (const BenchRow& r : rows)
    out += fmt::format("{},{},{:.2f},{:.2f},{:.2f},{:.3f},{:.1f},{:.1f},{:.2f}\n", r.result.bucket, r.result.rows,
                       r.graphTokPerSeq(), static_cast<double>(r.result.rows) * r.graphTokPerSeq(), r.eagerTokPerSeq(),
                       r.graphSpeedup(), r.weightGBs(), r.kvGBs(), r.percentOfBandwidth());
  return out;
}

std::string json(const BenchContext& c, const std::vector<BenchRow>& rows, const gpu::PrefillBenchResult* prefill) {
  std::string out =
      fmt::format("{{\"model\": \"{}\", \"gpu\": \"{}\", \"profile\": \"{}\", \"tokens\": {}, \"buckets\": [\n",
                  c.model, c.gpu, c.profile, c.tokens);
  for (size_t i = 0; i < rows.size(); ++i) {
    const BenchRow& r = rows[i];
    out += fmt::format(
        "  {{\"bucket\": \"{}\", \"m\": {}, \"graph_ms_per_step\": {:.4f}, \"eager_ms_per_step\": {:.4f}, "
        "\"weight_bytes_per_step\": {}, \"kv_bytes_per_step\": {}, \"weight_gb_s\": {:.1f}, \"kv_gb_s\": {:.1f}, "
        "\"pct_bandwidth\": {:.2f}}}{}\n",
        r.result.bucket, r.result.rows, r.result.graphSecondsPerStep * 1e3, r.result.eagerSecondsPerStep * 1e3,
        r.result.weightBytesPerStep, r.result.kvBytesPerStep, r.weightGBs(), r.kvGBs(), r.percentOfBandwidth(),
        i + 1 < rows.size() ? "," : "");
  }
  out += "]";
  if (prefill)
    out += fmt::format(
        ", \"prefill\": {{\"bucket\": \"{}\", \"tokens\": {}, \"chunks\": {}, \"ms\": {:.3f}, \"tok_s\": {:.1f}, "
        "\"weight_gb_s\": {:.1f}}}",
        prefill->bucket, prefill->tokens, prefill->chunks, prefill->seconds * 1e3,
        static_cast<double>(prefill->tokens) / prefill->seconds,
        static_cast<double>(prefill->weightBytes) / prefill->seconds / 1e9);
  return out + "}\n";
}

/// The per-kernel time of one step of a bucket, as a markdown table.
std::string breakdownTable(const std::string& bucket, const std::vector<gpu::KernelTime>& times) {
  double total = 0;
  for (const gpu::KernelTime& time : times) total += time.microseconds;
  std::string out = fmt::format(
      "\n@{}: one step at KV length 64, each launch timed with events between launches (no early-start overlap): "
      "{:.0f} us\n\n| kernel | launches | us per step | % |\n| --- | ---: | ---: | ---: |\n",
      bucket, total);
  for (const gpu::KernelTime& time : times)
    out += fmt::format("| {} | {} | {:.1f} | {:.1f} |\n", time.kernel, time.launches, time.microseconds,
                       100.0 * time.microseconds / total);
  return out;
}

/// The prefill figures, as a markdown line.
std::string prefillLine(const gpu::PrefillBenchResult& p) {
  return fmt::format("\nprefill ({}): a {}-token prompt in {} chunks: {:.1f} ms, {:.0f} tok/s, {:.0f} weight GB/s\n",
                     p.bucket, p.tokens, p.chunks, p.seconds * 1e3, static_cast<double>(p.tokens) / p.seconds,
                     static_cast<double>(p.weightBytes) / p.seconds / 1e9);
}

/// KV length of the step whose launches --breakdown and --plot time one by one.
constexpr int64_t kBreakdownKvLength = 64;

/// The plot of the rows and the timed steps (BenchPlot.h).
BenchPlot plotOf(const BenchContext& c, const std::vector<BenchRow>& rows,
                 const std::vector<std::pair<const codegen::BucketPlan*, std::vector<gpu::KernelTime>>>& breakdowns,
                 const gpu::GpuRuntime& runtime) {
  BenchPlot plot;
  plot.title = fmt::format("{} ({}), {}, profile {}", c.model, c.weights, c.gpu, c.profile);
  plot.bandwidthGBs = rows.empty() ? 0 : rows.front().bandwidthGBs;
  for (const BenchRow& r : rows)
    plot.buckets.push_back({r.result.bucket, r.result.rows, static_cast<double>(r.result.rows) / r.bestSeconds(),
                            static_cast<double>(r.result.weightBytesPerStep + r.result.kvBytesPerStep)});
  const gpu::KvLayout& kv = runtime.kv();
  for (const auto& [bucket, times] : breakdowns) {
    PlotStep step;
    step.bucket = bucket->graph;
    std::map<std::string, double> byClass;
    for (const gpu::KernelTime& t : times) byClass[kernelClassOf(t.kernel)] += t.microseconds;
    step.usByClass.assign(byClass.begin(), byClass.end());
    int64_t weightBytes = 0;
    for (const codegen::Step& s : bucket->steps) weightBytes += s.weightBytes;
    step.bytesPerStep = static_cast<double>(weightBytes) + static_cast<double>(bucket->m * kv.layers * 2 * kv.kvHeads *
                                                                               kv.headDim * 2 * kBreakdownKvLength);
    plot.steps.push_back(std::move(step));
  }
  return plot;
}

/// The short-context decode buckets of the plan, smallest first.
std::vector<const codegen::BucketPlan*> decodeBuckets(const codegen::Plan& plan) {
  std::vector<const codegen::BucketPlan*> buckets;
  for (const codegen::BucketPlan& bucket : plan.buckets)
    if (bucket.phase == "decode" && bucket.minContext == 0) buckets.push_back(&bucket);
  std::sort(buckets.begin(), buckets.end(), [](auto* a, auto* b) { return a->m < b->m; });
  return buckets;
}

}  // namespace

int runBench(int argc, char** argv) {
  Args args(
      "reel bench",
      "Decode throughput on the GPU per bucket: M sequences decode -n steps through the bucket's CUDA graph,\n"
      "then eagerly, from KV depth -d. Prints tok/s per sequence and in all, the weight and KV-cache bytes read\n"
      "per second and their share of the GPU profile's bandwidth, and what graphs gain over eager launches; with\n"
      "-p, the prefill of a prompt of that many tokens too. Synthetic weights are written once to a cache file\n"
      "and reused.");
  args.positional("MODEL", "a plan file (.plan, .json), a .gguf file, or a model .toml, config.json or bundled name");
  args.option("--weights", "FILE", "the GGUF file holding the weights");
  args.flag("--synthetic", "random weights, written once to a cache file (see --weights-cache)");
  declareTensorCheckFlag(args);
  args.option("--weights-cache", "FILE",
              "where --synthetic weights are kept (default $TMPDIR/reel-synthetic-MODEL-QUANT.gguf)");
  args.option("--quant", "SCHEME",
              "weight quantization for --synthetic: q4_k_m (default), q4_k, q8_0, f16, bf16, q4_0, "
              "q5_k_m");
  args.option("--ctx", "N", "KV positions per sequence (default 1024)");
  args.option("--tokens", "N", "timed decode steps per bucket (default 128)", "-n");
  args.option("--warmup", "N", "untimed steps first (default 4)");
  args.option("--depth", "N", "KV positions each sequence holds before the timed steps (default 0)", "-d");
  args.option("--prompt", "N", "also time the prefill of an N-token prompt (the plan's prefill bucket)", "-p");
  args.option("--output", "FORMAT", "md (default), csv or json", "-o");
  args.flag("--breakdown", "also time each launch of one step per bucket and print the time per kernel (md)");
  args.option("--plot", "FILE.svg",
              "write an SVG plot: tok/s against M with the bandwidth bound, and a step's time by kernel class");
  declareGpuMemoryLimitFlag(args);
  declarePassFlags(args);
  if (!args.parse(argc, argv, 2)) return 0;
  const std::string format = args.getOr("--output", "md");
  if (format != "md" && format != "csv" && format != "json")
    failPlain("reel bench: -o {}: expected md, csv or json", format);
  if (format == "csv" && args.has("--prompt"))
    failPlain("reel bench: -p: the prefill figures print with -o md or -o json (the CSV is one row per decode bucket)");

  const uint64_t memoryLimit = gpuMemoryLimit(args);
  gpu::requireGpu("reel bench");
  const bool prefill = args.has("--prompt");
  const int64_t depth = args.getInt("--depth", 0, {0, int64_t{1} << 24});
  const int64_t promptTokens = prefill ? args.getInt("--prompt", 512, {1, int64_t{1} << 24}) : 0;
  CompileDefaults defaults;
  defaults.buckets = "1,2,4,8";
  defaults.prefillTokens = prefill ? "" : "0";
  defaults.maxContext = 1024;
  GpuModel model = loadGpuModel(args, defaults);
  BenchContext context{model.plan.model,
                       model.weights.description,
                       gpu::gpuName(),
                       model.plan.gpuProfile,
                       0,
                       args.getInt("--tokens", 128, {1, int64_t{1} << 20}),
                       depth,
                       codegen::planWeightBytes(model.plan).str()};
  gpu::RuntimeOptions options;
  options.gpuMemoryLimit = memoryLimit;
  // Every decode graph, the long-context ones too: at a KV depth past a bucket's flash-decoding
  // threshold its .long graph runs, as it does in `reel run` and `reel serve`.
  for (const codegen::BucketPlan& bucket : model.plan.buckets)
    if (bucket.phase == "decode") options.buckets.push_back(bucket.graph);
  if (decodeBuckets(model.plan).empty()) failPlain("reel bench: the plan has no decode bucket");
  if (prefill)
    for (const codegen::BucketPlan& bucket : model.plan.buckets)
      if (bucket.phase == "prefill" && bucket.minContext == 0) options.buckets.push_back(bucket.graph);
  const double bandwidth = model.plan.bandwidthGBs;
  gpu::GpuRuntime runtime(std::move(model.plan), *model.weights.file, options);
  context.weightBytes = runtime.weightBytes();
  fmt::print(stderr, "reel: weights uploaded in {:.1f} s; GPU memory: {}\n", runtime.uploadSeconds(),
             runtime.memoryReport());

  std::vector<BenchRow> rows;
  for (const codegen::BucketPlan* bucket : decodeBuckets(runtime.plan())) {
    gpu::DecodeBenchCase benchCase{bucket->m, context.tokens, args.getInt("--warmup", 4, {1, 1000}), depth};
    rows.push_back({gpu::benchmarkDecode(runtime, benchCase), bandwidth});
  }
  std::optional<gpu::PrefillBenchResult> prefillResult;
  if (prefill) prefillResult = gpu::benchmarkPrefill(runtime, promptTokens, 3);
  std::string out = format == "md"    ? markdown(context, rows)
                    : format == "csv" ? csv(rows)
                                      : json(context, rows, prefillResult ? &*prefillResult : nullptr);
  if (prefillResult && format == "md") out += prefillLine(*prefillResult);
  std::vector<std::pair<const codegen::BucketPlan*, std::vector<gpu::KernelTime>>> breakdowns;
  if (args.has("--breakdown") || args.has("--plot"))
    for (const codegen::BucketPlan* bucket : decodeBuckets(runtime.plan()))
      breakdowns.emplace_back(bucket, gpu::decodeBreakdown(runtime, bucket->m, kBreakdownKvLength));
  if (args.has("--breakdown") && format == "md")
    for (const auto& [bucket, times] : breakdowns) out += breakdownTable(bucket->graph, times);
  if (args.has("--plot")) writeOutput(*args.get("--plot"), benchPlotSvg(plotOf(context, rows, breakdowns, runtime)));
  writeOutput("", out);
  return 0;
}

#else

int runBench(int argc, char** argv) {
  (void)argc;
  (void)argv;
  failPlain("reel bench: this build of reel has no GPU support (configure with REEL_WITH_CUDA=ON)");
}

#endif

}  // namespace reel::tools
