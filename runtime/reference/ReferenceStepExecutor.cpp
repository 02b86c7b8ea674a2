#include "runtime/reference/ReferenceStepExecutor.h"

#include "ir/TensorParallel.h"
#include "support/Diagnostics.h"

#include <algorithm>

namespace reel::reference {

StepGraphs findStepGraphs(const ir::Module& module) {
  StepGraphs graphs;
  for (const auto& graph : module.graphs) {
    const std::optional<int64_t> rows = stepGraphRows(*graph);
    if (isPrefillGraph(*graph)) {
      if (rows)
        graphs.prefills.emplace(*rows, graph.get());
      else if (!graphs.prefill)
        graphs.prefill = graph.get();
    } else if (rows) {
      graphs.buckets.emplace(*rows, graph.get());
    } else if (!graphs.generic) {
      graphs.generic = graph.get();
    }
  }
  if (graphs.buckets.empty() && !graphs.generic) failPlain("module @{} has no decode step graph to run", module.name);
  return graphs;
}

namespace {

/// Most positions a sequence may ask for when the request gives no context.
constexpr int64_t kMaxPositions = int64_t{1} << 24;

}  // namespace

ReferenceStepExecutor::ReferenceStepExecutor(const StepGraphs& graphs, const WeightSource& weights,
                                             const decode::KvGeometry& kv, ReferenceStepOptions options)
    : graphs_(graphs), weights_(weights), kv_(kv), options_(std::move(options)) {
  if (options_.prefillChunk < 1) failPlain("decode: the prefill chunk must be at least 1 row");
  const ir::Graph& any = graphs_.buckets.empty() ? *graphs_.generic : *graphs_.buckets.begin()->second;
  const int64_t ranks = ir::tensorParallelRanks(any);
  for (int64_t rank = 0; rank < ranks; ++rank)
    caches_.push_back(std::make_unique<KvCacheState>(kvCacheShapeFor(any, kv_.slots, kv_.positions)));
  if (ranks > 1) group_ = std::make_unique<InProcessGroup>(ranks);
}

int64_t ReferenceStepExecutor::largestRows(decode::Phase phase) const {
  if (phase == decode::Phase::Prefill) {
    if (!graphs_.prefills.empty()) return graphs_.prefills.rbegin()->first;
    return graphs_.prefill ? options_.prefillChunk : 0;
  }
  if (!graphs_.buckets.empty()) return graphs_.buckets.rbegin()->first;
  int64_t largest = 1;
  for (int64_t bucket : options_.buckets) largest = std::max(largest, bucket);
  return largest;
}

ReferenceStepExecutor::Choice ReferenceStepExecutor::choose(decode::Phase phase, int64_t rows) const {
  if (phase == decode::Phase::Prefill) {
    if (!graphs_.prefills.empty()) {
      auto found = graphs_.prefills.lower_bound(rows);
      if (found == graphs_.prefills.end()) failPlain("decode: no prefill graph holds {} rows", rows);
      return {found->second, found->first};
    }
    if (!graphs_.prefill) failPlain("decode: a prefill step, but the module has no prefill graph");
    return {graphs_.prefill, largestRows(phase)};
  }
  if (!graphs_.buckets.empty()) {
    auto found = graphs_.buckets.lower_bound(rows);
    if (found == graphs_.buckets.end()) failPlain("decode: no bucket holds {} rows", rows);
    return {found->second, found->first};
  }
  int64_t best = largestRows(phase);
  for (int64_t bucket : options_.buckets)
    if (bucket >= rows) best = std::min(best, bucket);
  return {graphs_.generic, std::max(best, rows)};
}

std::vector<std::unique_ptr<ReferenceExecutor>>& ReferenceStepExecutor::executorsFor(const ir::Graph& graph) {
  std::vector<std::unique_ptr<ReferenceExecutor>>& executors = executors_[&graph];
  if (!executors.empty()) return executors;
  // The ranks share the matmul threads.
  const auto ranks = static_cast<unsigned>(caches_.size());
  const unsigned threads = std::max(1u, options_.threads / ranks);
  for (size_t rank = 0; rank < caches_.size(); ++rank) {
    Communicator* communicator = group_ ? &group_->member(static_cast<int64_t>(rank)) : nullptr;
    executors.push_back(
        std::make_unique<ReferenceExecutor>(graph, weights_, *caches_[rank], ExecutorOptions{threads, communicator}));
  }
  return executors;
}

StepResult ReferenceStepExecutor::runRanks(const ir::Graph& graph, const StepInputs& inputs) {
  std::vector<std::unique_ptr<ReferenceExecutor>>& executors = executorsFor(graph);
  if (!group_) return executors.front()->step(inputs);
  std::vector<StepResult> results(executors.size());
  group_->runRanks(
      [&](int64_t rank) { results[static_cast<size_t>(rank)] = executors[static_cast<size_t>(rank)]->step(inputs); });
  return std::move(results.front());
}

bool samples(const ir::Graph& graph) {
  return std::any_of(graph.ops().begin(), graph.ops().end(), [](const auto& op) { return op->name() == "sample"; });
}

const std::vector<int32_t>& ReferenceStepExecutor::step(decode::Phase phase, const decode::StepRows& rows) {
  const int64_t live = rows.size();
  if (live < 1 || live > largestRows(phase)) failPlain("decode: a step of {} rows", live);
  const Choice choice = choose(phase, phase == decode::Phase::Decode ? std::max(live, rows.minBucketRows) : live);
  if (rows.sampled() && !samples(*choice.graph))
    failPlain("decode: the rows sample, but @{} takes the argmax of the logits (compile with sampling)",
              choice.graph->name());
  StepInputs inputs{rows.tokens, rows.positions, rows.kvLens, rows.slots, rows.sampling, rows.recent};
  // Padding rows: token 0 at position 0 with KV length 0, in the first row's slot (they
  // neither read nor write the cache), greedy.
  while (static_cast<int64_t>(inputs.tokens.size()) < choice.rows) {
    inputs.tokens.push_back(0);
    inputs.positions.push_back(0);
    inputs.kvLens.push_back(0);
    inputs.slots.push_back(rows.slots.front());
    if (rows.sampled()) {
      inputs.sampling.resize(inputs.sampling.size() + decode::kSamplingWords);
      decode::packSampling({}, inputs.sampling.data() + inputs.sampling.size() - decode::kSamplingWords);
      inputs.recent.resize(inputs.recent.size() + decode::kMaxPenaltyLastN, -1);
    }
  }
  result_ = runRanks(*choice.graph, inputs);
  next_.resize(static_cast<size_t>(live));
  for (int64_t row = 0; row < live; ++row) {
    if (!result_.nextTokens.empty()) {
      next_[static_cast<size_t>(row)] = result_.nextTokens[static_cast<size_t>(row)];
    } else {
      const float* logits = result_.logitsRow(row);
      next_[static_cast<size_t>(row)] = static_cast<int32_t>(std::max_element(logits, logits + result_.vocab) - logits);
    }
  }
  last_ = {choice.graph->name(), choice.rows, ""};
  return next_;
}

std::vector<float> ReferenceStepExecutor::logitsRow(int64_t row) const {
  if (result_.vocab == 0) return {};
  return {result_.logitsRow(row), result_.logitsRow(row) + result_.vocab};
}

decode::DecodeReport runGreedyDecode(const StepGraphs& graphs, const WeightSource& weights,
                                     const decode::DecodeRequest& request, const DecodeOptions& options) {
  // The KV cache: one slot per sequence, each long enough for its prompt and the new tokens,
  // within the context. The request is checked against the context first, so the sum is
  // bounded before anything is allocated.
  const int64_t context = options.maxContext > 0 ? options.maxContext : kMaxPositions;
  const auto sequences = static_cast<int64_t>(request.prompts.size());
  decode::validateRequest(request, {sequences, context});
  int64_t longest = 0;
  for (const auto& prompt : request.prompts) longest = std::max<int64_t>(longest, static_cast<int64_t>(prompt.size()));
  const decode::KvGeometry kv{sequences, std::min(context, longest + request.newTokens - 1)};

  ReferenceStepExecutor executor(graphs, weights, kv, {options.buckets, options.prefillChunk, options.threads});
  return decode::runDecode(executor, request, {options.prefill, options.decodeRows, options.keepLogits});
}

}  // namespace reel::reference
