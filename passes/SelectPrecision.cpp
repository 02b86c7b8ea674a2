/// select-precision: the kernel family of each matmul in each bucket graph, set as
/// `kernel = "dp4a" | "fp8" | "hgemm" | "mma" | "dequant-hgemm" | "mma-f16"`.
///
/// The rules (docs/design.md, "Decision rules"), with thresholds from the GPU profile, each an
/// option:
///   1. prefill, or M >= hgemm-min-m (profile: 64)         -> hgemm (cuBLAS, FP16 copy)
///   2. the profile has FP8 and M >= fp8-min-m (profile: 17 on h100/h200, 5 elsewhere) -> fp8 (cuBLASLt, FP8 copy)
///   3. the weight has a quantized kernel (q4_0, q5_0, q5_1, q8_0, q4_k, q5_k, q6_k) and the GPU has DP4A
///                                                          -> dp4a (own qtype, Q8_1 activations)
///   4. otherwise                                           -> hgemm
/// Then the cheapest of the copy-free kernels on a block-quantized weight replaces the rules'
/// pick where the cost model says it is faster, decode buckets and prefill alike:
///   - mma (the tensor-core kernel `mmq_<qtype>` reading the weight as stored, one launch over
///     all M rows) where the option `mma` allows it (default: the profile's mma feature, on
///     sm_80 and later) and M >= mma-min-m (default 9: below it the DP4A GEMV reads the weight
///     once for all rows while the mma tiles waste most of their rows);
///   - dequant-hgemm (`dequant_f16_<qtype>` writing the weight as f16 rows into a workspace,
///     then cuBLAS HGEMM on them) where the option `dequant-hgemm` allows it (the default), at
///     any M: it pays a pass over the
///     weight and its f16 rows, so it wins where the HGEMM's tensor-core rate matters (prefill
///     chunks), and loses to the GEMV at small M;
///   - mma-f16 (`mma_f16_<qtype>`: f16 activations, the weight dequantized to f16 in registers,
///     f16 tensor cores; Q4_K) where the option `mma-f16` allows it (default off: measured on an
///     H100 it beats mma only for some shapes and M) and M >= mma-min-m.
///
/// Measured: where the GPU profile's [[measured.matmul]] table (`reel tune`) holds a time for
/// every kernel family the matmul may take (its weight's qtype, n, k and the bucket's M), the
/// fastest measured family is taken instead of the rules and the cost model (within the
/// options: fp8, dp4a, mma, dequant-hgemm, mma-min-m), and --explain quotes the measured times;
/// where one family is not measured the rules and the cost model decide as above.
///
/// Memory: FP8 and FP16 copies are made at load time and cost memory on top of the
/// quantized weights; a copy is counted once per weight, however many buckets use it.
/// When the total exceeds the budget, the copies with the least cost-model benefit per byte
/// are dropped first and their uses fall back to the best kernel that reads the weight as
/// stored (dp4a, mma or dequant-hgemm). The budget is context.memoryBudget (`--memory-budget`)
/// where given; else 1.1 x the stored weight bytes (copies may add at most a tenth: the
/// copy-free kernels make most unnecessary, and the rest of the GPU's memory is the KV
/// cache's), capped by the profile's memory. The total and its breakdown go to
/// context.report["weight bytes on GPU"].

#include "passes/CostModel.h"
#include "passes/DecisionPasses.h"
#include "passes/DecisionSupport.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <tuple>

