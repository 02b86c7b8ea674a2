#include "codegen/Lower.h"

#include "codegen/LowerSample.h"
#include "codegen/OpLowering.h"
#include "codegen/PlanCheck.h"
#include "codegen/PlanFile.h"
#include "ir/DecisionAttrs.h"
#include "ir/Printer.h"
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
    const bool gemv = info->family == "gemv";
    step.predictedUs = model_.launch(info->family, bytes, step.dims, gemv ? static_cast<double>(step.ints[3]) : 1.0).us;
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
    Launch l{kernels::embedKernelId(toQType(table->type().elem)),
             {weight(table, WeightLayout::Gguf), ref(op.operand(0)), ref(op.result())},
             {m_, width(op.result()), table->type().shape[0]}};
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
    Launch l{withEpilogue("rms_norm", op.result()),
             {ref(op.operand(0)), weight(op.operand(1), WeightLayout::Gguf), ref(op.result())},
             {m_, width(op.result())},
             {static_cast<float>(*op.attrs().getFloat("eps"))}};
    l.activationBytes = f32Bytes(op.operand(0)) + activationBytes(op.result());
    emit(bucket, op, std::move(l));
  }

  void lowerAddRmsNorm(const Op& op, BucketPlan& bucket) {
    Launch l{withEpilogue("add_rms_norm", op.result(1)),
             {ref(op.operand(0)), ref(op.operand(1)), weight(op.operand(2), WeightLayout::Gguf), ref(op.result(0)),
              ref(op.result(1))},
             {m_, width(op.result())},
             {static_cast<float>(*op.attrs().getFloat("eps"))}};
    l.activationBytes = 3 * f32Bytes(op.result(0)) + activationBytes(op.result(1));
    emit(bucket, op, std::move(l));
  }

  void lowerElementwise(const Op& op, BucketPlan& bucket) {
    if (op.name() == "add") {
      Launch l{"add", {ref(op.operand(0)), ref(op.operand(1)), ref(op.result())}, {m_ * width(op.result())}};
      l.activationBytes = 3 * f32Bytes(op.result());
      return emit(bucket, op, std::move(l));
    }
    Launch l{withEpilogue("swiglu", op.result()),
             {ref(op.operand(0)), ref(op.operand(1)), ref(op.result())},
             {m_ * width(op.result())}};
    if (op.result()->type().elem == ElemType::Q8_1) l.ints = {m_, width(op.result())};
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
    Launch l{"bias_add", {inPlace(op), weight(op.operand(1), WeightLayout::Gguf)}, {m_, width(op.result())}};
    l.activationBytes = 2 * f32Bytes(op.result());
    emit(bucket, op, std::move(l));
  }

  void lowerRope(const Op& op, BucketPlan& bucket) {
    const ir::AttrDict& a = op.attrs();
    Launch l{a.getString("style") == std::optional<std::string>("neox") ? "rope_neox" : "rope_norm",
             {inPlace(op), BufferRef{}, ref(op.operand(1))},
             {m_, *a.getInt("n_heads"), 0, *a.getInt("head_dim"), width(op.result()), 0},
             rotationFloats(a, "")};
    l.activationBytes = 2 * f32Bytes(op.result());
    emit(bucket, op, std::move(l));
  }

  void lowerQuantize(const Op& op, BucketPlan& bucket) {
    Launch l{"quantize_q8_1", {ref(op.operand(0)), ref(op.result())}, {m_, width(op.result())}};
    l.activationBytes = f32Bytes(op.operand(0)) + m_ * static_cast<int64_t>(quant::q81RowBytes(width(op.result())));
    emit(bucket, op, std::move(l));
  }

  /// The Q8_1 activations of a dp4a matmul: its operand, which share-activation-quant made q8_1.
  BufferRef q81Activations(const Op& op) const {
    if (op.operand(0)->type().elem != ElemType::Q8_1)
      cannotLower(op, "dp4a reads q8_1 activations, this operand is f32 (run share-activation-quant)");
    return ref(op.operand(0));
  }

  void lowerMatmul(const Op& op, BucketPlan& bucket) {
    std::string kernel = op.attrs().getString("kernel").value_or("");
    if (kernel == "dp4a") return lowerDp4a(op, bucket);
    if (op.name() != "matmul") cannotLower(op, fmt::format("fused matmuls need kernel \"dp4a\", got \"{}\"", kernel));
    if (kernel == "fp8") return lowerFp8(op, bucket);
    if (kernel == "hgemm") return lowerHgemm(op, bucket);
    cannotLower(op, kernel.empty() ? "no kernel chosen (run select-precision)"
                                   : fmt::format("no kernels of family \"{}\" yet", kernel));
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

  void emitGateUp(const Op& op, BucketPlan& bucket, const GemvRun& run) {
    const Value* w = op.operand(1);
    const int64_t n = w->type().shape[0];
    Launch l{kernels::gemvGateUpKernelId(toQType(w->type().elem)),
             {weight(op.operand(1), matmulLayout(op, 1)), weight(op.operand(2), matmulLayout(op, 2)), run.act,
              offsetBy(ref(op.result(0)), run.row * n * 4), offsetBy(ref(op.result(1)), run.row * n * 4)},
             {n, run.k, run.rows, run.rowSets}};
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
    Launch l{count == 1          ? kernels::gemvKernelId(qtype)
             : lastType != qtype ? kernels::gemvMixedStackKernelId(qtype, lastType, count)
                                 : kernels::gemvStackedKernelId(qtype, count),
             {},
             {0, run.k, run.rows, run.rowSets}};
    std::vector<BufferRef> outs;
    for (unsigned i = run.first; i < run.last; ++i) {
      const Value* w = op.operand(i + 1);
      const int64_t n = w->type().shape[0];
      l.ptrs.push_back(weight(w, matmulLayout(op, i + 1)));
      outs.push_back(offsetBy(ref(op.result(i)), run.row * n * 4));
      l.ints[0] += n;
      if (count > 1) l.ints.push_back(n);
      l.weightBytes += *w->type().numBytes(1, 1);
    }
    l.ptrs.push_back(run.act);
    l.ptrs.insert(l.ptrs.end(), outs.begin(), outs.end());
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
    Launch quantize{"fp8_quantize_act", {ref(x), actFp8, actScale}, {m_, k}};
    quantize.activationBytes = f32Bytes(x);
    emit(bucket, op, std::move(quantize));
    const BufferRef wData = weight(w, matmulLayout(op, 1));
    Launch gemm{"fp8_gemm_cublaslt",
                {wData, offsetBy(wData, alignUp(n * k, 256)), actFp8, actScale, ref(op.result())},
                {m_, n, k, 1}};
    gemm.weightBytes = n * k + n * 4;
    emit(bucket, op, std::move(gemm));
  }

  /// HGEMM on the f16 activations cast_f16 made (share-activation-quant).
  void lowerHgemm(const Op& op, BucketPlan& bucket) {
    const Value* x = op.operand(0);
    const Value* w = op.operand(1);
    if (x->type().elem != ElemType::F16)
      cannotLower(op, "hgemm reads f16 activations, this operand is f32 (run share-activation-quant)");
    Launch gemm{
        "hgemm_cublas", {weight(w, matmulLayout(op, 1)), ref(x), ref(op.result())}, {m_, w->type().shape[0], width(x)}};
    gemm.weightBytes = w->type().shape[0] * width(x) * 2;
    emit(bucket, op, std::move(gemm));
  }

  void lowerCastF16(const Op& op, BucketPlan& bucket) {
    Launch l{"cast_f32_f16", {ref(op.operand(0)), ref(op.result())}, {m_ * width(op.result())}};
    l.activationBytes = f32Bytes(op.operand(0)) + m_ * width(op.result()) * 2;
    emit(bucket, op, std::move(l));
  }

  /// The rotation floats of the rope kernels, from a rope op's attributes (prefix "") or an
  /// attention's rope_* attributes.
  static std::vector<float> rotationFloats(const ir::AttrDict& a, const std::string& prefix) {
    const bool llama3 = a.has(prefix + "scaling");
    return {static_cast<float>(*a.getFloat(prefix + "freq_base")),
            llama3 ? static_cast<float>(*a.getFloat(prefix + "scale_factor")) : 1.0f,
            llama3 ? static_cast<float>(*a.getFloat(prefix + "low_freq_factor")) : 1.0f,
            llama3 ? static_cast<float>(*a.getFloat(prefix + "high_freq_factor")) : 1.0f,
            llama3 ? static_cast<float>(*a.getInt(prefix + "original_context")) : 0.0f};
  }

  /// fuse-rope-attention's attention: one launch rotates q and k, appends k and v, attends.
  void lowerAttentionWithRope(const Op& op, BucketPlan& bucket) {
    const ir::AttrDict& a = op.attrs();
    std::string strategy = a.getString("strategy").value_or("");
    if (strategy != ir::attentionStrategyName(ir::AttentionStrategy::Decode))
      cannotLower(op, "rope_* attributes need strategy decode, got " + strategy);
    int64_t heads = *a.getInt("n_heads");
    int64_t kvHeads = *a.getInt("n_kv_heads");
    int64_t headDim = *a.getInt("head_dim");
    std::vector<BufferRef> ptrs{ref(op.operand(0)), ref(op.operand(1)), ref(op.operand(2)),
                                ref(op.operand(3)), ref(op.operand(4)), stepInput(StepInput::Slots),
                                ref(op.operand(6)), ref(op.operand(5))};
    std::vector<int64_t> ints{
        m_, heads, kvHeads, headDim, options_.maxContext, a.getInt("window").value_or(0), heads * headDim};
    int64_t splits = longContext_ ? a.getInt("splits").value_or(1) : 1;
    if (splits > 1) ints.push_back(splits);
    ints.insert(ints.end(), {width(op.operand(1)), width(op.operand(2)),
                             a.getString("rope_style") == std::optional<std::string>("neox") ? 1 : 0});
    std::vector<float> floats{1.0f / std::sqrt(static_cast<float>(headDim))};
    for (float f : rotationFloats(a, "rope_")) floats.push_back(f);
    if (splits <= 1) {
      ptrs.push_back(ref(op.result()));
      Launch l{withEpilogue("attn_decode_rope", op.result()), std::move(ptrs), std::move(ints), std::move(floats)};
      l.activationBytes = f32Bytes(op.operand(0)) + 2 * f32Bytes(op.operand(1)) + activationBytes(op.result());
      return emit(bucket, op, std::move(l));
    }
    const BufferRef partOut = workspace(op, passes::splitAttentionWorkspace(m_, heads, splits, headDim));
    const BufferRef partMl = offsetBy(partOut, passes::splitPairsOffset(m_, heads, splits, headDim));
    ptrs.push_back(partOut);
    ptrs.push_back(partMl);
    emit(bucket, op, {"attn_decode_split_rope", std::move(ptrs), std::move(ints), std::move(floats)});
    emit(bucket, op,
         {withEpilogue("attn_decode_reduce", op.result()),
          {partOut, partMl, ref(op.result())},
          {m_, heads, headDim, splits},
          {}});
  }

  void lowerAttention(const Op& op, BucketPlan& bucket) {
    const ir::AttrDict& a = op.attrs();
    int64_t heads = *a.getInt("n_heads");
    int64_t kvHeads = *a.getInt("n_kv_heads");
    int64_t headDim = *a.getInt("head_dim");
    int64_t window = a.getInt("window").value_or(0);
    BufferRef kCache = ref(op.operand(3));
    BufferRef vCache = ref(op.operand(4));
    BufferRef slots = stepInput(StepInput::Slots);
    if (a.has("rope_style")) return lowerAttentionWithRope(op, bucket);
    Launch append{"kv_append",
                  {ref(op.operand(1)), ref(op.operand(2)), kCache, vCache, slots, ref(op.operand(5))},
                  {m_, kvHeads, headDim, options_.maxContext, kvHeads * headDim, kvHeads * headDim}};
    emit(bucket, op, std::move(append));
    std::vector<int64_t> ints{m_, heads, kvHeads, headDim, options_.maxContext, window, heads * headDim};
    std::vector<float> scale{1.0f / std::sqrt(static_cast<float>(headDim))};
    std::string strategy = a.getString("strategy").value_or("");
    const std::optional<ir::AttentionStrategy> chosen = ir::parseAttentionStrategy(strategy);
    if (chosen == ir::AttentionStrategy::Prefill && op.result()->type().elem == ElemType::Q8_1)
      cannotLower(op, "a q8_1 result needs strategy decode");
    if (chosen == ir::AttentionStrategy::Prefill) {
      emit(bucket, op,
           {"attn_prefill",
            {ref(op.operand(0)), kCache, vCache, slots, ref(op.operand(5)), ref(op.result())},
            ints,
            scale});
      return;
    }
    if (chosen != ir::AttentionStrategy::Decode)
      cannotLower(op, strategy.empty() ? "no strategy chosen (run select-attention)" : "unknown strategy " + strategy);
    BufferRef kvLens = ref(op.operand(6));
    int64_t splits = longContext_ ? a.getInt("splits").value_or(1) : 1;
    if (splits <= 1) {
      emit(bucket, op,
           {withEpilogue("attn_decode", op.result()),
            {ref(op.operand(0)), kCache, vCache, slots, kvLens, ref(op.result())},
            ints,
            scale});
      return;
    }
    const BufferRef partOut = workspace(op, passes::splitAttentionWorkspace(m_, heads, splits, headDim));
    const BufferRef partMl = offsetBy(partOut, passes::splitPairsOffset(m_, heads, splits, headDim));
    std::vector<int64_t> splitInts = ints;
    splitInts.push_back(splits);
    emit(bucket, op,
         {"attn_decode_split", {ref(op.operand(0)), kCache, vCache, slots, kvLens, partOut, partMl}, splitInts, scale});
    emit(bucket, op,
         {withEpilogue("attn_decode_reduce", op.result()),
          {partOut, partMl, ref(op.result())},
          {m_, heads, headDim, splits},
          {}});
  }

  void lowerArgmax(const Op& op, BucketPlan& bucket) {
    Launch l{"argmax", {ref(op.operand(0)), stepInput(StepInput::NextTokens)}, {m_, width(op.operand(0))}};
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
    GraphLowering lowering(*graph, options, plan, slots);
    plan.buckets.push_back(lowering.lower(false));
    if (lowering.hasLongContextVariant()) plan.buckets.push_back(lowering.lower(true));
  }
  plan.moduleIr = ir::printModule(module);
  return plan;
}

}  // namespace reel::codegen
