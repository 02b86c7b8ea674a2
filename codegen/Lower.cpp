#include "codegen/Lower.h"

#include "codegen/LowerSample.h"
#include "codegen/OpLowering.h"
#include "codegen/PlanCheck.h"
#include "codegen/PlanFile.h"
#include "ir/DecisionAttrs.h"
#include "ir/Printer.h"
#include "ir/TensorParallel.h"
#include "passes/CostModel.h"
#include "passes/LaunchPolicy.h"
#include "quant/QuantRef.h"
#include "support/HookTable.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

namespace reel::codegen {
namespace {

using ir::ElemType;
using ir::Op;
using ir::toQType;
using ir::Value;
using kernels::LaunchDims;
namespace ka = kernels::args;
using quant::QType;

int64_t alignUp(int64_t value, int64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

/// The layout the matmul `op` (with its kernel chosen) reads weight operand `index` in.
WeightLayout matmulLayout(const Op& op, unsigned index) {
  return ir::matmulWeightLayout(*ir::parseMatmulKernel(*op.attrs().getString("kernel")),
                                op.operand(index)->type().elem);
}

/// Lowers one graph; shares the weight-slot table and the scratch size with the plan. It is
/// the only LoweringContext, so the built-in hooks (builtinLowerings) downcast to it to
/// reach the helpers they share.
class GraphLowering final : public LoweringContext {
 public:
  GraphLowering(const ir::Graph& graph, const LowerOptions& options, Plan& plan,
                std::map<std::pair<std::string, WeightLayout>, int64_t>& slots)
      : graph_(graph), options_(options), model_(options.profile), plan_(plan), slots_(slots) {}

  BucketPlan lower(bool longContext) {
    longContext_ = longContext;
    BucketPlan bucket;
    bucket_ = &bucket;
    bucket.graph = graph_.name() + (longContext ? ".long" : "");
    bucket.phase = graph_.attrs().getString("phase").value_or("decode");
    std::optional<int64_t> m = graph_.attrs().getInt("bucket");
    std::optional<int64_t> arena = graph_.attrs().getInt("arena_bytes");
    if (!m || !arena)
      failPlain("graph @{}: not ready to lower: run specialize-buckets and plan-memory first", graph_.name());
    m_ = *m;
    bucket.m = m_;
    bucket.arenaBytes = std::max<int64_t>(*arena, 256);
    if (longContext) bucket.minContext = contextThreshold();
    // Scratch lives only within one op's launches, so every op starts at offset 0.
    for (const auto& op : graph_.ops()) {
      scratchUsed_ = 0;
      const OpLoweringFn* lowerHook = findOpLowering(op->name());
      if (!lowerHook) cannotLower(*op, "no lowering is registered for this op");
      (*lowerHook)(*op, *this);
      plan_.scratchBytes = std::max(plan_.scratchBytes, scratchUsed_);
    }
    bucket_ = nullptr;
    return bucket;
  }

  // ---- LoweringContext ------------------------------------------------------------------

  [[nodiscard]] int64_t rows() const override { return m_; }
  [[nodiscard]] bool longContext() const override { return longContext_; }
  [[nodiscard]] const LowerOptions& options() const override { return options_; }
  [[nodiscard]] BufferRef value(const Value* value) const override { return ref(value); }
  void emit(const Op& op, KernelLaunch launch) override { emit(*bucket_, op, std::move(launch)); }
  BucketPlan& bucket() override { return *bucket_; }

  /// Whether any attention op carries a long-context (flash-decoding) variant.
  [[nodiscard]] bool hasLongContextVariant() const {
    for (const auto& op : graph_.ops())
      if (op->name() == "attention" && op->attrs().getString("long_context_strategy")) return true;
    return false;
  }

 private:
  /// The KV length above which the long-context variant runs: select-attention's decision,
  /// recorded on the graph (the verifier holds the ops' copies equal to it).
  [[nodiscard]] int64_t contextThreshold() const { return *graph_.attrs().getInt("context_threshold"); }

  // ---- argument binding ---------------------------------------------------------------

  BufferRef ref(const Value* value) const {
    const Op* producer = value->producer();
    llvm::StringRef kind = producer->name();
    if (kind == "input") return inputRef(*producer);
    if (kind == "kv_cache") {
      int64_t layer = *producer->attrs().getInt("layer");
      bool isV = producer->attrs().getString("part") == std::optional<std::string>("v");
      return {BufferKind::KvCache, layer * 2 + (isV ? 1 : 0), 0};
    }
    const std::vector<int64_t>* offsets = producer->attrs().getInts("offsets");
    if (!offsets || offsets->size() <= value->resultIndex() || (*offsets)[value->resultIndex()] < 0)
      cannotLower(*producer, fmt::format("%{} has no arena offset (run plan-memory)", value->name()));
    return {BufferKind::Arena, 0, (*offsets)[value->resultIndex()]};
  }

  static BufferRef inputRef(const Op& input) {
    std::string name = input.attrs().getString("name").value_or("");
    if (name == "token_ids") return {BufferKind::StepInput, static_cast<int64_t>(StepInput::TokenIds), 0};
    if (name == "positions") return {BufferKind::StepInput, static_cast<int64_t>(StepInput::Positions), 0};
    if (name == "kv_lens") return {BufferKind::StepInput, static_cast<int64_t>(StepInput::KvLens), 0};
    cannotLower(input, fmt::format("unknown step input \"{}\"", name));
  }

  static BufferRef stepInput(StepInput which) { return {BufferKind::StepInput, static_cast<int64_t>(which), 0}; }

  /// The weight `value` in `layout`, the layout its reader's kernel reads; a weight op that
  /// records another (select-launch-config's `layout`) is refused.
  BufferRef weight(const Value* value, WeightLayout layout) override {
    const Op* producer = value->producer();
    if (producer->name() != "weight") cannotLower(*producer, "expected a weight");
    if (std::optional<std::string> recorded = producer->attrs().getString("layout");
        recorded && recorded != std::string(weightLayoutName(layout)))
      cannotLower(*producer,
                  fmt::format("laid out {}, but its reader's kernel reads {}", *recorded, weightLayoutName(layout)));
    std::string tensor = *producer->attrs().getString("name");
    auto [it, inserted] = slots_.try_emplace({tensor, layout}, static_cast<int64_t>(plan_.weights.size()));
    if (inserted) {
      const ir::TensorType& type = value->type();
      WeightSlot slot{tensor, ir::elemTypeName(type.elem).str(), layout, type.rank() == 2 ? type.shape[0] : 1,
                      type.shape.back()};
      slot.bytes = weightLayoutBytes(slot);
      if (slot.bytes < 0)
        cannotLower(*producer, fmt::format("{} cannot be laid out as {}", type.str(), weightLayoutName(layout)));
      plan_.weights.push_back(std::move(slot));
    }
    return {BufferKind::Weight, it->second, 0};
  }

  BufferRef scratch(int64_t bytes) override {
    BufferRef r{BufferKind::Scratch, 0, scratchUsed_};
    scratchUsed_ += alignUp(bytes, 256);
    return r;
  }

  static BufferRef offsetBy(BufferRef r, int64_t bytes) {
    r.offset += bytes;
    return r;
  }

  // ---- steps ----------------------------------------------------------------------------

  using Launch = KernelLaunch;

  void emit(BucketPlan& bucket, const Op& op, Launch launch) {
    const kernels::KernelInfo* info = kernels::findKernel(launch.kernel);
    if (!info) cannotLower(op, fmt::format("no kernel '{}' in the catalog", launch.kernel));
    int64_t ints[kernels::kMaxIntArgs] = {};
    std::copy(launch.ints.begin(), launch.ints.end(), ints);
    if (std::string why = kernels::checkKernelArgs(launch.kernel, ints); !why.empty())
      cannotLower(op, fmt::format("kernel '{}': {}", launch.kernel, why));
    Step step;
    step.kernel = launch.kernel;
    step.dims = kernels::kernelDims(launch.kernel, ints);
    step.ptrs = std::move(launch.ptrs);
    step.ints = std::move(launch.ints);
    step.floats = std::move(launch.floats);
    step.op = op.numResults() ? "%" + op.result()->name() : std::string(op.name());
    step.weightBytes = launch.weightBytes;
    const double bytes = static_cast<double>(launch.weightBytes + launch.activationBytes);
    // The GEMVs' row sets enter the cost model's figure.
    const int rowSetsAt = kernels::intArgIndex(*info, "row_sets");
    const double rowSets = rowSetsAt < 0 ? 1.0 : static_cast<double>(step.ints[static_cast<size_t>(rowSetsAt)]);
    step.predictedUs = model_.launch(info->family, bytes, step.dims, rowSets).us;
    bucket.steps.push_back(std::move(step));
  }

  static int64_t width(const Value* value) { return value->type().shape.back(); }
  int64_t f32Bytes(const Value* value) const { return m_ * width(value) * 4; }

  // ---- ops ------------------------------------------------------------------------------

  // The built-in hooks, registered by builtinLowerings().
 public:
  void lowerOutput(const Op& op, BucketPlan& bucket) {
    if (op.attrs().getString("name") != std::optional<std::string>("logits")) return;
    BufferRef logits = ref(op.operand(0));
    if (logits.kind != BufferKind::Arena) cannotLower(op, "logits must live in the arena");
    bucket.logitsOffset = logits.offset;
  }

  void lowerEmbedding(const Op& op, BucketPlan& bucket) {
    const Value* table = op.operand(1);
    ka::Embed<BufferRef> e;
    e.table = weight(table, WeightLayout::Gguf);
    e.tokens = ref(op.operand(0));
    e.out = ref(op.result());
    e.m = m_;
    e.n = width(op.result());
    e.vocab = table->type().shape[0];
    Launch l = kernelLaunch(kernels::embedKernelId(toQType(table->type().elem)), e);
    l.activationBytes = f32Bytes(op.result());
    l.weightBytes = m_ * *ir::TensorType(table->type().elem, {1, width(op.result())}).numBytes(1, 1);
    emit(bucket, op, std::move(l));
  }

  /// Kernels with a Q8_1 epilogue (fold-quantize gave the op a q8_1 result) take the `_q8_1`
  /// variant of their id.
  static std::string withEpilogue(const char* kernel, const Value* result) {
    return result->type().elem == ElemType::Q8_1 ? std::string(kernel) + "_q8_1" : std::string(kernel);
  }
  /// Bytes of one of the bucket's values, f32 or q8_1.
  int64_t activationBytes(const Value* value) const {
    return value->type().elem == ElemType::Q8_1 ? m_ * static_cast<int64_t>(quant::q81RowBytes(width(value)))
                                                : f32Bytes(value);
  }

  void lowerRmsNorm(const Op& op, BucketPlan& bucket) {
    ka::RmsNorm<BufferRef> n;
    n.x = ref(op.operand(0));
    n.weight = weight(op.operand(1), WeightLayout::Gguf);
    n.out = ref(op.result());
    n.m = m_;
    n.n = width(op.result());
    n.eps = static_cast<float>(*op.attrs().getFloat("eps"));
    Launch l = kernelLaunch(withEpilogue("rms_norm", op.result()), n);
    l.activationBytes = f32Bytes(op.operand(0)) + activationBytes(op.result());
    emit(bucket, op, std::move(l));
  }

  void lowerAddRmsNorm(const Op& op, BucketPlan& bucket) {
    ka::AddRmsNorm<BufferRef> n;
    n.x = ref(op.operand(0));
    n.residual = ref(op.operand(1));
    n.weight = weight(op.operand(2), WeightLayout::Gguf);
    n.sumOut = ref(op.result(0));
    n.normOut = ref(op.result(1));
    n.m = m_;
    n.n = width(op.result());
    n.eps = static_cast<float>(*op.attrs().getFloat("eps"));
    Launch l = kernelLaunch(withEpilogue("add_rms_norm", op.result(1)), n);
    l.activationBytes = 3 * f32Bytes(op.result(0)) + activationBytes(op.result(1));
    emit(bucket, op, std::move(l));
  }

  void lowerElementwise(const Op& op, BucketPlan& bucket) {
    if (op.name() == "add") {
      ka::Add<BufferRef> add;
      add.lhs = ref(op.operand(0));
      add.rhs = ref(op.operand(1));
      add.out = ref(op.result());
      add.count = m_ * width(op.result());
      Launch l = kernelLaunch("add", add);
      l.activationBytes = 3 * f32Bytes(op.result());
      return emit(bucket, op, std::move(l));
    }
    Launch l;
    if (op.result()->type().elem == ElemType::Q8_1) {
      ka::SwigluQ81<BufferRef> q81;
      q81.gate = ref(op.operand(0));
      q81.up = ref(op.operand(1));
      q81.out = ref(op.result());
      q81.m = m_;
      q81.n = width(op.result());
      l = kernelLaunch("swiglu_q8_1", q81);
    } else {
      ka::Swiglu<BufferRef> swiglu;
      swiglu.gate = ref(op.operand(0));
      swiglu.up = ref(op.operand(1));
      swiglu.out = ref(op.result());
      swiglu.count = m_ * width(op.result());
      l = kernelLaunch("swiglu", swiglu);
    }
    l.activationBytes = 2 * f32Bytes(op.operand(0)) + activationBytes(op.result());
    emit(bucket, op, std::move(l));
  }

  /// In-place kernels (bias_add, rope) need their result to share the input's arena slot,
  /// which plan-memory arranges.
  BufferRef inPlace(const Op& op) const {
    BufferRef in = ref(op.operand(0));
    BufferRef out = ref(op.result());
    if (!(in == out)) cannotLower(op, "the in-place kernel needs the result in the operand's arena slot");
    return out;
  }

  void lowerBiasAdd(const Op& op, BucketPlan& bucket) {
    ka::BiasAdd<BufferRef> b;
    b.x = inPlace(op);
    b.bias = weight(op.operand(1), WeightLayout::Gguf);
    b.m = m_;
    b.n = width(op.result());
    Launch l = kernelLaunch("bias_add", b);
    l.activationBytes = 2 * f32Bytes(op.result());
    emit(bucket, op, std::move(l));
  }

  void lowerRope(const Op& op, BucketPlan& bucket) {
    const ir::AttrDict& a = op.attrs();
    // The query rows only: no key rows (n_kv_heads 0, k null).
    ka::Rope<BufferRef> r;
    r.q = inPlace(op);
    r.positions = ref(op.operand(1));
    r.m = m_;
    r.nHeads = *a.getInt("n_heads");
    r.headDim = *a.getInt("head_dim");
    r.qStride = width(op.result());
    r.rope = rotationFloats(a, "");
    Launch l = kernelLaunch(a.getString("style") == std::optional<std::string>("neox") ? "rope_neox" : "rope_norm", r);
    l.activationBytes = 2 * f32Bytes(op.result());
    emit(bucket, op, std::move(l));
  }

  void lowerQuantize(const Op& op, BucketPlan& bucket) {
    ka::QuantizeQ81<BufferRef> q;
    q.x = ref(op.operand(0));
    q.out = ref(op.result());
    q.m = m_;
    q.k = width(op.result());
    Launch l = kernelLaunch("quantize_q8_1", q);
    l.activationBytes = f32Bytes(op.operand(0)) + m_ * static_cast<int64_t>(quant::q81RowBytes(width(op.result())));
    emit(bucket, op, std::move(l));
  }

  /// The Q8_1 activations of a dp4a or mma matmul: its operand, which share-activation-quant
  /// made q8_1.
  BufferRef q81Activations(const Op& op) const {
    if (op.operand(0)->type().elem != ElemType::Q8_1)
      cannotLower(op, fmt::format("{} reads q8_1 activations, this operand is f32 (run share-activation-quant)",
                                  op.attrs().getString("kernel").value_or("")));
    return ref(op.operand(0));
  }

  void lowerMatmul(const Op& op, BucketPlan& bucket) {
    std::string kernel = op.attrs().getString("kernel").value_or("");
    if (kernel == "dp4a") return lowerDp4a(op, bucket);
    if (op.name() != "matmul") cannotLower(op, fmt::format("fused matmuls need kernel \"dp4a\", got \"{}\"", kernel));
    if (kernel == "mma") return lowerMma(op, bucket);
    if (kernel == "fp8") return lowerFp8(op, bucket);
    if (kernel == "hgemm") return lowerHgemm(op, bucket);
    if (kernel == "dequant-hgemm") return lowerDequantHgemm(op, bucket);
    if (kernel == "mma-f16") return lowerMmaF16(op, bucket);
    cannotLower(op, kernel.empty() ? "no kernel chosen (run select-precision)"
                                   : fmt::format("no kernels of family \"{}\" yet", kernel));
  }

  /// The tensor-core matmul: one mmq launch over all m rows (its grid tiles the tokens), on the
  /// weight as the DP4A GEMV reads it. The kernel table refuses a weight type without one.
  void lowerMma(const Op& op, BucketPlan& bucket) {
    const Value* w = op.operand(1);
    ka::Mmq<BufferRef> g;
    g.act = q81Activations(op);
    g.weights = weight(w, matmulLayout(op, 1));
    g.out = ref(op.result());
    g.n = w->type().shape[0];
    g.k = width(op.operand(0));
    g.m = m_;
    const QType qtype = toQType(w->type().elem);
    if (!kernels::mmqSupports(qtype))
      cannotLower(op, fmt::format("kernel \"mma\" has no kernel for {} weights (it reads block-quantized weights)",
                                  quant::qtypeName(qtype)));
    Launch l = kernelLaunch(kernels::mmqKernelId(qtype), g);
    l.weightBytes = *w->type().numBytes(1, 1);
    l.activationBytes = m_ * static_cast<int64_t>(quant::q81RowBytes(g.k)) + m_ * g.n * 4;
    emit(bucket, op, std::move(l));
  }

  /// The launch decisions of a dp4a matmul (select-launch-config): rows per launch, the
  /// weights of each launch, and each launch's row sets.
  struct GemvConfig {
    int64_t rowChunk = 0;
    std::vector<int64_t> stacks;
    std::vector<int64_t> rowSets;
  };

  static GemvConfig gemvConfig(const Op& op) {
    const ir::AttrDict& a = op.attrs();
    const std::optional<int64_t> chunk = a.getInt("row_chunk");
    const std::vector<int64_t>* rowSets = a.getInts("row_sets");
    const std::vector<int64_t>* stacks = a.getInts("stacks");
    const bool gateUp = op.name() == "matmul_gate_up";
    if (!chunk || !rowSets || (!gateUp && !stacks))
      cannotLower(op, "no launch config: row_chunk, stacks and row_sets (run select-launch-config)");
    return {*chunk, gateUp ? std::vector<int64_t>{1} : *stacks, *rowSets};
  }

  /// One launch per stack of weights per chunk of rows_chunk activation rows, as recorded.
  void lowerDp4a(const Op& op, BucketPlan& bucket) {
    const BufferRef act = q81Activations(op);
    const GemvConfig config = gemvConfig(op);
    const int64_t k = width(op.operand(0));
    const auto actRowBytes = static_cast<int64_t>(quant::q81RowBytes(k));
    for (int64_t row = 0; row < m_; row += config.rowChunk) {
      const int64_t rows = std::min(config.rowChunk, m_ - row);
      const BufferRef chunkAct = offsetBy(act, row * actRowBytes);
      if (op.name() == "matmul_gate_up") {
        emitGateUp(op, bucket, {0, 2, k, rows, row, chunkAct, config.rowSets[0]});
        continue;
      }
      unsigned first = 0;
      for (size_t launch = 0; launch < config.stacks.size(); ++launch) {
        const auto last = first + static_cast<unsigned>(config.stacks[launch]);
        emitGemvRun(op, bucket, {first, last, k, rows, row, chunkAct, config.rowSets[launch]});
        first = last;
      }
    }
  }

  /// Weights [first, last) of a matmul, the activation row chunk they multiply, and the row
  /// sets of their launch.
  struct GemvRun {
    unsigned first, last;
    int64_t k, rows, row;
    BufferRef act;
    int64_t rowSets = 1;
  };

  /// The ints every GEMV launch of `run` takes: n rows in all.
  static void setGemvShape(ka::GemvShape& shape, int64_t n, const GemvRun& run) {
    shape.n = n;
    shape.k = run.k;
    shape.m = run.rows;
    shape.rowSets = run.rowSets;
  }

  void emitGateUp(const Op& op, BucketPlan& bucket, const GemvRun& run) {
    const Value* w = op.operand(1);
    const int64_t n = w->type().shape[0];
    ka::GemvGateUp<BufferRef> g;
    setGemvShape(g, n, run);
    g.wGate = weight(op.operand(1), matmulLayout(op, 1));
    g.wUp = weight(op.operand(2), matmulLayout(op, 2));
    g.act = run.act;
    g.outGate = offsetBy(ref(op.result(0)), run.row * n * 4);
    g.outUp = offsetBy(ref(op.result(1)), run.row * n * 4);
    const QType qtype = toQType(w->type().elem);
    Launch l = kernelLaunch(kernels::gemvLaunchKernelId(qtype, qtype, 2, true), g);
    l.weightBytes = 2 * *w->type().numBytes(1, 1);
    emit(bucket, op, std::move(l));
  }

  /// One GEMV launch for a run of weights: plain for one, stacked for several (a mixed stack
  /// where the last weight's type differs; the kernel table refuses a mix it has no kernel for).
  void emitGemvRun(const Op& op, BucketPlan& bucket, const GemvRun& run) {
    const QType qtype = toQType(op.operand(run.first + 1)->type().elem);
    const auto count = static_cast<int>(run.last - run.first);
    const QType lastType = toQType(op.operand(run.last)->type().elem);
    for (unsigned i = run.first + 1; i + 1 < run.last; ++i)
      if (toQType(op.operand(i + 1)->type().elem) != qtype)
        cannotLower(op, fmt::format("a stack of weights {}..{} mixes qtypes before its last", run.first, run.last - 1));
    const std::string kernel = kernels::gemvLaunchKernelId(qtype, lastType, count, false);
    if (count == 2) return emitGemvStack<2, ka::GemvStack2>(op, bucket, run, kernel);
    if (count == 3) return emitGemvStack<3, ka::GemvStack3>(op, bucket, run, kernel);
    if (count != 1) cannotLower(op, fmt::format("a stack of {} weights; the kernels stack 2 or 3", count));
    const Value* w = op.operand(run.first + 1);
    const int64_t n = w->type().shape[0];
    ka::Gemv<BufferRef> g;
    setGemvShape(g, n, run);
    g.weights = weight(w, matmulLayout(op, run.first + 1));
    g.act = run.act;
    g.out = offsetBy(ref(op.result(run.first)), run.row * n * 4);
    Launch l = kernelLaunch(kernel, g);
    l.weightBytes = *w->type().numBytes(1, 1);
    emit(bucket, op, std::move(l));
  }

  /// A stacked GEMV launch of the S weights of `run` (signature Args, kernels::args::GemvStacked).
  template <int S, template <class> class Args>
  void emitGemvStack(const Op& op, BucketPlan& bucket, const GemvRun& run, const std::string& kernel) {
    Args<BufferRef> g;
    setGemvShape(g, 0, run);
    int64_t weightBytes = 0;
    for (size_t i = 0; i < static_cast<size_t>(S); ++i) {
      const unsigned operand = run.first + 1 + static_cast<unsigned>(i);
      const Value* w = op.operand(operand);
      const int64_t n = w->type().shape[0];
      g.w[i] = weight(w, matmulLayout(op, operand));
      g.out[i] = offsetBy(ref(op.result(operand - 1)), run.row * n * 4);
      g.rows[i] = n;
      g.n += n;
      weightBytes += *w->type().numBytes(1, 1);
    }
    g.act = run.act;
    Launch l = kernelLaunch(kernel, g);
    l.weightBytes = weightBytes;
    emit(bucket, op, std::move(l));
  }

  /// The workspace select-launch-config gave `op` and plan-memory placed; it must hold `bytes`.
  BufferRef workspace(const Op& op, int64_t bytes) const {
    const std::optional<int64_t> size = op.attrs().getInt("workspace");
    const std::optional<int64_t> offset = op.attrs().getInt("workspace_offset");
    if (!size || !offset) cannotLower(op, "no placed workspace (run select-launch-config, then plan-memory)");
    if (*size < bytes)
      cannotLower(op, fmt::format("its launches need a workspace of {} bytes, it has {}", bytes, *size));
    return {BufferKind::Arena, 0, *offset};
  }

  /// FP8: the activations quantized to E4M3 with one scale into the op's workspace, then the
  /// cuBLASLt GEMM.
  void lowerFp8(const Op& op, BucketPlan& bucket) {
    const Value* x = op.operand(0);
    const Value* w = op.operand(1);
    const int64_t n = w->type().shape[0];
    const int64_t k = width(x);
    const BufferRef actFp8 = workspace(op, passes::fp8Workspace(m_, k));
    const BufferRef actScale = offsetBy(actFp8, passes::fp8ScaleOffset(m_, k));
    ka::Fp8QuantizeAct<BufferRef> q;
    q.x = ref(x);
    q.out = actFp8;
    q.scale = actScale;
    q.m = m_;
    q.k = k;
    Launch quantize = kernelLaunch("fp8_quantize_act", q);
    quantize.activationBytes = f32Bytes(x);
    emit(bucket, op, std::move(quantize));
    const BufferRef wData = weight(w, matmulLayout(op, 1));
    ka::Fp8Gemm<BufferRef> g;
    g.w = wData;
    g.wScales = offsetBy(wData, alignUp(n * k, 256));  // per-row scales after the E4M3 rows
    g.act = actFp8;
    g.actScale = actScale;
    g.out = ref(op.result());
    g.m = m_;
    g.n = n;
    g.k = k;
    g.perRow = 1;
    Launch gemm = kernelLaunch("fp8_gemm_cublaslt", g);
    gemm.weightBytes = n * k + n * 4;
    emit(bucket, op, std::move(gemm));
  }

  /// HGEMM on the f16 activations cast_f16 made (share-activation-quant), its f16 weight `w`.
  ka::Hgemm<BufferRef> hgemmArgs(const Op& op, BufferRef w) const {
    const Value* x = op.operand(0);
    if (x->type().elem != ElemType::F16)
      cannotLower(op, fmt::format("{} reads f16 activations, this operand is f32 (run share-activation-quant)",
                                  op.attrs().getString("kernel").value_or("")));
    ka::Hgemm<BufferRef> g;
    g.w = w;
    g.x = ref(x);
    g.out = ref(op.result());
    g.m = m_;
    g.n = op.operand(1)->type().shape[0];
    g.k = width(x);
    return g;
  }

  /// The f16 tensor-core matmul: one mma_f16 launch over all m rows of the f16 activations
  /// cast_f16 made, on the weight as stored (GGUF rows). The kernel table refuses a weight type
  /// without one.
  void lowerMmaF16(const Op& op, BucketPlan& bucket) {
    const Value* w = op.operand(1);
    const ka::Hgemm<BufferRef> h = hgemmArgs(op, BufferRef{});
    if (w->type().elem == ElemType::I32 || !kernels::mmaF16Supports(toQType(w->type().elem)))
      cannotLower(op, fmt::format("kernel \"mma-f16\" has no kernel for {} weights (it reads Q4_K)",
                                  ir::elemTypeName(w->type().elem).str()));
    ka::MmaF16<BufferRef> g;
    g.weights = weight(w, matmulLayout(op, 1));
    g.act = h.x;
    g.out = h.out;
    g.n = h.n;
    g.k = h.k;
    g.m = h.m;
    Launch l = kernelLaunch(kernels::mmaF16KernelId(toQType(w->type().elem)), g);
    l.weightBytes = *w->type().numBytes(1, 1);
    l.activationBytes = m_ * g.k * 2 + m_ * g.n * 4;
    emit(bucket, op, std::move(l));
  }

  void lowerHgemm(const Op& op, BucketPlan& bucket) {
    const ka::Hgemm<BufferRef> g = hgemmArgs(op, weight(op.operand(1), matmulLayout(op, 1)));
    Launch gemm = kernelLaunch("hgemm_cublas", g);
    gemm.weightBytes = g.n * g.k * 2;
    emit(bucket, op, std::move(gemm));
  }

  /// dequant-hgemm: the stored weight, as the GEMV reads it, dequantized to f16 rows in the op's
  /// workspace, then the HGEMM of lowerHgemm reading them. The weight bytes are the stored ones,
  /// on the dequant launch; the workspace's f16 rows count as activation bytes (written by the
  /// dequant, read by the HGEMM), so the plan's predicted times see that traffic while its weight
  /// bandwidth counts each stored byte once.
  void lowerDequantHgemm(const Op& op, BucketPlan& bucket) {
    const Value* w = op.operand(1);
    if (w->type().elem == ElemType::I32 || !quant::isDp4aWeightType(toQType(w->type().elem)))
      cannotLower(op, fmt::format("kernel \"dequant-hgemm\" has no kernel for {} weights (it reads "
                                  "block-quantized weights)",
                                  ir::elemTypeName(w->type().elem).str()));
    const QType qtype = toQType(w->type().elem);
    ka::DequantF16<BufferRef> d;
    d.weights = weight(w, matmulLayout(op, 1));
    d.n = w->type().shape[0];
    d.k = w->type().shape[1];
    const int64_t f16Bytes = d.n * d.k * 2;
    d.out = workspace(op, f16Bytes);
    Launch dequant = kernelLaunch(kernels::dequantF16KernelId(qtype), d);
    dequant.weightBytes = *w->type().numBytes(1, 1);
    dequant.activationBytes = f16Bytes;
    emit(bucket, op, std::move(dequant));
    const ka::Hgemm<BufferRef> g = hgemmArgs(op, d.out);
    Launch gemm = kernelLaunch("hgemm_cublas", g);
    gemm.activationBytes = f16Bytes;
    emit(bucket, op, std::move(gemm));
  }

  void lowerCastF16(const Op& op, BucketPlan& bucket) {
    ka::Cast<BufferRef> c;
    c.input = ref(op.operand(0));
    c.out = ref(op.result());
    c.count = m_ * width(op.result());
    Launch l = kernelLaunch("cast_f32_f16", c);
    l.activationBytes = f32Bytes(op.operand(0)) + m_ * width(op.result()) * 2;
    emit(bucket, op, std::move(l));
  }

  /// The rotation floats of the rope kernels, from a rope op's attributes (prefix "") or an
  /// attention's rope_* attributes.
  static ka::RopeFloats rotationFloats(const ir::AttrDict& a, const std::string& prefix) {
    const bool llama3 = a.has(prefix + "scaling");
    ka::RopeFloats r;
    r.freqBase = static_cast<float>(*a.getFloat(prefix + "freq_base"));
    r.llama3Factor = llama3 ? static_cast<float>(*a.getFloat(prefix + "scale_factor")) : 1.0f;
    r.lowFreqFactor = llama3 ? static_cast<float>(*a.getFloat(prefix + "low_freq_factor")) : 1.0f;
    r.highFreqFactor = llama3 ? static_cast<float>(*a.getFloat(prefix + "high_freq_factor")) : 1.0f;
    r.originalMaxPositions = llama3 ? static_cast<float>(*a.getInt(prefix + "original_context")) : 0.0f;
    return r;
  }

  /// fuse-rope-attention's attention: one launch rotates q and k, appends k and v, attends.
  void lowerAttentionWithRope(const Op& op, BucketPlan& bucket) {
    const ir::AttrDict& a = op.attrs();
    std::string strategy = a.getString("strategy").value_or("");
    if (strategy != ir::attentionStrategyName(ir::AttentionStrategy::Decode))
      cannotLower(op, "rope_* attributes need strategy decode, got " + strategy);
    const ka::AttnShape shape = attnShape(a);
    const int64_t splits = longContext_ ? a.getInt("splits").value_or(1) : 1;
    // The operands: q, k, v (not yet rotated), the caches, positions, KV lengths.
    const auto fill = [&](auto& t) {
      setAttentionCommon(op, shape, t);
      t.kNew = ref(op.operand(1));
      t.vNew = ref(op.operand(2));
      t.kvLens = ref(op.operand(6));
      t.positions = ref(op.operand(5));
      t.kStride = width(op.operand(1));
      t.vStride = width(op.operand(2));
      t.style = a.getString("rope_style") == std::optional<std::string>("neox") ? 1 : 0;
      t.rope = rotationFloats(a, "rope_");
    };
    if (splits <= 1) {
      ka::AttnDecodeRope<BufferRef> t;
      fill(t);
      t.out = ref(op.result());
      Launch l = kernelLaunch(withEpilogue("attn_decode_rope", op.result()), t);
      l.activationBytes = f32Bytes(op.operand(0)) + 2 * f32Bytes(op.operand(1)) + activationBytes(op.result());
      return emit(bucket, op, std::move(l));
    }
    ka::AttnSplitRope<BufferRef> t;
    fill(t);
    t.splits = splits;
    setPartials(op, t);
    emit(bucket, op, kernelLaunch("attn_decode_split_rope", t));
    emitReduce(op, bucket, t);
  }

  /// The shape ints of an attention op (max_ctx from the options, q rows packed).
  ka::AttnShape attnShape(const ir::AttrDict& a) const {
    ka::AttnShape shape;
    shape.m = m_;
    shape.nHeads = *a.getInt("n_heads");
    shape.nKvHeads = *a.getInt("n_kv_heads");
    shape.headDim = *a.getInt("head_dim");
    shape.maxCtx = options_.maxContext;
    shape.window = a.getInt("window").value_or(0);
    shape.qStride = shape.nHeads * shape.headDim;
    return shape;
  }

  /// What every attention launch reads of an attention op: its shape, q (operand 0), the K and V
  /// caches (operands 3 and 4), the step's KV slots and the score scale 1/sqrt(head_dim).
  template <class Attn>
  void setAttentionCommon(const Op& op, const ka::AttnShape& shape, Attn& t) const {
    static_cast<ka::AttnShape&>(t) = shape;
    t.q = ref(op.operand(0));
    t.kCache = ref(op.operand(3));
    t.vCache = ref(op.operand(4));
    t.slots = stepInput(StepInput::Slots);
    t.scale = 1.0f / std::sqrt(static_cast<float>(shape.headDim));
  }

  /// Flash-decoding's partials in the op's workspace (select-launch-config sized it).
  template <class Split>
  void setPartials(const Op& op, Split& t) const {
    t.partOut = workspace(op, passes::splitAttentionWorkspace(m_, t.nHeads, t.splits, t.headDim));
    t.partMl = offsetBy(t.partOut, passes::splitPairsOffset(m_, t.nHeads, t.splits, t.headDim));
  }

  /// Flash-decoding's second phase: the split's partials merged into the op's result.
  template <class Split>
  void emitReduce(const Op& op, BucketPlan& bucket, const Split& split) {
    ka::AttnReduce<BufferRef> r;
    r.partOut = split.partOut;
    r.partMl = split.partMl;
    r.out = ref(op.result());
    r.m = m_;
    r.nHeads = split.nHeads;
    r.headDim = split.headDim;
    r.splits = split.splits;
    emit(bucket, op, kernelLaunch(withEpilogue("attn_decode_reduce", op.result()), r));
  }

  /// A prefill attention launch (after kv_append): each row attends causally up to its position.
  template <template <class> class Prefill>
  void emitPrefill(const Op& op, BucketPlan& bucket, const std::string& kernel) {
    Prefill<BufferRef> t;
    setAttentionCommon(op, attnShape(op.attrs()), t);
    t.positions = ref(op.operand(5));
    t.out = ref(op.result());
    emit(bucket, op, kernelLaunch(kernel, t));
  }

  void lowerAttention(const Op& op, BucketPlan& bucket) {
    const ir::AttrDict& a = op.attrs();
    const ka::AttnShape shape = attnShape(a);
    const BufferRef kCache = ref(op.operand(3));
    const BufferRef vCache = ref(op.operand(4));
    const BufferRef slots = stepInput(StepInput::Slots);
    if (a.has("rope_style")) return lowerAttentionWithRope(op, bucket);
    ka::KvAppend<BufferRef> append;
    append.kNew = ref(op.operand(1));
    append.vNew = ref(op.operand(2));
    append.kCache = kCache;
    append.vCache = vCache;
    append.slots = slots;
    append.positions = ref(op.operand(5));
    append.m = m_;
    append.nKvHeads = shape.nKvHeads;
    append.headDim = shape.headDim;
    append.maxCtx = options_.maxContext;
    append.kStride = append.vStride = shape.nKvHeads * shape.headDim;
    emit(bucket, op, kernelLaunch("kv_append", append));
    const auto fill = [&](auto& t) { setAttentionCommon(op, shape, t); };
    std::string strategy = a.getString("strategy").value_or("");
    const std::optional<ir::AttentionStrategy> chosen = ir::parseAttentionStrategy(strategy);
    const bool prefill = chosen == ir::AttentionStrategy::Prefill || chosen == ir::AttentionStrategy::FlashPrefill;
    if (prefill && op.result()->type().elem == ElemType::Q8_1) cannotLower(op, "a q8_1 result needs strategy decode");
    if (chosen == ir::AttentionStrategy::Prefill) return emitPrefill<ka::AttnPrefill>(op, bucket, "attn_prefill");
    if (chosen == ir::AttentionStrategy::FlashPrefill)
      return emitPrefill<ka::AttnPrefillFlash>(op, bucket, "attn_prefill_flash");
    if (chosen != ir::AttentionStrategy::Decode)
      cannotLower(op, strategy.empty() ? "no strategy chosen (run select-attention)" : "unknown strategy " + strategy);
    const BufferRef kvLens = ref(op.operand(6));
    const int64_t splits = longContext_ ? a.getInt("splits").value_or(1) : 1;
    if (splits <= 1) {
      ka::AttnDecode<BufferRef> t;
      fill(t);
      t.kvLens = kvLens;
      t.out = ref(op.result());
      return emit(bucket, op, kernelLaunch(withEpilogue("attn_decode", op.result()), t));
    }
    ka::AttnSplit<BufferRef> t;
    fill(t);
    t.kvLens = kvLens;
    t.splits = splits;
    setPartials(op, t);
    emit(bucket, op, kernelLaunch("attn_decode_split", t));
    emitReduce(op, bucket, t);
  }

  void lowerArgmax(const Op& op, BucketPlan& bucket) {
    ka::Argmax<BufferRef> g;
    g.x = ref(op.operand(0));
    g.out = stepInput(StepInput::NextTokens);
    g.m = m_;
    g.n = width(op.operand(0));
    Launch l = kernelLaunch("argmax", g);
    l.activationBytes = f32Bytes(op.operand(0));
    emit(bucket, op, std::move(l));
  }

 private:
  const ir::Graph& graph_;
  const LowerOptions& options_;
  passes::CostModel model_;       ///< predicts each step, as the passes predict their choices
  BucketPlan* bucket_ = nullptr;  ///< the bucket lower() builds
  Plan& plan_;
  std::map<std::pair<std::string, WeightLayout>, int64_t>& slots_;
  int64_t m_ = 0;
  int64_t scratchUsed_ = 0;
  bool longContext_ = false;
};

/// A built-in hook: one of GraphLowering's lowerX methods.
using BuiltinLowerFn = void (GraphLowering::*)(const Op&, BucketPlan&);

OpLoweringFn builtin(BuiltinLowerFn lower) {
  return [lower](const Op& op, LoweringContext& context) {
    auto& graph = static_cast<GraphLowering&>(context);
    (graph.*lower)(op, graph.bucket());
  };
}

/// The lowering registry, holding the built-in ops' hooks from the first use on. Sources
/// (input, weight, kv_cache) emit nothing: lowering binds their values where they are read.
HookTable<OpLoweringFn>& loweringRegistry() {
  static HookTable<OpLoweringFn> registry = [] {
    const OpLoweringFn nothing = [](const Op& /*op*/, LoweringContext& /*context*/) {};
    std::map<std::string, OpLoweringFn, std::less<>> builtins{
        {"input", nothing},
        {"weight", nothing},
        {"kv_cache", nothing},
        {"output", builtin(&GraphLowering::lowerOutput)},
        {"embedding", builtin(&GraphLowering::lowerEmbedding)},
        {"rms_norm", builtin(&GraphLowering::lowerRmsNorm)},
        {"add_rms_norm", builtin(&GraphLowering::lowerAddRmsNorm)},
        {"add", builtin(&GraphLowering::lowerElementwise)},
        {"silu_mul", builtin(&GraphLowering::lowerElementwise)},
        {"bias_add", builtin(&GraphLowering::lowerBiasAdd)},
        {"rope", builtin(&GraphLowering::lowerRope)},
        {"quantize_q8_1", builtin(&GraphLowering::lowerQuantize)},
        {"matmul", builtin(&GraphLowering::lowerMatmul)},
        {"matmul_qkv", builtin(&GraphLowering::lowerMatmul)},
        {"matmul_gate_up", builtin(&GraphLowering::lowerMatmul)},
        {"cast_f16", builtin(&GraphLowering::lowerCastF16)},
        {"attention", builtin(&GraphLowering::lowerAttention)},
        {"argmax", builtin(&GraphLowering::lowerArgmax)},
        {"sample", sampleLowering()},
    };
    return HookTable<OpLoweringFn>("lowering", std::move(builtins));
  }();
  return registry;
}

}  // namespace

void cannotLower(const Op& op, const std::string& why) {
  failPlain("graph @{}: cannot lower {}: {}", op.graph().name(), op.describe(), why);
}

void registerOpLowering(const std::string& name, OpLoweringFn lower) {
  loweringRegistry().add(name, std::move(lower));
}

const OpLoweringFn* findOpLowering(std::string_view name) {
  return loweringRegistry().find(name);
}

std::vector<std::string> loweredOpNames() {
  return loweringRegistry().names();
}

std::string canonicalConfigText(const ir::Module& module) {
  // The module attributes minus the quantization scheme: the same model quantized another
  // way has other weights but the same config.
  ir::AttrDict attrs = module.attrs;
  attrs.erase("quant");
  return attrs.str();
}

namespace {

/// The KV cache the module's kv_cache ops describe (f16 [S, n_kv_heads, head_dim] per layer and
/// part); all zero when there is none.
KvCacheShape kvCacheShapeOf(const ir::Module& module) {
  KvCacheShape shape;
  for (const auto& graph : module.graphs) {
    for (const auto& op : graph->ops()) {
      if (op->name() != "kv_cache") continue;
      const ir::TensorType& type = op->result()->type();
      const int64_t layer = op->attrs().getInt("layer").value_or(-1);
      if (type.rank() != 3 || layer < 0 ||
          (shape.kvHeads != 0 && (shape.kvHeads != type.shape[1] || shape.headDim != type.shape[2])))
        cannotLower(*op, "every kv_cache must be f16[S, n_kv_heads, head_dim] of one shape, with a layer");
      shape.layers = std::max(shape.layers, layer + 1);
      shape.kvHeads = type.shape[1];
      shape.headDim = type.shape[2];
    }
  }
  return shape;
}

}  // namespace

Plan lowerModule(const ir::Module& module, const LowerOptions& options) {
  Plan plan;
  plan.model = module.name;
  plan.configHash = hashConfigText(canonicalConfigText(module));
  plan.gpuProfile = options.profile.name;
  plan.bandwidthGBs = options.profile.memoryBandwidthGBs;
  plan.pipeline = options.pipeline;
  plan.maxContext = options.maxContext;
  plan.kvCache = kvCacheShapeOf(module);
  std::map<std::pair<std::string, WeightLayout>, int64_t> slots;
  for (const auto& graph : module.graphs) {
    if (const int64_t ranks = ir::tensorParallelRanks(*graph); ranks > 1)
      failPlain(
          "graph @{} is one rank of tp = {}: a plan for it needs {} GPUs and NCCL collectives, which reel's GPU "
          "runtime does not have yet (the CPU reference runs it: reel run --device cpu)",
          graph->name(), ranks, ranks);
    GraphLowering lowering(*graph, options, plan, slots);
    plan.buckets.push_back(lowering.lower(false));
    if (lowering.hasLongContextVariant()) plan.buckets.push_back(lowering.lower(true));
  }
  plan.moduleIr = ir::printModule(module);
  return plan;
}

}  // namespace reel::codegen
