// reel tune MODEL: measures on the GPU present the kernel times the decision passes decide by
// (each DP4A GEMV launch of the model at both row-set counts, decode attention per bucket at
// several contexts and split counts, each matmul weight shape by every kernel family at each
// bucket's M and the prefill chunks) and writes the GPU profile with them as [measured].
#include "support/Diagnostics.h"
#include "tools/Args.h"
#include "tools/Commands.h"

#if REEL_WITH_CUDA
#include "codegen/Compiler.h"
#include "kernels/GemvShape.h"
#include "models/Builder.h"
#include "models/ModelLoader.h"
#include "passes/DecisionSupport.h"
#include "passes/FusedOps.h"
#include "passes/LaunchPolicy.h"
#include "runtime/gpu/CudaCheck.h"
#include "runtime/gpu/KernelTimer.h"
#include "tools/PassFlags.h"
#include "tools/TuneMatmul.h"

#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#endif

namespace reel::tools {

#if REEL_WITH_CUDA

namespace {

/// One GEMV launch to measure: its key and the int arguments besides n, k, m and row_sets.
struct GemvCase {
  passes::GemvKey key;
  std::vector<int64_t> stackRows;  ///< rows_0.. of a stack (empty: not stacked)
};

/// The DP4A GEMV launches of every decode bucket, as select-launch-config configured them.
std::vector<GemvCase> gemvCases(const ir::Module& module) {
  std::vector<GemvCase> cases;
  for (const std::unique_ptr<ir::Graph>& graph : module.graphs) {
    const std::optional<passes::BucketShape> bucket = passes::bucketShape(*graph);
    if (!bucket || bucket->prefill) continue;
    for (const std::unique_ptr<ir::Op>& op : graph->ops()) {
      if (op->attrs().getString("kernel") != std::optional<std::string>("dp4a")) continue;
      const std::optional<int64_t> chunk = op->attrs().getInt("row_chunk");
      if (!chunk) continue;
      const bool gateUp = op->name() == passes::fused_ops::kMatmulGateUp;
      const std::vector<int64_t>* recorded = op->attrs().getInts("stacks");
      const std::vector<int64_t> stacks = gateUp || !recorded ? std::vector<int64_t>{1} : *recorded;
      unsigned first = 1;
      for (int64_t count : stacks) {
        std::vector<passes::StackWeight> run;
        GemvCase c;
        for (unsigned i = first; i < first + static_cast<unsigned>(count); ++i) {
          run.push_back({ir::toQType(op->operand(i)->type().elem), op->operand(i)->type().shape[0]});
          c.key.n += run.back().rows;
          if (count > 1) c.stackRows.push_back(run.back().rows);
        }
        c.key.kernel = passes::gemvLaunchKernel(run, gateUp);
        c.key.k = op->operand(0)->type().shape[1];
        c.key.m = *chunk;
        first += static_cast<unsigned>(count);
        if (std::none_of(cases.begin(), cases.end(), [&](const GemvCase& o) { return o.key == c.key; }))
          cases.push_back(std::move(c));
      }
    }
  }
  return cases;
}

gpu::TimedKernel gemvLaunch(const GemvCase& c, int rowSets) {
  gpu::TimedKernel t;
  t.id = c.key.kernel;
  t.ints = {{"n", c.key.n}, {"k", c.key.k}, {"m", c.key.m}, {"row_sets", rowSets}};
  for (size_t i = 0; i < c.stackRows.size(); ++i) t.ints.emplace_back(fmt::format("rows_{}", i), c.stackRows[i]);
  return t;
}

/// The decode attention shapes of every decode bucket (rows = the bucket's M).
std::vector<passes::AttentionKey> attentionShapes(const ir::Module& module) {
  std::vector<passes::AttentionKey> shapes;
  for (const std::unique_ptr<ir::Graph>& graph : module.graphs) {
    const std::optional<passes::BucketShape> bucket = passes::bucketShape(*graph);
    if (!bucket || bucket->prefill) continue;
    for (const std::unique_ptr<ir::Op>& op : graph->ops()) {
      if (op->name() != "attention") continue;
      passes::AttentionKey key;
      key.rows = bucket->m;
      key.heads = op->attrs().getInt("n_heads").value_or(0);
      key.kvHeads = op->attrs().getInt("n_kv_heads").value_or(0);
      key.headDim = op->attrs().getInt("head_dim").value_or(0);
      if (std::find(shapes.begin(), shapes.end(), key) == shapes.end()) shapes.push_back(key);
    }
  }
  return shapes;
}

/// Decode attention at `key`'s context with `splits` splits (the reduction after for > 1).
std::vector<gpu::TimedKernel> attentionChain(const passes::AttentionKey& key, int64_t splits) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(key.headDim));
  gpu::TimedKernel attend;
  attend.id = splits > 1 ? "attn_decode_split" : "attn_decode";
  attend.ints = {
      {"m", key.rows},          {"n_heads", key.heads}, {"n_kv_heads", key.kvHeads},          {"head_dim", key.headDim},
      {"max_ctx", key.context}, {"window", 0},          {"q_stride", key.heads * key.headDim}};
  if (splits > 1) attend.ints.emplace_back("splits", splits);
  attend.floats = {scale};
  attend.kvLength = key.context;
  if (splits == 1) return {attend};
  gpu::TimedKernel reduce;
  reduce.id = "attn_decode_reduce";
  reduce.ints = {{"m", key.rows}, {"n_heads", key.heads}, {"head_dim", key.headDim}, {"splits", splits}};
  return {attend, reduce};
}