namespace reel::passes {
namespace {

constexpr const char* kPassName = "select-precision";
/// The default memory budget of the weights, as a multiple of the stored weight bytes.
constexpr double kDefaultBudgetOfStored = 1.1;
constexpr std::array<MatmulKernel, 6> kAllKernels{MatmulKernel::Dp4a, MatmulKernel::Fp8,          MatmulKernel::Hgemm,
                                                  MatmulKernel::Mma,  MatmulKernel::DequantHgemm, MatmulKernel::MmaF16};
/// The kernels that read a block-quantized weight as stored, over many rows.
constexpr std::array<MatmulKernel, 3> kCopyFreeKernels{MatmulKernel::Mma, MatmulKernel::DequantHgemm,
                                                       MatmulKernel::MmaF16};

/// The thresholds and features the rules read (options over the profile).
struct PrecisionRules {
  int64_t fp8MinM = 5;
  int64_t hgemmMinM = 64;
  int64_t mmaMinM = 9;
  bool fp8 = false;
  bool dp4a = true;
  bool mma = true;
  bool dequantHgemm = true;
  bool mmaF16 = false;
};

/// What every matmul of one shape in one bucket graph has in common: the estimates and
/// the rules' verdict (a Llama layer has a handful of shapes, repeated on every layer).
struct MatmulClass {
  BucketShape bucket;
  MatmulShape shape;
  std::array<std::optional<Estimate>, kAllKernels.size()> costs;  ///< by MatmulKernel; set for the kernels this GPU has
  MatmulKernel ruleKernel = MatmulKernel::Dp4a;
  MatmulKernel chosen = MatmulKernel::Dp4a;  ///< the rules' pick, or a copy-free kernel where it beats it
  std::string ruleText;
  bool measured = false;  ///< every family in `costs` is a measurement of the profile's

