#pragma once
/// \file
/// The CPU reference as a decode::StepExecutor: the step graphs of a module (bucket graphs
/// specialised to M rows, or one generic in M, and the prefill graph), one
/// ReferenceExecutor per graph, and one KV cache they share. A step runs through the
/// smallest bucket that holds its live rows; padding rows (KV length 0) fill it, which the
/// ReferenceExecutor does not run.
///
/// A module sharded for tp ranks (graph attribute `tp`, ir/TensorParallel.h) runs as tp
/// simulated ranks: one executor and one KV cache per rank and graph, the ranks of a step on
/// threads of an InProcessGroup; the step's result is rank 0's (every rank gathers the same
/// logits and chooses the same tokens).
///
/// runGreedyDecode is the batch entry of `reel run --device cpu` and of the parity tests: it
/// sizes the KV cache from the request, then runs decode::runDecode on this executor.

#include "ir/Graph.h"
#include "runtime/decode/DecodeScheduler.h"
#include "runtime/reference/KvCache.h"
#include "runtime/reference/ReferenceExecutor.h"
#include "runtime/reference/WeightSource.h"

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

namespace reel::reference {

/// The step graphs of a module, found by their shape and phase.
struct StepGraphs {
  const ir::Graph* generic = nullptr;           ///< a decode graph generic in M (@step)
  std::map<int64_t, const ir::Graph*> buckets;  ///< decode graphs specialised to M rows
  const ir::Graph* prefill = nullptr;           ///< a prefill graph generic in M (phase = "prefill")
  std::map<int64_t, const ir::Graph*> prefills;  ///< prefill graphs specialised to M rows (@prefill, @prefill.m64)
};

/// Classifies the graphs of `module`; throws if it has no decode graph.
StepGraphs findStepGraphs(const ir::Module& module);

/// True when `graph` chooses its next tokens with a `sample` op (it honours
/// decode::StepRows::sampling), false when it takes the argmax.
bool samples(const ir::Graph& graph);

/// How the reference runs steps.
struct ReferenceStepOptions {
  /// Bucket sizes for a generic decode graph (ignored when the module has bucket graphs).
  std::vector<int64_t> buckets{1, 2, 4, 8};
  /// Rows per prefill step when the prefill graph is generic in M.
  int64_t prefillChunk = 64;
  unsigned threads = 2;  ///< threads per matmul
};

class ReferenceStepExecutor final : public decode::StepExecutor {
 public:
  /// `graphs` and `weights` must outlive the executor; the KV cache holds `kv`.
  ReferenceStepExecutor(const StepGraphs& graphs, const WeightSource& weights, const decode::KvGeometry& kv,
                        ReferenceStepOptions options);

  [[nodiscard]] int64_t largestRows(decode::Phase phase) const override;
  [[nodiscard]] decode::KvGeometry kvGeometry() const override { return kv_; }
  const std::vector<int32_t>& step(decode::Phase phase, const decode::StepRows& rows) override;
  [[nodiscard]] std::vector<float> logitsRow(int64_t row) const override;
  [[nodiscard]] decode::StepInfo lastStep() const override { return last_; }

 private:
  /// The graph a step of `rows` live rows runs through, and the rows it takes.
  struct Choice {
    const ir::Graph* graph = nullptr;
    int64_t rows = 0;
  };
  [[nodiscard]] Choice choose(decode::Phase phase, int64_t rows) const;
  /// The executors of `graph`, one per rank.
  std::vector<std::unique_ptr<ReferenceExecutor>>& executorsFor(const ir::Graph& graph);
  StepResult runRanks(const ir::Graph& graph, const StepInputs& inputs);

  const StepGraphs& graphs_;
  const WeightSource& weights_;
  decode::KvGeometry kv_;
  ReferenceStepOptions options_;
  std::vector<std::unique_ptr<KvCacheState>> caches_;  ///< one per rank
  std::unique_ptr<InProcessGroup> group_;              ///< the ranks of a sharded module; null for one rank
  std::map<const ir::Graph*, std::vector<std::unique_ptr<ReferenceExecutor>>> executors_;
  StepResult result_;
  std::vector<int32_t> next_;
  decode::StepInfo last_;
};

/// How runGreedyDecode runs a batch on the reference.
struct DecodeOptions {
  std::vector<int64_t> buckets{1, 2, 4, 8};  ///< ReferenceStepOptions::buckets
  decode::PrefillMode prefill = decode::PrefillMode::Auto;
  int64_t prefillChunk = 64;  ///< ReferenceStepOptions::prefillChunk
  /// Decode through the bucket of at least this many rows (decode::SchedulerOptions::minDecodeRows).
  int64_t decodeRows = 0;
  bool keepLogits = false;  ///< decode::SchedulerOptions::keepLogits
  unsigned threads = 2;
  /// KV positions one sequence may use (the context; 0: as many as the request needs). A
  /// prompt longer than this, or more new tokens than this, is refused before anything runs.
  int64_t maxContext = 0;
};

/// Prefills every prompt, then decodes request.newTokens tokens per sequence (greedily, or as
/// request.sampling says on graphs that sample). The
/// KV cache holds one slot per sequence of the positions the request needs (within
/// options.maxContext).
decode::DecodeReport runGreedyDecode(const StepGraphs& graphs, const WeightSource& weights,
                                     const decode::DecodeRequest& request, const DecodeOptions& options);

}  // namespace reel::reference