/// "256,512,1024": KV lengths, each read strictly by parseIntIn.
std::vector<int64_t> parseContexts(const std::string& text) {
  return parseIntList(text, {1, 1 << 20}, "reel tune: --contexts " + text + ":");
}

/// "256,512" -> sizes, or none for "none".
std::vector<int64_t> parseSizes(const std::string& text, const std::string& flag) {
  if (text == "none") return {};
  return parseIntList(text, {1, int64_t{1} << 16}, "reel tune: " + flag + " " + text + ":");
}

/// What the matmul measurement covers and how long it may take.
struct MatmulTuning {
  std::vector<ir::MatmulKernel> families;
  std::vector<int64_t> rows;           ///< the M of every measurement
  std::vector<int64_t> prefillChunks;  ///< the candidates of [measured] prefill_tokens
  double seconds = 150;                ///< measuring stops past this
  bool fp8 = false;                    ///< the GPU has FP8 tensor cores and the profile uses them
};

/// Times each segment of a family's plan once (a segment repeats across M, e.g. a GEMV row chunk).
class MatmulTimer {
 public:
  explicit MatmulTimer(const gpu::KernelTimerOptions& options) : timer_(options) {}

  double time(const FamilyPlan& plan) {
    double us = 0;
    for (const TimedSegment& segment : plan.segments) us += static_cast<double>(segment.repeat) * timeSegment(segment);
    return us;
  }

 private:
  double timeSegment(const TimedSegment& segment) {
    std::string key;
    std::vector<gpu::TimedKernel> chain;
    for (const KernelCall& call : segment.calls) {
      gpu::TimedKernel kernel;
      kernel.id = call.id;
      kernel.ints = call.ints;
      key += call.id;
      for (const auto& [name, value] : call.ints) key += fmt::format(" {}={}", name, value);
      key += ";";
      chain.push_back(std::move(kernel));
    }
    const auto found = cache_.find(key);
    if (found != cache_.end()) return found->second;
    const double us = timer_.time(chain);
    cache_.emplace(key, us);
    return us;
  }

  gpu::KernelTimer timer_;
  std::map<std::string, double> cache_;
};

/// The M of every decode bucket and of the prefill graph.
std::vector<int64_t> moduleRows(const ir::Module& module) {
  std::vector<int64_t> rows;
  for (const std::unique_ptr<ir::Graph>& graph : module.graphs)
    if (const std::optional<passes::BucketShape> bucket = passes::bucketShape(*graph)) rows.push_back(bucket->m);
  return rows;
}