  [[nodiscard]] double cost(MatmulKernel kernel) const {
    const std::optional<Estimate>& estimate = costs[static_cast<size_t>(kernel)];
    return estimate ? estimate->us : std::numeric_limits<double>::infinity();
  }
  [[nodiscard]] ir::TensorType weightType() const { return ir::TensorType(shape.weightType, {shape.n, shape.k}); }
};

/// One matmul op of one bucket graph and what was decided for it.
struct MatmulUse {
  ir::Op* op = nullptr;
  size_t graphIndex = 0;
  const MatmulClass* kind = nullptr;
  std::string weightName;
  MatmulKernel chosen = MatmulKernel::Dp4a;
  std::string note;  ///< e.g. the memory-budget downgrade
};

/// A derived weight copy (FP8 or FP16) and the uses that need it.
struct DerivedCopy {
  std::string weightName;
  MatmulKernel kernel = MatmulKernel::Fp8;
  int64_t bytes = 0;
  std::vector<MatmulUse*> uses;
  double benefitUs = 0;  ///< summed over uses: best copy-free kernel's time minus the chosen one's
};

bool available(const MatmulClass& kind, MatmulKernel kernel, const PrecisionRules& rules) {
  bool quantized = hasQuantizedKernel(kind.shape.weightType);
  switch (kernel) {
    case MatmulKernel::Dp4a:
      return quantized && rules.dp4a;
    case MatmulKernel::Fp8:
      return rules.fp8;
    case MatmulKernel::Hgemm:
      return true;
    case MatmulKernel::Mma:
      return hasMmaKernel(kind.shape.weightType) && rules.mma;
    case MatmulKernel::DequantHgemm:
      return quantized && rules.dequantHgemm;
    case MatmulKernel::MmaF16:
      return hasMmaF16Kernel(kind.shape.weightType) && rules.mmaF16;
  }
  return false;
}

/// Whether copy-free `kernel` (mma, mma-f16, dequant-hgemm) may replace the rules' pick, or serve
/// as the fallback of a dropped copy: the tensor-core kernels from mma-min-m on, dequant-hgemm
/// at any M.
bool copyFreeCandidate(const MatmulClass& kind, MatmulKernel kernel, const PrecisionRules& rules) {
  if (kernel == MatmulKernel::Mma || kernel == MatmulKernel::MmaF16)
    return available(kind, kernel, rules) && kind.bucket.m >= rules.mmaMinM;
  return kernel == MatmulKernel::DequantHgemm && available(kind, kernel, rules);
}

/// Whether `kernel` may be chosen for `kind` on the measurements: the tensor-core kernels on
/// quantized weights from mma-min-m on, every other family the GPU and the options allow.
bool measuredCandidate(const MatmulClass& kind, MatmulKernel kernel, const PrecisionRules& rules) {
  if (kernel == MatmulKernel::Mma || kernel == MatmulKernel::MmaF16) return copyFreeCandidate(kind, kernel, rules);
  return kind.costs[static_cast<size_t>(kernel)].has_value();
}

/// The fastest measured candidate (hgemm, always available, where none is).
void chooseMeasured(MatmulClass& kind, const PrecisionRules& rules) {
  std::optional<MatmulKernel> best;
  for (MatmulKernel kernel : kAllKernels)
    if (measuredCandidate(kind, kernel, rules) && (!best || kind.cost(kernel) < kind.cost(*best))) best = kernel;
  kind.ruleKernel = kind.chosen = best.value_or(MatmulKernel::Hgemm);
  kind.ruleText = "the fastest measured";
  if (kind.costs[static_cast<size_t>(MatmulKernel::Mma)] && !measuredCandidate(kind, MatmulKernel::Mma, rules))
    kind.ruleText += fmt::format(" with mma from mma-min-m={} on", rules.mmaMinM);
}

void applyRules(MatmulClass& kind, const PrecisionRules& rules) {
  if (kind.measured) return chooseMeasured(kind, rules);
  int64_t m = kind.bucket.m;
  if (kind.bucket.prefill) {
    kind.ruleKernel = MatmulKernel::Hgemm;
    kind.ruleText = "prefill";
  } else if (m >= rules.hgemmMinM) {
    kind.ruleKernel = MatmulKernel::Hgemm;
    kind.ruleText = fmt::format("M={} >= hgemm-min-m={}", m, rules.hgemmMinM);
  } else if (rules.fp8 && m >= rules.fp8MinM) {
    kind.ruleKernel = MatmulKernel::Fp8;
    kind.ruleText = fmt::format("M={} >= fp8-min-m={}", m, rules.fp8MinM);
  } else if (available(kind, MatmulKernel::Dp4a, rules)) {
    kind.ruleKernel = MatmulKernel::Dp4a;
    kind.ruleText =
        rules.fp8 ? fmt::format("M={} < fp8-min-m={}", m, rules.fp8MinM) : std::string("no fp8 on this GPU");
  } else {
    kind.ruleKernel = MatmulKernel::Hgemm;
    kind.ruleText = fmt::format("no dp4a kernel for {}", ir::elemTypeName(kind.shape.weightType).str());
  }
  kind.chosen = kind.ruleKernel;
  for (MatmulKernel kernel : kCopyFreeKernels)
    if (copyFreeCandidate(kind, kernel, rules) && kind.cost(kernel) < kind.cost(kind.chosen)) kind.chosen = kernel;
  if (kind.chosen == MatmulKernel::Mma || kind.chosen == MatmulKernel::MmaF16)
    kind.ruleText += fmt::format("; {} beats {} (M={} >= mma-min-m={})", matmulKernelName(kind.chosen),
                                 matmulKernelName(kind.ruleKernel), m, rules.mmaMinM);
  else if (kind.chosen == MatmulKernel::DequantHgemm)
    kind.ruleText += fmt::format("; dequant-hgemm beats {} (no held copy)", matmulKernelName(kind.ruleKernel));
}

/// The best kernel that reads the weight as stored, or nullopt if none applies.
std::optional<MatmulKernel> copyFreeFallback(const MatmulClass& kind, const PrecisionRules& rules) {
  std::optional<MatmulKernel> best;
  for (MatmulKernel kernel : kAllKernels) {
    if (derivedWeightBytes(kernel, kind.weightType()) != 0 || !kind.costs[static_cast<size_t>(kernel)]) continue;
    // Under memory pressure mma, mma-f16 and dequant-hgemm are the copy-free kernels for many
    // rows, prefill included.
    if ((kernel == MatmulKernel::Mma || kernel == MatmulKernel::MmaF16) && !copyFreeCandidate(kind, kernel, rules))
      continue;
    if (!best || kind.cost(kernel) < kind.cost(*best)) best = kernel;
  }
  return best;
}

/// The cost model's estimate of every family the GPU and the options allow; the profile's
/// measurements instead where it measured every one of them (kind.measured).
void estimate(MatmulClass& kind, const CostModel& model, const PrecisionRules& rules) {
  std::array<std::optional<double>, kAllKernels.size()> measuredUs;
  bool covered = true;
  for (MatmulKernel kernel : kAllKernels) {
    if (!available(kind, kernel, rules)) continue;
    const auto index = static_cast<size_t>(kernel);
    kind.costs[index] = model.matmulWithPrep(kind.shape, kernel);
    measuredUs[index] =
        model.profile().measured.matmulUs({kernel, kind.shape.weightType, kind.shape.n, kind.shape.k, kind.bucket.m});
    covered = covered && measuredUs[index];
  }
  if (!covered) return;
  kind.measured = true;
  for (size_t i = 0; i < kAllKernels.size(); ++i) {
    if (!kind.costs[i]) continue;
    Estimate measured = *kind.costs[i];
    measured.us = *measuredUs[i];
    measured.measured = true;
    kind.costs[i] = measured;
  }
}

/// "mma 41.2us (measured) < dp4a 55.0us (measured) < ...": every family fastest first.
std::string measuredFigures(const MatmulClass& kind) {
  std::vector<MatmulKernel> kernels;
  for (MatmulKernel kernel : kAllKernels)
    if (kind.costs[static_cast<size_t>(kernel)]) kernels.push_back(kernel);
  std::stable_sort(kernels.begin(), kernels.end(),
                   [&](MatmulKernel a, MatmulKernel b) { return kind.cost(a) < kind.cost(b); });
  std::string figures;
  for (size_t i = 0; i < kernels.size(); ++i) {
    if (i > 0) figures += kind.cost(kernels[i - 1]) < kind.cost(kernels[i]) ? " < " : " = ";
    figures += fmt::format("{} {} (measured)", matmulKernelName(kernels[i]), formatUs(kind.cost(kernels[i])));
  }
  return figures;
}

/// "dp4a 41.2us vs fp8 57.9us vs ... (M=4, 14336x4096 q4_k; M=4 < fp8-min-m=5)", with a
/// note where the cost model prefers another kernel than the one taken; where measured,
/// "mma 41.2us (measured) < ... (M=32, 4096x11008 q4_k; the fastest measured)".
std::string reasonFor(const MatmulClass& kind, MatmulKernel chosen, const std::string& note) {
  std::string figures = fmt::format("{} {}", matmulKernelName(chosen), formatUs(kind.cost(chosen)));
  MatmulKernel cheapest = chosen;
  for (MatmulKernel kernel : kAllKernels) {
    if (kernel == chosen || !kind.costs[static_cast<size_t>(kernel)]) continue;
    figures += fmt::format(" vs {} {}", matmulKernelName(kernel), formatUs(kind.cost(kernel)));
    if (kind.cost(kernel) < kind.cost(cheapest)) cheapest = kernel;
  }
  if (kind.measured) figures = measuredFigures(kind);
  std::string reason = fmt::format("{} ({}, {}x{} {}; {})", figures, describeBucket(kind.bucket), kind.shape.n,
                                   kind.shape.k, ir::elemTypeName(kind.shape.weightType).str(), kind.ruleText);
  if (cheapest != chosen)
    reason +=
        fmt::format("; the {} prefers {}", kind.measured ? "measurement" : "cost model", matmulKernelName(cheapest));
  if (!note.empty()) reason += "; " + note;
  return reason;
}

/// The matmul classes of the module, found once per (graph, weight shape, qtype).
class MatmulClasses {
 public:
  MatmulClass& classFor(size_t graphIndex, const BucketShape& bucket, const ir::TensorType& weight) {
    Key key{graphIndex, weight.shape[0], weight.shape[1], static_cast<int>(weight.elem)};
    auto [it, inserted] = index_.try_emplace(key, nullptr);
    if (inserted) {
      classes_.push_back(std::make_unique<MatmulClass>());
      it->second = classes_.back().get();
      it->second->bucket = bucket;
      it->second->shape = {bucket.m, weight.shape[0], weight.shape[1], weight.elem};
    }
    return *it->second;
  }
  [[nodiscard]] const std::vector<std::unique_ptr<MatmulClass>>& all() const { return classes_; }

