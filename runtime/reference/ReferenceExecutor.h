#pragma once
/// \file
/// The CPU reference executor: runs one step graph (a bucket graph after the pass
/// pipeline, the @prefill graph, or the generic @step at any M) on the CPU with the GPU
/// kernels' numerics (see RefMatmul.h, RefAttention.h, RefOps.h). It is the oracle every
/// GPU path is checked against, so it favours clarity over speed: fp32 values, fp64 sums.
///
/// Usage:
///   KvCacheState cache({layers, slots, capacity, kvHeads, headDim});
///   ReferenceExecutor executor(*module->findGraph("decode.m4"), weights, cache);
///   StepResult result = executor.step({tokens, positions, kvLens});   // 4 rows
///
/// Rows: in a decode graph row i is sequence slot i (unless StepInputs::slots says
/// otherwise); it appends its k, v at positions[i] and attends over kv_lens[i] entries. In
/// a prefill graph (attribute phase = "prefill") every row belongs to slot 0 (or
/// StepInputs::slots) and row i attends to entries [0, positions[i]]. kv_lens[i] == 0 marks
/// a padding row; padding rows come after the live rows. The ops run the live rows only
/// (every op is row-independent, so a live row's result does not depend on the padding): a
/// padding row costs nothing, writes no KV entry, and its logits and next token are zeros.

#include "ir/Graph.h"
#include "runtime/reference/Collectives.h"
#include "runtime/reference/HostTensor.h"
#include "runtime/reference/KvCache.h"
#include "runtime/reference/OpExecution.h"
#include "runtime/reference/RefMatmul.h"
#include "runtime/reference/WeightSource.h"

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

namespace reel::reference {

/// The dynamic data of one step, one entry per row (padding rows, kv_len 0, last).
struct StepInputs {
  std::vector<int32_t> tokens;
  std::vector<int32_t> positions;
  std::vector<int32_t> kvLens;
  /// The KV-cache slot of each row (the runtime's page table); empty = the graph's default
  /// (decode: row i -> slot i; prefill: every row -> slot 0).
  std::vector<int32_t> slots;
  /// How the `sample` op chooses each row's token: decode::kSamplingWords words per row
  /// (decode::packSampling) and decode::kMaxPenaltyLastN recent tokens per row; both empty:
  /// every row greedy.
  std::vector<int32_t> sampling{};
  std::vector<int32_t> recent{};
};

/// The outputs of one step (empty when the graph has no such output).
struct StepResult {
  int64_t rows = 0;
  int64_t vocab = 0;
  std::vector<float> logits;        ///< rows * vocab
  std::vector<int32_t> nextTokens;  ///< rows

  /// Row r of the logits.
  [[nodiscard]] const float* logitsRow(int64_t r) const { return logits.data() + r * vocab; }
};

struct ExecutorOptions {
  unsigned threads = 2;  ///< threads per matmul (rows of the weight split between them)
  /// This rank's view of its group, for a graph sharded over `tp` ranks (graph attribute
  /// `tp`, ir/TensorParallel.h): the executor reads the rank's pieces of the weights and runs
  /// the collectives through it. nullptr for an unsharded graph.
  Communicator* communicator = nullptr;
};

/// The number of rows of a step graph: its M when specialised, nullopt when generic in M.
std::optional<int64_t> stepGraphRows(const ir::Graph& graph);
/// The live rows of a step: the rows before its first padding row (kv_len 0).
int64_t liveRowCount(const StepInputs& inputs);
/// True for a prefill graph (graph attribute phase = "prefill").
bool isPrefillGraph(const ir::Graph& graph);
/// The KV cache a graph needs for `slots` sequences of `capacity` positions (layers,
/// KV heads and head dim read from its attention ops); throws if it has none.
KvCacheShape kvCacheShapeFor(const ir::Graph& graph, int64_t slots, int64_t capacity);

/// Runs a graph's ops through the execution registry (OpExecution.h). It is the only
/// ExecutionContext, so the built-in hooks downcast to it to reach its weights and KV cache.
class ReferenceExecutor final : public ExecutionContext {
 public:
  /// Prepares `graph` (resolving and checking every weight against `weights`); throws a
  /// reel::Error for an op the reference does not implement or a missing/mismatched weight.
  /// `weights` and `cache` must outlive the executor.
  ReferenceExecutor(const ir::Graph& graph, const WeightSource& weights, KvCacheState& cache,
                    ExecutorOptions options = {});