/// Each weight shape by each family at each M into measured.matmul, within tuning.seconds; then
/// the prefill chunk from them.
void measureMatmuls(const ir::Module& module, const MatmulTuning& tuning, const gpu::KernelTimerOptions& options,
                    passes::Measurements& measured) {
  const std::vector<MatmulWeight> weights = matmulWeights(module);
  std::vector<int64_t> rows = tuning.rows;
  rows.insert(rows.end(), tuning.prefillChunks.begin(), tuning.prefillChunks.end());
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  MatmulTimer timer(options);
  const auto start = std::chrono::steady_clock::now();
  size_t leftOut = 0;
  const auto shapeOf = [](const MatmulWeight& weight) {
    return fmt::format("{} {}x{}", ir::elemTypeName(weight.type).str(), weight.n, weight.k);
  };
  for (const MatmulWeight& weight : weights)
    for (ir::MatmulKernel family : tuning.families)
      if (const FamilyPlan probe = familyPlan(family, weight, 1, measured, tuning.fp8); !probe.why.empty())
        std::fprintf(stderr, "  matmul %-22s %s: skipped (%s)\n", shapeOf(weight).c_str(), ir::matmulKernelName(family),
                     probe.why.c_str());
  // Smallest M first: a run cut short by --matmul-seconds still covers the decode buckets.
  for (int64_t m : rows) {
    for (const MatmulWeight& weight : weights) {
      std::string line;
      for (ir::MatmulKernel family : tuning.families) {
        const FamilyPlan plan = familyPlan(family, weight, m, measured, tuning.fp8);
        if (!plan.why.empty()) continue;
        const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
        if (elapsed.count() > tuning.seconds) {
          ++leftOut;
          continue;
        }
        try {
          const double us = timer.time(plan);
          measured.matmul.push_back({{family, weight.type, weight.n, weight.k, m}, us});
          line += fmt::format(" {} {:.1f}", ir::matmulKernelName(family), us);
        } catch (const Error& error) {
          line += fmt::format(" {} failed", ir::matmulKernelName(family));
          std::fprintf(stderr, "  matmul %s m=%lld %s skipped: %s\n", shapeOf(weight).c_str(),
                       static_cast<long long>(m), ir::matmulKernelName(family), error.what());
        }
      }
      if (!line.empty())
        std::fprintf(stderr, "  matmul %-22s m=%-5lld:%s us\n", shapeOf(weight).c_str(), static_cast<long long>(m),
                     line.c_str());
    }
  }
  if (leftOut > 0)
    std::fprintf(stderr, "reel tune: %zu matmul measurements left out past --matmul-seconds %.0f\n", leftOut,
                 tuning.seconds);
  std::string table;
  measured.prefillTokens = choosePrefillTokens(weights, measured, tuning.prefillChunks, &table);
  std::fputs(table.c_str(), stderr);
  if (measured.prefillTokens > 0)
    std::fprintf(stderr, "  prefill_tokens = %lld (the smallest chunk within 5%% of the fewest us per token)\n",
                 static_cast<long long>(measured.prefillTokens));
}

}  // namespace