 private:
  using Key = std::tuple<size_t, int64_t, int64_t, int>;
  std::map<Key, MatmulClass*> index_;
  std::vector<std::unique_ptr<MatmulClass>> classes_;
};

/// The weights on the GPU: the stored ones (each once by name) and the derived copies.
class WeightMemory {
 public:
  void addStored(const ir::Op& weightOp) {
    std::string name = weightOp.attrs().getString("name").value_or(weightOp.result()->name());
    if (!storedNames_.insert(name).second) return;
    storedBytes_ += weightOp.result()->type().numBytes(0, 0).value_or(0);
  }

  void addUse(MatmulUse& use) {
    int64_t bytes = derivedWeightBytes(use.chosen, use.kind->weightType());
    if (bytes == 0) return;
    auto [it, inserted] = copyIndex_.try_emplace({use.weightName, use.chosen}, copies_.size());
    if (inserted) copies_.push_back({use.weightName, use.chosen, bytes, {}, 0});
    copies_[it->second].uses.push_back(&use);
  }

  [[nodiscard]] int64_t storedBytes() const { return storedBytes_; }
  [[nodiscard]] int64_t derivedBytes(MatmulKernel kernel) const {
    int64_t total = 0;
    for (const DerivedCopy& copy : copies_)
      if (copy.kernel == kernel && !copy.uses.empty()) total += copy.bytes;
    return total;
  }
  [[nodiscard]] int64_t totalBytes() const {
    return storedBytes_ + derivedBytes(MatmulKernel::Fp8) + derivedBytes(MatmulKernel::Hgemm);
  }
  std::vector<DerivedCopy>& copies() { return copies_; }

