#include "runtime/reference/ReferenceExecutor.h"

#include "ir/TensorParallel.h"
#include "ir/Verifier.h"
#include "models/RopeFactors.h"
#include "runtime/decode/Sampling.h"
#include "runtime/reference/FastRound.h"
#include "runtime/reference/RefAttention.h"
#include "runtime/reference/RefOps.h"
#include "runtime/reference/RefSample.h"
#include "support/Diagnostics.h"
#include "support/HookTable.h"

#include <fmt/format.h>

#include <algorithm>

namespace reel::reference {

namespace {

bool readsWeights(const ir::Op& op) {
  return op.name() == "matmul" || op.name() == "matmul_qkv" || op.name() == "matmul_gate_up";
}

double floatAttr(const ir::Op& op, const std::string& name) {
  std::optional<double> value = op.attrs().getFloat(name);
  if (!value) failPlain("reference executor: {} has no attribute '{}'", op.describe(), name);
  return *value;
}

int64_t intAttr(const ir::Op& op, const std::string& name) {
  std::optional<int64_t> value = op.attrs().getInt(name);
  if (!value) failPlain("reference executor: {} has no attribute '{}'", op.describe(), name);
  return *value;
}

/// The first `rows` rows of a step's inputs (with their sampling words and recent tokens).
StepInputs firstRows(const StepInputs& inputs, int64_t rows) {
  auto head = [rows](const std::vector<int32_t>& values, size_t perRow) {
    const size_t count = std::min(values.size(), static_cast<size_t>(rows) * perRow);
    return std::vector<int32_t>(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(count));
  };
  return {head(inputs.tokens, 1),
          head(inputs.positions, 1),
          head(inputs.kvLens, 1),
          head(inputs.slots, 1),
          head(inputs.sampling, decode::kSamplingWords),
          head(inputs.recent, decode::kMaxPenaltyLastN)};
}

}  // namespace

int64_t liveRowCount(const StepInputs& inputs) {
  return std::find(inputs.kvLens.begin(), inputs.kvLens.end(), 0) - inputs.kvLens.begin();
}

std::optional<int64_t> stepGraphRows(const ir::Graph& graph) {
  for (const auto& op : graph.ops())
    if (op->name() == "input") {
      const ir::Dim rows = op->result()->type().shape[0];
      return rows >= 0 ? std::optional<int64_t>(rows) : std::nullopt;
    }
  return std::nullopt;
}

bool isPrefillGraph(const ir::Graph& graph) {
  return graph.attrs().getString("phase") == std::optional<std::string>("prefill");
}

KvCacheShape kvCacheShapeFor(const ir::Graph& graph, int64_t slots, int64_t capacity) {
  KvCacheShape shape;
  shape.slots = slots;
  shape.capacity = capacity;
  for (const auto& op : graph.ops()) {
    if (op->name() != "attention") continue;
    shape.layers = std::max(shape.layers, intAttr(*op, "layer") + 1);
    shape.kvHeads = intAttr(*op, "n_kv_heads");
    shape.headDim = intAttr(*op, "head_dim");
  }
  if (shape.layers == 0) failPlain("graph @{} has no attention op: no KV cache to size", graph.name());
  return shape;
}

namespace {

static_assert(decode::kSamplingWords == kernels::kSampleRowWords && decode::kMaxPenaltyLastN == kernels::kSampleWindow,
              "the scheduler packs the sample kernel's step inputs");

/// A built-in hook: one of ReferenceExecutor's runX methods.
using BuiltinRunFn = void (ReferenceExecutor::*)(const ir::Op&);

OpExecutionFn builtin(BuiltinRunFn run) {
  return [run](const ir::Op& op, ExecutionContext& context) { (static_cast<ReferenceExecutor&>(context).*run)(op); };
}

/// The execution registry, holding the built-in ops' hooks from the first use on. Weights
/// and KV caches are resolved when the executor is built; running them does nothing.
HookTable<OpExecutionFn>& executionRegistry() {
  static HookTable<OpExecutionFn> registry = [] {
    const OpExecutionFn nothing = [](const ir::Op& /*op*/, ExecutionContext& /*context*/) {};
    std::map<std::string, OpExecutionFn, std::less<>> builtins{
        {"input", builtin(&ReferenceExecutor::runInput)},
        {"weight", nothing},
        {"kv_cache", nothing},
        {"output", builtin(&ReferenceExecutor::runOutput)},
        {"embedding", builtin(&ReferenceExecutor::runEmbedding)},
        {"rms_norm", builtin(&ReferenceExecutor::runRmsNorm)},
        {"matmul", builtin(&ReferenceExecutor::runMatmul)},
        {"bias_add", builtin(&ReferenceExecutor::runBiasAdd)},
        {"rope", builtin(&ReferenceExecutor::runRope)},
        {"attention", builtin(&ReferenceExecutor::runAttention)},
        {"add", builtin(&ReferenceExecutor::runAdd)},
        {"silu_mul", builtin(&ReferenceExecutor::runSiluMul)},
        {"argmax", builtin(&ReferenceExecutor::runArgmax)},
        {"sample", builtin(&ReferenceExecutor::runSample)},
        {"matmul_qkv", builtin(&ReferenceExecutor::runMatmulMulti)},
        {"matmul_gate_up", builtin(&ReferenceExecutor::runMatmulMulti)},
        {"add_rms_norm", builtin(&ReferenceExecutor::runAddRmsNorm)},
        {"quantize_q8_1", builtin(&ReferenceExecutor::runQuantizeQ81)},
        {"cast_f16", builtin(&ReferenceExecutor::runCastF16)},
        {"all_reduce", builtin(&ReferenceExecutor::runAllReduce)},
        {"all_gather", builtin(&ReferenceExecutor::runAllGather)},
        {"vocab_parallel_embedding", builtin(&ReferenceExecutor::runVocabParallelEmbedding)},
    };
    return HookTable<OpExecutionFn>("reference execution", std::move(builtins));
  }();
  return registry;
}

}  // namespace

void registerOpExecution(const std::string& name, OpExecutionFn run) {
  executionRegistry().add(name, std::move(run));
}

const OpExecutionFn* findOpExecution(std::string_view name) {
  return executionRegistry().find(name);
}

std::vector<std::string> executedOpNames() {
  return executionRegistry().names();
}

ReferenceExecutor::ReferenceExecutor(const ir::Graph& graph, const WeightSource& weights, KvCacheState& cache,
                                     ExecutorOptions options)
    : graph_(graph), source_(weights), cache_(cache), options_(options), staticRows_(stepGraphRows(graph)) {
  // A graph from a file (a plan's IR) is executed only once it verifies: the kernels below
  // trust the shapes and attributes the verifier checks.
  if (std::optional<std::string> why = ir::findVerifyError(graph)) failPlain("reference executor: {}", *why);
  prefill_ = isPrefillGraph(graph);
  checkGroup();
  size_t index = 0;
  for (const auto& op : graph.ops()) {
    const OpExecutionFn* hook = findOpExecution(op->name());
    if (!hook)
      failPlain("reference executor: graph @{}: {}: no reference execution is registered for this op", graph.name(),
                op->describe());
    hooks_.push_back(hook);
    if (op->name() == "weight") prepareWeight(*op);
    // llama3 divisors of a rope op, or of an attention rotating its own q and k (rope_*).
    const std::string prefix = op->name() == "attention" ? "rope_" : "";
    if ((op->name() == "rope" || op->name() == "attention") &&
        op->attrs().getString(prefix + "scaling") == std::optional<std::string>("llama3")) {
      models::Llama3RopeScaling params{
          floatAttr(*op, prefix + "scale_factor"), floatAttr(*op, prefix + "low_freq_factor"),
          floatAttr(*op, prefix + "high_freq_factor"), intAttr(*op, prefix + "original_context")};
      ropeFactors_[op.get()] =
          models::llama3RopeFactors(intAttr(*op, "head_dim"), floatAttr(*op, prefix + "freq_base"), params);
    }
    for (const ir::Value* operand : op->operands()) lastUse_[operand] = index;
    ++index;
  }
  prepareMatmulScales();
}

void ReferenceExecutor::checkGroup() const {
  const int64_t ranks = ir::tensorParallelRanks(graph_);
  const int64_t groupRanks = options_.communicator ? options_.communicator->ranks() : 1;
  if (ranks != groupRanks)
    failPlain("reference executor: graph @{} is one rank of tp = {}, but runs in a group of {} ranks", graph_.name(),
              ranks, groupRanks);
}

Communicator& ReferenceExecutor::communicator(const ir::Op& op) const {
  if (!options_.communicator) failPlain("reference executor: {} needs a tensor-parallel group", op.describe());
  return *options_.communicator;
}

void ReferenceExecutor::prepareWeight(const ir::Op& op) {
  std::string name = op.attrs().getString("name").value_or("");
  std::optional<WeightView> view = source_.find(name);
  if (!view) failPlain("{}: has no tensor '{}' (needed by {})", source_.describe(), name, op.describe());
  if (std::optional<ir::WeightShard> shard = ir::weightShard(op)) {
    // This rank's piece: the values of the whole tensor are checked, the shape of the piece.
    source_.checkValues(*view);
    const int64_t piece = ir::shardPiece(*shard, communicator(op).rank(), communicator(op).ranks());
    view = weightPiece(*view, *shard, piece, weightPieces_.emplace_back());
  }
  checkWeightMatches(op, *view, source_);
  if (op.result()->type().rank() == 1)
    vectors_[op.result()] = dequantizeVector(*view);
  else
    matrices_[op.result()] = *view;
}

void ReferenceExecutor::prepareMatmulScales() {
  for (const auto& op : graph_.ops()) {
    if (!readsWeights(*op) || matmulNumerics(*op) != MatmulNumerics::Fp8) continue;
    for (unsigned i = 1; i < op->numOperands(); ++i) {
      const ir::Value* weight = op->operand(i);
      if (!fp8Scales_.count(weight)) fp8Scales_[weight] = fp8WeightRowScales(matrices_.at(weight), options_.threads);
    }
  }
}

MatmulNumerics ReferenceExecutor::matmulNumerics(const ir::Op& op) const {
  const MatmulNumerics numerics = numericsOf(op.attrs().getString("kernel"));
  // Q8_1 activations are read by dp4a or mma (the verifier's rule); without a kernel, by dp4a.
  if (op.operand(0)->type().elem == ir::ElemType::Q8_1 && numerics != MatmulNumerics::Mma) return MatmulNumerics::Dp4a;
  return numerics;
}

void ReferenceExecutor::checkInputs(const StepInputs& inputs) const {
  const size_t rows = inputs.tokens.size();
  if (rows == 0) failPlain("reference step on @{}: no rows", graph_.name());
  if (inputs.positions.size() != rows || inputs.kvLens.size() != rows ||
      (!inputs.slots.empty() && inputs.slots.size() != rows))
    failPlain("reference step on @{}: {} tokens but {} positions, {} kv_lens and {} slots", graph_.name(), rows,
              inputs.positions.size(), inputs.kvLens.size(), inputs.slots.size());
  if (staticRows_ && static_cast<int64_t>(rows) != *staticRows_)
    failPlain("reference step on @{}: the graph takes {} rows, got {} (pad with kv_len 0 rows)", graph_.name(),
              *staticRows_, rows);
  if ((!inputs.sampling.empty() && inputs.sampling.size() != rows * decode::kSamplingWords) ||
      inputs.recent.size() != (inputs.sampling.empty() ? 0 : rows * decode::kMaxPenaltyLastN))
    failPlain("reference step on @{}: {} rows but {} sampling words and {} recent tokens", graph_.name(), rows,
              inputs.sampling.size(), inputs.recent.size());
  for (int32_t slot : inputs.slots)
    if (slot < 0 || slot >= cache_.shape().slots)
      failPlain("reference step on @{}: slot {} is outside the KV cache's {} slots", graph_.name(), slot,
                cache_.shape().slots);
  const auto live = static_cast<size_t>(liveRowCount(inputs));
  for (size_t r = live; r < rows; ++r)
    if (inputs.kvLens[r] != 0)
      failPlain("reference step on @{}: row {} has kv_len {} after padding row {} (padding rows come last)",
                graph_.name(), r, inputs.kvLens[r], live);
}

StepResult ReferenceExecutor::step(const StepInputs& inputs) {
  checkInputs(inputs);
  // The ops run the live rows only: padding rows read and write nothing, and their outputs
  // are zeros (runOutput).
  live_ = firstRows(inputs, liveRowCount(inputs));
  const auto live = static_cast<int32_t>(live_.tokens.size());
  slots_ = live_.slots;
  if (slots_.empty()) {
    slots_.resize(static_cast<size_t>(live));
    for (int32_t r = 0; r < live; ++r) slots_[static_cast<size_t>(r)] = prefill_ ? 0 : r;
    if (!prefill_ && live > cache_.shape().slots)
      failPlain("reference step on @{}: {} rows need {} KV-cache slots, the cache has {}", graph_.name(), live, live,
                cache_.shape().slots);
  }
  values_.clear();
  result_ = StepResult{};
  result_.rows = static_cast<int64_t>(inputs.tokens.size());
  size_t index = 0;
  for (const auto& op : graph_.ops()) {
    (*hooks_[index])(*op, *this);
    for (const ir::Value* operand : op->operands())
      if (lastUse_.at(operand) == index) values_.erase(operand);
    ++index;
  }
  values_.clear();
  live_ = StepInputs{};
  return std::move(result_);
}

const HostTensor& ReferenceExecutor::operandTensor(const ir::Op& op, unsigned index) const {
  auto found = values_.find(op.operand(index));
  if (found == values_.end())
    failPlain("reference executor: {} reads %{}, which holds no tensor", op.describe(), op.operand(index)->name());
  return found->second;
}

void ReferenceExecutor::setResult(const ir::Op& op, unsigned index, HostTensor tensor) {
  // A q8_1 result of an f32 op (a folded quantize_q8_1) holds the Q8_1 form of its rows.
  if (op.result(index)->type().elem == ir::ElemType::Q8_1 && tensor.kind == HostKind::F32)
    tensor = quantizeRowsQ81(tensor);
  // An f16 result holds its values rounded to f16, in f32.
  if (op.result(index)->type().elem == ir::ElemType::F16 && tensor.kind == HostKind::F32)
    for (float& v : tensor.f32) v = roundToF16(v);
  values_[op.result(index)] = std::move(tensor);
}

MatmulWeight ReferenceExecutor::matmulWeight(const ir::Value* weight) const {
  auto found = matrices_.find(weight);
  if (found == matrices_.end()) failPlain("reference executor: %{} is not a matrix weight", weight->name());
  auto scales = fp8Scales_.find(weight);
  return {&found->second, scales == fp8Scales_.end() ? nullptr : &scales->second};
}

HostTensor ReferenceExecutor::project(const ir::Op& op, unsigned weightOperand) const {
  return matmul(operandTensor(op, 0), matmulWeight(op.operand(weightOperand)), matmulNumerics(op),
                MatmulRun{options_.threads});
}

void ReferenceExecutor::runInput(const ir::Op& op) {
  const std::string name = op.attrs().getString("name").value_or("");
  const std::vector<int32_t>* source = name == "token_ids"   ? &live_.tokens
                                       : name == "positions" ? &live_.positions
                                       : name == "kv_lens"   ? &live_.kvLens
                                                             : nullptr;
  if (source == nullptr) failPlain("reference executor: unknown step input '{}'", name);
  HostTensor tensor = HostTensor::zeros(HostKind::I32, static_cast<int64_t>(source->size()), 1);
  tensor.i32 = *source;
  setResult(op, 0, std::move(tensor));
}

void ReferenceExecutor::runOutput(const ir::Op& op) {
  const std::string name = op.attrs().getString("name").value_or("");
  const HostTensor& value = operandTensor(op, 0);
  // The value holds the live rows; the padding rows after them get zeros.
  if (name == "logits" && value.kind == HostKind::F32) {
    result_.vocab = value.cols;
    result_.logits = value.f32;
    result_.logits.resize(static_cast<size_t>(result_.rows * value.cols), 0.0f);
  } else if (name == "next_tokens" && value.kind == HostKind::I32) {
    result_.nextTokens = value.i32;
    result_.nextTokens.resize(static_cast<size_t>(result_.rows), 0);
  }
}

void ReferenceExecutor::runEmbedding(const ir::Op& op) {
  setResult(op, 0, embedding(operandTensor(op, 0), matrices_.at(op.operand(1))));
}

void ReferenceExecutor::runRmsNorm(const ir::Op& op) {
  setResult(op, 0, rmsNorm(operandTensor(op, 0), vectors_.at(op.operand(1)), floatAttr(op, "eps")));
}

void ReferenceExecutor::runMatmul(const ir::Op& op) {
  setResult(op, 0, project(op, 1));
}

void ReferenceExecutor::runMatmulMulti(const ir::Op& op) {
  for (unsigned i = 0; i < op.numResults(); ++i) setResult(op, i, project(op, i + 1));
}

void ReferenceExecutor::runBiasAdd(const ir::Op& op) {
  setResult(op, 0, biasAdd(operandTensor(op, 0), vectors_.at(op.operand(1))));
}

void ReferenceExecutor::runRope(const ir::Op& op) {
  RopeSpec spec;
  spec.neox = op.attrs().getString("style") == std::optional<std::string>("neox");
  spec.heads = intAttr(op, "n_heads");
  spec.headDim = intAttr(op, "head_dim");
  spec.freqBase = floatAttr(op, "freq_base");
  if (auto factors = ropeFactors_.find(&op); factors != ropeFactors_.end()) spec.factors = factors->second;
  setResult(op, 0, rope(operandTensor(op, 0), operandTensor(op, 1).i32, spec));
}

void ReferenceExecutor::runAttention(const ir::Op& op) {
  AttentionSpec spec;
  spec.layer = intAttr(op, "layer");
  spec.heads = intAttr(op, "n_heads");
  spec.kvHeads = intAttr(op, "n_kv_heads");
  spec.headDim = intAttr(op, "head_dim");
  spec.window = op.attrs().getInt("window");
  spec.prefill = prefill_;
  AttentionRows rows{&operandTensor(op, 5).i32, &operandTensor(op, 6).i32, &slots_};
  if (!op.attrs().has("rope_style")) {
    setResult(op, 0,
              attention(operandTensor(op, 0), operandTensor(op, 1), operandTensor(op, 2), spec, rows, cache_,
                        options_.threads));
    return;
  }
  // fuse-rope-attention: q and k arrive un-rotated.
  RopeSpec rotation;
  rotation.neox = op.attrs().getString("rope_style") == std::optional<std::string>("neox");
  rotation.headDim = spec.headDim;
  rotation.freqBase = floatAttr(op, "rope_freq_base");
  if (auto factors = ropeFactors_.find(&op); factors != ropeFactors_.end()) rotation.factors = factors->second;
  rotation.heads = spec.heads;
  const HostTensor q = rope(operandTensor(op, 0), *rows.positions, rotation);
  rotation.heads = spec.kvHeads;
  const HostTensor k = rope(operandTensor(op, 1), *rows.positions, rotation);
  setResult(op, 0, attention(q, k, operandTensor(op, 2), spec, rows, cache_, options_.threads));
}

void ReferenceExecutor::runAdd(const ir::Op& op) {
  setResult(op, 0, add(operandTensor(op, 0), operandTensor(op, 1)));
}

void ReferenceExecutor::runSiluMul(const ir::Op& op) {
  setResult(op, 0, siluMul(operandTensor(op, 0), operandTensor(op, 1)));
}

void ReferenceExecutor::runArgmax(const ir::Op& op) {
  setResult(op, 0, argmaxRows(operandTensor(op, 0)));
}

void ReferenceExecutor::runSample(const ir::Op& op) {
  const HostTensor& logits = operandTensor(op, 0);
  const auto rows = static_cast<size_t>(logits.rows);
  if (!live_.sampling.empty()) {
    setResult(op, 0, sampleRows(logits, live_.sampling, live_.recent, live_.positions));
    return;
  }
  // No sampling given: every row greedy.
  std::vector<int32_t> sampling(rows * decode::kSamplingWords);
  for (size_t r = 0; r < rows; ++r) decode::packSampling({}, sampling.data() + r * decode::kSamplingWords);
  setResult(op, 0,
            sampleRows(logits, sampling, std::vector<int32_t>(rows * kernels::kSampleWindow, -1), live_.positions));
}

void ReferenceExecutor::runAddRmsNorm(const ir::Op& op) {
  HostTensor sum = add(operandTensor(op, 0), operandTensor(op, 1));
  HostTensor normed = rmsNorm(sum, vectors_.at(op.operand(2)), floatAttr(op, "eps"));
  setResult(op, 0, std::move(sum));
  setResult(op, 1, std::move(normed));
}

void ReferenceExecutor::runQuantizeQ81(const ir::Op& op) {
  setResult(op, 0, quantizeRowsQ81(operandTensor(op, 0)));
}

void ReferenceExecutor::runCastF16(const ir::Op& op) {
  setResult(op, 0, operandTensor(op, 0));
}

void ReferenceExecutor::runAllReduce(const ir::Op& op) {
  setResult(op, 0, communicator(op).allReduceSum(operandTensor(op, 0)));
}

void ReferenceExecutor::runAllGather(const ir::Op& op) {
  setResult(op, 0, communicator(op).allGatherColumns(operandTensor(op, 0)));
}

void ReferenceExecutor::runVocabParallelEmbedding(const ir::Op& op) {
  // This rank holds the table rows of tokens [first, first + rows); the other ranks' tokens
  // get zero rows here and their values from their own rank in the all_reduce after.
  const WeightView& table = matrices_.at(op.operand(1));
  const Communicator& group = communicator(op);
  const int64_t first = group.rank() * table.rows;
  const HostTensor& tokens = operandTensor(op, 0);
  HostTensor local = tokens;
  std::vector<uint8_t> mine(local.i32.size(), 0);
  for (size_t r = 0; r < local.i32.size(); ++r) {
    const int32_t token = local.i32[r];
    if (token < 0 || token >= table.rows * group.ranks())
      failPlain("embedding: token id {} (row {}) is outside the vocabulary of {} tokens", token, r,
                table.rows * group.ranks());
    mine[r] = token >= first && token < first + table.rows ? 1 : 0;
    local.i32[r] = mine[r] ? static_cast<int32_t>(token - first) : 0;
  }
  HostTensor rows = embedding(local, table);
  for (int64_t r = 0; r < rows.rows; ++r)
    if (!mine[static_cast<size_t>(r)]) std::fill_n(rows.row(r), rows.cols, 0.0f);
  setResult(op, 0, std::move(rows));
}

}  // namespace reel::reference