int runTune(int argc, char** argv) {
  Args args("reel tune",
            "Measure on the GPU present the kernel times the decision passes decide by, and write the GPU profile\n"
            "with them as its [measured] table: every DP4A GEMV launch of the model's decode buckets at one and\n"
            "two row sets per lane, and decode attention per bucket at each --contexts length with 1, 2, 4, ...\n"
            "--max-splits splits; and every matmul weight shape of the model by each kernel family select-precision\n"
            "can choose (dp4a, mma, fp8, hgemm, dequant-hgemm, mma-f16; the activation conversion included) at each "
            "bucket's M,\n"
            "the prefill M and each --prefill-chunks size, from which it picks the prefill chunk (prefill_tokens:\n"
            "the smallest within 5% of the fewest matmul us per token). A family without a kernel for a weight\n"
            "type is skipped, and said so. Compiling with --gpu-profile FILE then decides by the measurements where\n"
            "they cover a decision (--explain says 'measured'), and by the cost model elsewhere.");
  args.positional("MODEL", "a model .toml, a Hugging Face config.json, a .gguf, or a bundled name (reel models)");
  args.option("--quant", "SCHEME", "weight quantization: q4_k_m (default), q4_k, q8_0, f16");
  args.option("--contexts", "LIST", "KV lengths attention is measured at (default 256,512,1024,2048,4096)");
  args.option("--max-splits", "N", "most flash-decoding splits measured (default 32)");
  args.option(
      "--families", "LIST",
      "matmul kernel families measured (default dp4a,mma,fp8,hgemm,dequant-hgemm,mma-f16; 'none' for no matmuls); "
      "a matmul is decided by measurement only where every family it may take is measured");
  args.option("--matmul-m", "LIST", "M the matmuls are measured at (default: every bucket's, prefill included)");
  args.option("--prefill-chunks", "LIST",
              "prefill chunk sizes compared for prefill_tokens, measured too (default 64,128,256,512; or none)");
  args.option("--matmul-seconds", "S", "stop measuring matmuls after S seconds (default 150)");
  args.option("--output", "FILE", "write the profile to FILE instead of stdout", "-o");
  declarePassFlags(args);
  if (!args.parse(argc, argv, 2)) return 0;

  const models::QuantScheme scheme = quantSchemeFlag(args);
  const std::vector<int64_t> contexts = parseContexts(args.getOr("--contexts", "256,512,1024,2048,4096"));
  const int64_t maxSplits = args.getInt("--max-splits", 32, {1, 256});
  MatmulTuning tuning;
  const std::string families = args.getOr("--families", "dp4a,mma,fp8,hgemm,dequant-hgemm,mma-f16");
  if (families != "none") tuning.families = parseFamilies(families, "reel tune: --families");
  tuning.prefillChunks = parseSizes(args.getOr("--prefill-chunks", "64,128,256,512"), "--prefill-chunks");
  tuning.seconds = static_cast<double>(args.getInt("--matmul-seconds", 150, {1, 3600}));
  models::ModelConfig config = models::loadModelConfig(*args.get("MODEL"));
  CompileDefaults defaults;
  defaults.lower = false;
  std::optional<codegen::CompileResult> compiled =
      compileWithFlags(args, models::buildModule(config, {scheme}), defaults);
  if (!compiled) return 1;

  int device = 0;
  cudaDeviceProp prop{};
  gpu::checkCuda(cudaGetDevice(&device), "reel tune: finding a GPU");
  gpu::checkCuda(cudaGetDeviceProperties(&prop, device), "reel tune: reading the GPU's properties");
  passes::GpuProfile profile = compiled->context.profile;
  passes::Measurements& measured = profile.measured;
  measured = {};
  measured.gpu = prop.name;
  gpu::KernelTimerOptions options;
  options.l2Bytes = prop.l2CacheSize;
  tuning.rows =
      args.has("--matmul-m") ? parseSizes(*args.get("--matmul-m"), "--matmul-m") : moduleRows(*compiled->module);
  tuning.fp8 = profile.fp8 && prop.major * 10 + prop.minor >= 89;

  std::fprintf(stderr, "reel tune: %s on %s\n", config.name.c_str(), prop.name);
  for (const GemvCase& c : gemvCases(*compiled->module)) {
    passes::GemvMeasurement g;
    g.key = c.key;
    for (int rowSets = 1; rowSets <= 2; ++rowSets)
      if (kernels::gemvRowSetsSupported(rowSets))
        g.usByRowSets.push_back(gpu::timeKernelChain({gemvLaunch(c, rowSets)}, options));
    std::fprintf(stderr, "  %-30s n=%-6lld k=%-6lld m=%lld: %s us by row sets\n", c.key.kernel.c_str(),
                 static_cast<long long>(c.key.n), static_cast<long long>(c.key.k), static_cast<long long>(c.key.m),
                 fmt::format("{:.2f}", fmt::join(g.usByRowSets, ", ")).c_str());
    measured.gemv.push_back(std::move(g));
  }
  const int64_t modelContext = codegen::moduleContext(*compiled->module);
  for (passes::AttentionKey key : attentionShapes(*compiled->module)) {
    for (int64_t context : contexts) {
      key.context = context;
      if (context > modelContext) continue;
      int64_t mostSplits = 1;  // the largest power of two the loop below times
      while (mostSplits * 2 <= std::min(maxSplits, context)) mostSplits *= 2;
      // Contexts whose caches (and, split most, partial sums) pass the timer's buffer limit are
      // left out: the cost model covers them.
      if (gpu::chainBufferBytes(attentionChain(key, 1)) > gpu::kMaxTimedPassBytes ||
          gpu::chainBufferBytes(attentionChain(key, mostSplits)) > gpu::kMaxTimedPassBytes)
        continue;
      passes::AttentionMeasurement a;
      a.key = key;
      for (int64_t splits = 1; splits <= mostSplits; splits *= 2)
        a.usBySplits.push_back(gpu::timeKernelChain(attentionChain(key, splits), options));
      std::fprintf(stderr, "  attention M=%-3lld %lld heads, %lld kv x %lld, ctx %-5lld: %s us by splits 1, 2, 4..\n",
                   static_cast<long long>(key.rows), static_cast<long long>(key.heads),
                   static_cast<long long>(key.kvHeads), static_cast<long long>(key.headDim),
                   static_cast<long long>(context), fmt::format("{:.1f}", fmt::join(a.usBySplits, ", ")).c_str());
      measured.attention.push_back(std::move(a));
    }
  }
  if (!tuning.families.empty()) measureMatmuls(*compiled->module, tuning, options, measured);
  writeOutput(args.getOr("--output", ""), fmt::format("# {} with kernel times measured by `reel tune {}` on {}.\n",
                                                      profile.name, *args.get("MODEL"), prop.name) +
                                              passes::formatGpuProfile(profile));
  return 0;
}

#else

int runTune(int argc, char** argv) {
  Args args("reel tune", "Measure kernel times on the GPU for the decision passes (needs a CUDA build).");
  args.positional("MODEL", "a model");
  if (!args.parse(argc, argv, 2)) return 0;
  failPlain("reel tune: this reel was built without CUDA (configure with -DREEL_WITH_CUDA=ON)");
}

#endif

}  // namespace reel::tools