 private:
  std::set<std::string> storedNames_;
  int64_t storedBytes_ = 0;
  std::vector<DerivedCopy> copies_;
  std::map<std::pair<std::string, MatmulKernel>, size_t> copyIndex_;
};

/// Sums, for each copy, what its uses would lose by falling back; returns the copies that
/// can be dropped (every use has a copy-free kernel).
std::vector<DerivedCopy*> droppableCopies(WeightMemory& memory, const PrecisionRules& rules) {
  std::vector<DerivedCopy*> droppable;
  for (DerivedCopy& copy : memory.copies()) {
    bool canDrop = true;
    for (const MatmulUse* use : copy.uses) {
      std::optional<MatmulKernel> fallback = copyFreeFallback(*use->kind, rules);
      if (!fallback)
        canDrop = false;
      else
        copy.benefitUs += use->kind->cost(*fallback) - use->kind->cost(use->chosen);
    }
    if (canDrop) droppable.push_back(&copy);
  }
  std::stable_sort(droppable.begin(), droppable.end(), [](const DerivedCopy* a, const DerivedCopy* b) {
    return a->benefitUs / static_cast<double>(a->bytes) < b->benefitUs / static_cast<double>(b->bytes);
  });
  return droppable;
}

/// Chooses the copies to drop: least benefit per byte first until the weights fit
/// `budget`, then, most beneficial first, takes back any dropped copy that still fits.
std::vector<DerivedCopy*> copiesToDrop(WeightMemory& memory, int64_t budget, const PrecisionRules& rules) {
  std::vector<DerivedCopy*> dropped;
  int64_t total = memory.totalBytes();
  for (DerivedCopy* copy : droppableCopies(memory, rules)) {
    if (total <= budget) break;
    dropped.push_back(copy);
    total -= copy->bytes;
  }
  std::vector<DerivedCopy*> kept;
  for (auto it = dropped.rbegin(); it != dropped.rend(); ++it) {
    if (total + (*it)->bytes > budget) continue;
    total += (*it)->bytes;
    kept.push_back(*it);
  }
  std::erase_if(dropped, [&](DerivedCopy* copy) { return std::find(kept.begin(), kept.end(), copy) != kept.end(); });
  return dropped;
}

/// Drops derived copies until the weights fit `budget`; their uses fall back to the best
/// kernel that reads the stored weight.
void fitBudget(WeightMemory& memory, int64_t budget, const PrecisionRules& rules, PassContext& context) {
  for (DerivedCopy* copy : copiesToDrop(memory, budget, rules)) {
    std::string over = formatBytes(static_cast<double>(memory.totalBytes() - budget));
    for (MatmulUse* use : copy->uses) {
      use->note = fmt::format("{} copy dropped for the memory budget", matmulKernelName(use->chosen));
      use->chosen = *copyFreeFallback(*use->kind, rules);
    }
    double megabytes = static_cast<double>(copy->bytes) / 1e6;
    context.decide(
        {kPassName, "(module)", copy->weightName, fmt::format("drop {} copy", matmulKernelName(copy->kernel)),
         fmt::format("benefit {} per step over {} use{} for {} ({}/MB; {} over budget)", formatUs(copy->benefitUs),
                     copy->uses.size(), copy->uses.size() == 1 ? "" : "s",
                     formatBytes(static_cast<double>(copy->bytes)), formatUs(copy->benefitUs / megabytes), over)});
    copy->uses.clear();
  }
}

void reportWeightBytes(const WeightMemory& memory, std::optional<int64_t> budget, PassContext& context) {
  std::string budgetText = budget ? formatBytes(static_cast<double>(*budget)) : std::string("none");
  context.report["weight bytes on GPU"] =
      fmt::format("{} ({} B) = stored {} + fp8 copies {} + f16 copies {}; budget {}",
                  formatBytes(static_cast<double>(memory.totalBytes())), memory.totalBytes(),
                  formatBytes(static_cast<double>(memory.storedBytes())),
                  formatBytes(static_cast<double>(memory.derivedBytes(MatmulKernel::Fp8))),
                  formatBytes(static_cast<double>(memory.derivedBytes(MatmulKernel::Hgemm))), budgetText);
}

/// The matmuls select-precision decides: f32 activations times a static 2-D weight.
bool decidable(const ir::Op& op) {
  if (op.name() != "matmul" || op.operand(0)->type().elem != ir::ElemType::F32) return false;
  const ir::TensorType& weight = op.operand(1)->type();
  return weight.rank() == 2 && weight.isStatic();
}

class SelectPrecisionPass : public Pass {
 public:
  bool runOnModule(ir::Module& module, PassContext& context) override {
    PrecisionRules rules = readRules(context.profile);
    CostModel model(context.profile);
    WeightMemory memory;
    MatmulClasses classes;
    std::vector<MatmulUse> uses = collectUses(module, classes, memory);
    for (const std::unique_ptr<MatmulClass>& kind : classes.all()) {
      estimate(*kind, model, rules);
      applyRules(*kind, rules);
    }
    for (MatmulUse& use : uses) {
      use.chosen = use.kind->chosen;
      memory.addUse(use);
    }
    std::optional<int64_t> budget = memoryBudget(context, memory.storedBytes());
    if (budget && memory.storedBytes() > *budget)
      failPlain("{}: the stored weights alone need {}, over the memory budget of {}{}", kPassName,
                formatBytes(static_cast<double>(memory.storedBytes())), formatBytes(static_cast<double>(*budget)),
                context.memoryBudget ? "" : fmt::format(" (the {} profile's memory)", context.profile.name));
    if (budget && memory.totalBytes() > *budget) fitBudget(memory, *budget, rules, context);
    reportWeightBytes(memory, budget, context);
    return applyAndExplain(module, uses, context);
  }