  /// Runs one step. The input vectors must all have the graph's M rows (any M >= 1 for a
  /// graph generic in M), the padding rows last; throws a reel::Error for bad inputs (token
  /// id outside the vocabulary, position outside the cache, a live row after a padding row,
  /// ...). The result has M rows, zeros in the padding rows.
  StepResult step(const StepInputs& inputs);

  /// The graph's number of rows when it is specialised, nullopt when generic in M.
  [[nodiscard]] std::optional<int64_t> staticRows() const { return staticRows_; }
  [[nodiscard]] bool isPrefill() const { return prefill_; }
  [[nodiscard]] const ir::Graph& graph() const { return graph_; }

  // ---- ExecutionContext -----------------------------------------------------------------
  [[nodiscard]] const HostTensor& operand(const ir::Op& op, unsigned index) const override {
    return operandTensor(op, index);
  }
  void setResult(const ir::Op& op, unsigned index, HostTensor tensor) override;
  [[nodiscard]] unsigned threads() const override { return options_.threads; }

  // ---- the built-in hooks (registered in ReferenceExecutor.cpp) --------------------------
  void runInput(const ir::Op& op);
  void runOutput(const ir::Op& op);
  void runEmbedding(const ir::Op& op);
  void runRmsNorm(const ir::Op& op);
  void runMatmul(const ir::Op& op);
  void runMatmulMulti(const ir::Op& op);
  void runBiasAdd(const ir::Op& op);
  void runRope(const ir::Op& op);
  void runAttention(const ir::Op& op);
  void runAdd(const ir::Op& op);
  void runSiluMul(const ir::Op& op);
  void runArgmax(const ir::Op& op);
  void runSample(const ir::Op& op);
  void runAddRmsNorm(const ir::Op& op);
  void runQuantizeQ81(const ir::Op& op);
  void runCastF16(const ir::Op& op);
  void runAllReduce(const ir::Op& op);
  void runAllGather(const ir::Op& op);
  void runVocabParallelEmbedding(const ir::Op& op);

 private:
  void checkGroup() const;
  void prepareWeight(const ir::Op& op);
  [[nodiscard]] Communicator& communicator(const ir::Op& op) const;
  void prepareMatmulScales();
  void checkInputs(const StepInputs& inputs) const;

  const HostTensor& operandTensor(const ir::Op& op, unsigned index) const;
  [[nodiscard]] MatmulWeight matmulWeight(const ir::Value* weight) const;
  [[nodiscard]] MatmulNumerics matmulNumerics(const ir::Op& op) const;
  HostTensor project(const ir::Op& op, unsigned weightOperand) const;

  const ir::Graph& graph_;
  const WeightSource& source_;
  KvCacheState& cache_;
  ExecutorOptions options_;
  std::optional<int64_t> staticRows_;
  bool prefill_ = false;

  std::vector<std::vector<uint8_t>> weightPieces_;                      ///< copied pieces of sharded weights
  std::unordered_map<const ir::Value*, WeightView> matrices_;           ///< 2-D weights
  std::unordered_map<const ir::Value*, std::vector<float>> vectors_;    ///< norms, biases (f32)
  std::unordered_map<const ir::Value*, std::vector<float>> fp8Scales_;  ///< row scales of fp8 matmuls' weights
  std::unordered_map<const ir::Op*, std::vector<float>> ropeFactors_;   ///< llama3 divisors
  std::unordered_map<const ir::Value*, size_t> lastUse_;                ///< op index of the last use
  std::vector<const OpExecutionFn*> hooks_;                             ///< per op, in graph order

  // Per step.
  StepInputs live_;             ///< the step's live rows: the rows the ops run
  std::vector<int32_t> slots_;  ///< the KV-cache slot of each live row
  std::unordered_map<const ir::Value*, HostTensor> values_;
  StepResult result_;
};

}  // namespace reel::reference