 private:
  [[nodiscard]] PrecisionRules readRules(const GpuProfile& profile) const {
    PrecisionRules rules;
    rules.fp8MinM = intOption(options(), "fp8-min-m", profile.fp8MinM);
    rules.hgemmMinM = intOption(options(), "hgemm-min-m", profile.hgemmMinM);
    rules.mmaMinM = options().getInt("mma-min-m");
    rules.fp8 = boolOption(options(), "fp8", profile.fp8);
    rules.dp4a = boolOption(options(), "dp4a", profile.dp4a);
    // The option does not override a profile without the feature.
    rules.mma = boolOption(options(), "mma", profile.mma) && profile.mma;
    // The HGEMM's fp16 tensor cores: every profile with a rate for them.
    rules.dequantHgemm = options().getBool("dequant-hgemm") && profile.fp16Tflops > 0;
    // mma.sync on f16 with f32 accumulators: the profiles with the mma feature (sm_80 on).
    rules.mmaF16 = options().getBool("mma-f16") && profile.mma;
    return rules;
  }

  /// The memory the weights may take: `--memory-budget` where given, else the stored weights
  /// plus a tenth for derived copies, capped by the profile's memory (nullopt: no budget).
  static std::optional<int64_t> memoryBudget(const PassContext& context, int64_t storedBytes) {
    if (context.memoryBudget) return context.memoryBudget;
    const auto copyBudget = static_cast<int64_t>(static_cast<double>(storedBytes) * kDefaultBudgetOfStored);
    if (context.profile.memoryGB > 0) return std::min(copyBudget, static_cast<int64_t>(context.profile.memoryGB * 1e9));
    return copyBudget;
  }

  static std::vector<MatmulUse> collectUses(ir::Module& module, MatmulClasses& classes, WeightMemory& memory) {
    std::vector<MatmulUse> uses;
    for (size_t graphIndex = 0; graphIndex < module.graphs.size(); ++graphIndex) {
      const ir::Graph& graph = *module.graphs[graphIndex];
      std::optional<BucketShape> bucket = bucketShape(graph);
      if (!bucket) continue;
      for (const std::unique_ptr<ir::Op>& op : graph.ops()) {
        if (op->name() == "weight") memory.addStored(*op);
        if (!decidable(*op)) continue;
        const ir::Value* weight = op->operand(1);
        MatmulUse use;
        use.op = op.get();
        use.graphIndex = graphIndex;
        use.kind = &classes.classFor(graphIndex, *bucket, weight->type());
        use.weightName = weight->producer()->attrs().getString("name").value_or(weight->name());
        uses.push_back(std::move(use));
      }
    }
    return uses;
  }

  static bool applyAndExplain(const ir::Module& module, std::vector<MatmulUse>& uses, PassContext& context) {
    bool changed = false;
    std::optional<DecisionGroups> decisions;
    size_t currentGraph = SIZE_MAX;
    std::map<const MatmulClass*, std::string> reasons;
    for (MatmulUse& use : uses) {
      if (use.graphIndex != currentGraph) {
        if (decisions) decisions->flush(context);
        currentGraph = use.graphIndex;
        decisions.emplace(kPassName, module.graphs[currentGraph]->name());
      }
      changed |= setAttr(use.op->attrs(), "kernel", std::string(matmulKernelName(use.chosen)));
      std::string reason;
      if (use.note.empty()) {
        std::string& cached = reasons[use.kind];
        if (cached.empty()) cached = reasonFor(*use.kind, use.chosen, "");
        reason = cached;
      } else {
        reason = reasonFor(*use.kind, use.chosen, use.note);
      }
      decisions->add(use.op->result()->name(), matmulKernelName(use.chosen), reason);
    }
    if (decisions) decisions->flush(context);
    return changed;
  }
};

}  // namespace

PassInfo selectPrecisionPassInfo() {
  return {kPassName,
          "kernel family per matmul and bucket: dp4a, mma (tensor cores on the quantized weight), fp8 (cuBLASLt), "
          "hgemm (cuBLAS), dequant-hgemm (cuBLAS on the weight dequantized to f16 per use), mma-f16 (f16 tensor "
          "cores, the weight dequantized in registers); derived copies within "
          "the memory budget (default 1.1 x the stored weights); the fastest of the GPU profile's measured times "
          "([[measured.matmul]], reel tune) where they cover every family",
          "precision",
          {{"fp8-min-m", OptionKind::Int, "",
            "FP8 GEMMs from this M on (default: the GPU profile's; h100/h200 17, others 5)"},
           {"hgemm-min-m", OptionKind::Int, "", "FP16 HGEMM from this M on (default: the GPU profile's, 64)"},
           {"mma-min-m", OptionKind::Int, "9", "consider tensor-core kernels on quantized weights from this M on"},
           {"fp8", OptionKind::Bool, "", "allow FP8 GEMMs (default: the GPU profile's fp8 feature)"},
           {"dp4a", OptionKind::Bool, "", "allow DP4A kernels (default: the GPU profile's dp4a feature)"},
           {"mma", OptionKind::Bool, "",
            "allow the tensor-core kernels on block-quantized weights (default: the GPU profile's mma feature)"},
           {"dequant-hgemm", OptionKind::Bool, "true",
            "allow HGEMM on block-quantized weights dequantized to f16 right before each use (no held copy)"},
           {"mma-f16", OptionKind::Bool, "false",
            "allow the f16 tensor-core kernel that dequantizes Q4_K weights in registers (no copy, no workspace)"}},
          [] { return std::make_unique<SelectPrecisionPass>(); }};
}

}  // namespace reel::passes
