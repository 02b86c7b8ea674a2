#include "runtime/reference/DecodeDriver.h"

#include "ir/Diagnostics.h"
#include "runtime/reference/ReferenceExecutor.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <memory>

namespace reel::reference {

StepGraphs findStepGraphs(const ir::Module& module) {
  StepGraphs graphs;
  for (const auto& graph : module.graphs) {
    const std::optional<int64_t> rows = stepGraphRows(*graph);
    if (isPrefillGraph(*graph)) {
      if (!graphs.prefill) graphs.prefill = graph.get();
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

using Clock = std::chrono::steady_clock;

/// Most new tokens one request may ask for (with no context given).
constexpr int64_t kMaxTokens = int64_t{1} << 24;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Which graph runs a step of `rows` live rows, and how many rows it takes.
struct StepPlan {
  const ir::Graph* graph = nullptr;
  int64_t rows = 0;
};

class DecodeRun {
 public:
  DecodeRun(const StepGraphs& graphs, const WeightSource& weights, const DecodeRequest& request,
            const DecodeOptions& options)
      : graphs_(graphs), weights_(weights), request_(request), options_(options) {
    validate();
    int64_t longest = 0;
    for (const auto& prompt : request.prompts)
      longest = std::max<int64_t>(longest, static_cast<int64_t>(prompt.size()));
    // One slot per sequence, each long enough for its prompt and the new tokens, within the
    // context (validate() bounds both, so the sum cannot overflow).
    capacity_ = longest + request.newTokens - 1;
    if (options.maxContext > 0) capacity_ = std::min(capacity_, options.maxContext);
    const int64_t sequences = static_cast<int64_t>(request.prompts.size());
    cache_ = std::make_unique<KvCacheState>(kvCacheShapeFor(*planFor(1).graph, sequences, capacity_));
    report_.sequences.resize(static_cast<size_t>(sequences));
  }

  DecodeReport run() {
    Clock::time_point start = Clock::now();
    for (size_t s = 0; s < request_.prompts.size(); ++s) prefill(static_cast<int32_t>(s));
    report_.prefillSeconds = secondsSince(start);
    start = Clock::now();
    for (int64_t step = 1; step < request_.newTokens && decodeStep(step); ++step) {
    }
    report_.decodeSeconds = secondsSince(start);
    return std::move(report_);
  }

 private:
  void validate() const {
    if (request_.prompts.empty()) failPlain("decode: no sequences to run");
    if (request_.newTokens < 1) failPlain("decode: asked for {} new tokens (at least 1)", request_.newTokens);
    for (const auto& prompt : request_.prompts)
      if (prompt.empty()) failPlain("decode: every sequence needs at least one prompt token");
    if (request_.newTokens > kMaxTokens)
      failPlain("decode: asked for {} new tokens (at most {})", request_.newTokens, kMaxTokens);
    const int64_t context = options_.maxContext > 0 ? options_.maxContext : kMaxTokens;
    if (request_.newTokens > context)
      failPlain("decode: asked for {} new tokens, but the context holds {} positions per sequence", request_.newTokens,
                context);
    for (size_t s = 0; s < request_.prompts.size(); ++s)
      if (static_cast<int64_t>(request_.prompts[s].size()) > context)
        failPlain("decode: sequence {}'s prompt of {} tokens does not fit the context of {} positions", s,
                  request_.prompts[s].size(), context);
    if (options_.prefill == PrefillMode::Graph && !graphs_.prefill)
      failPlain("decode: prefill through the prefill graph was asked for, but the module has none");
    if (options_.prefillChunk < 1) failPlain("decode: the prefill chunk must be at least 1 row");
  }

  [[nodiscard]] int64_t maxRows() const {
    if (!graphs_.buckets.empty()) return graphs_.buckets.rbegin()->first;
    int64_t largest = 1;
    for (int64_t bucket : options_.buckets) largest = std::max(largest, bucket);
    return largest;
  }

  /// The smallest bucket that holds `rows` live rows (rows <= maxRows()).
  [[nodiscard]] StepPlan planFor(int64_t rows) const {
    if (!graphs_.buckets.empty()) {
      if (rows > graphs_.buckets.rbegin()->first) failPlain("decode: no bucket holds {} rows", rows);
      auto found = graphs_.buckets.lower_bound(rows);
      return {found->second, found->first};
    }
    int64_t best = maxRows();
    for (int64_t bucket : options_.buckets)
      if (bucket >= rows) best = std::min(best, bucket);
    return {graphs_.generic, std::max(best, rows)};
  }

  ReferenceExecutor& executorFor(const ir::Graph& graph) {
    std::unique_ptr<ReferenceExecutor>& executor = executors_[&graph];
    if (!executor)
      executor = std::make_unique<ReferenceExecutor>(graph, weights_, *cache_, ExecutorOptions{options_.threads});
    return *executor;
  }

  /// Runs `inputs` (live rows only) padded to `rows`, returns the result.
  StepResult runPadded(const ir::Graph& graph, int64_t rows, StepInputs inputs) {
    const int32_t padSlot = inputs.slots.empty() ? 0 : inputs.slots.front();
    while (static_cast<int64_t>(inputs.tokens.size()) < rows) {
      inputs.tokens.push_back(0);
      inputs.positions.push_back(0);
      inputs.kvLens.push_back(0);
      if (!inputs.slots.empty()) inputs.slots.push_back(padSlot);
    }
    return executorFor(graph).step(inputs);
  }

  /// Records the token that row `row` of `result` gives sequence `sequence`.
  void takeToken(int32_t sequence, const StepResult& result, int64_t row) {
    SequenceOutput& out = report_.sequences[static_cast<size_t>(sequence)];
    int32_t token = 0;
    if (!result.nextTokens.empty()) {
      token = result.nextTokens[static_cast<size_t>(row)];
    } else {
      const float* logits = result.logitsRow(row);
      token = static_cast<int32_t>(std::max_element(logits, logits + result.vocab) - logits);
    }
    out.tokens.push_back(token);
    if (options_.keepLogits && result.vocab > 0)
      out.logits.emplace_back(result.logitsRow(row), result.logitsRow(row) + result.vocab);
  }

  void prefill(int32_t sequence) {
    const bool byGraph = graphs_.prefill && options_.prefill != PrefillMode::TokenByToken;
    if (byGraph)
      prefillByGraph(sequence);
    else
      prefillByToken(sequence);
  }

  void prefillByGraph(int32_t sequence) {
    const std::vector<int32_t>& prompt = request_.prompts[static_cast<size_t>(sequence)];
    const ir::Graph& graph = *graphs_.prefill;
    const int64_t chunk = stepGraphRows(graph).value_or(options_.prefillChunk);
    report_.prefillPath = fmt::format("@{} (chunks of {} rows)", graph.name(), chunk);
    const auto length = static_cast<int64_t>(prompt.size());
    for (int64_t first = 0; first < length; first += chunk) {
      const int64_t count = std::min(chunk, length - first);
      StepInputs inputs;
      for (int64_t i = first; i < first + count; ++i) {
        inputs.tokens.push_back(prompt[static_cast<size_t>(i)]);
        inputs.positions.push_back(static_cast<int32_t>(i));
        inputs.kvLens.push_back(static_cast<int32_t>(i + 1));
        inputs.slots.push_back(sequence);
      }
      StepResult result = runPadded(graph, chunk, std::move(inputs));
      if (first + count == length) takeToken(sequence, result, count - 1);
    }
  }

  void prefillByToken(int32_t sequence) {
    const std::vector<int32_t>& prompt = request_.prompts[static_cast<size_t>(sequence)];
    const StepPlan plan = planFor(1);
    report_.prefillPath = fmt::format("token by token through @{} (M = {})", plan.graph->name(), plan.rows);
    const auto length = static_cast<int32_t>(prompt.size());
    for (int32_t i = 0; i < length; ++i) {
      StepInputs inputs{{prompt[static_cast<size_t>(i)]}, {i}, {i + 1}, {sequence}};
      StepResult result = runPadded(*plan.graph, plan.rows, std::move(inputs));
      if (i + 1 == length) takeToken(sequence, result, 0);
    }
  }

  /// The KV position sequence `s` writes at decode step `step`.
  [[nodiscard]] int64_t decodePosition(int32_t sequence, int64_t step) const {
    return static_cast<int64_t>(request_.prompts[static_cast<size_t>(sequence)].size()) + step - 1;
  }

  /// The sequences that take part in decode step `step`: those whose context has room. A
  /// sequence whose context is full stops here.
  std::vector<int32_t> liveSequences(int64_t step) {
    std::vector<int32_t> live;
    for (int32_t s = 0; s < static_cast<int32_t>(request_.prompts.size()); ++s) {
      SequenceOutput& out = report_.sequences[static_cast<size_t>(s)];
      if (out.stop == StopReason::Context) continue;
      if (decodePosition(s, step) >= capacity_)
        out.stop = StopReason::Context;
      else
        live.push_back(s);
    }
    return live;
  }

  /// Decode step `step` (1-based: the prompt gave token 0) for every sequence with room left;
  /// false when no sequence has room.
  bool decodeStep(int64_t step) {
    const std::vector<int32_t> live = liveSequences(step);
    const auto sequences = static_cast<int64_t>(live.size());
    if (sequences == 0) return false;
    const int64_t groupSize = std::min<int64_t>(sequences, maxRows());
    for (int64_t first = 0; first < sequences; first += groupSize) {
      const int64_t count = std::min(groupSize, sequences - first);
      const StepPlan plan = planFor(std::max<int64_t>(count, options_.decodeRows));
      StepInputs inputs;
      for (int64_t row = 0; row < count; ++row) {
        const int32_t s = live[static_cast<size_t>(first + row)];
        const auto position = static_cast<int32_t>(decodePosition(s, step));
        inputs.tokens.push_back(fedToken(s, step));
        inputs.positions.push_back(position);
        inputs.kvLens.push_back(position + 1);
        inputs.slots.push_back(s);
      }
      StepResult result = runPadded(*plan.graph, plan.rows, std::move(inputs));
      for (int64_t row = 0; row < count; ++row) takeToken(live[static_cast<size_t>(first + row)], result, row);
      if (first == 0 && report_.decodePath.empty()) describeDecode(plan, count, sequences);
    }
    ++report_.decodeSteps;
    return true;
  }

  /// The token sequence s feeds at decode step `step`: its last generated one, or the one
  /// teacher forcing prescribes.
  [[nodiscard]] int32_t fedToken(int32_t sequence, int64_t step) const {
    const auto index = static_cast<size_t>(sequence);
    if (index < request_.followTokens.size() && !request_.followTokens[index].empty()) {
      const std::vector<int32_t>& follow = request_.followTokens[index];
      if (static_cast<size_t>(step) > follow.size())
        failPlain("decode: sequence {} has {} tokens to follow, step {} needs more", sequence, follow.size(), step);
      return follow[static_cast<size_t>(step - 1)];
    }
    return report_.sequences[index].tokens.back();
  }

  void describeDecode(const StepPlan& plan, int64_t live, int64_t sequences) {
    std::string path = fmt::format("@{} (M = {}: {} live row{}, {} padding)", plan.graph->name(), plan.rows, live,
                                   live == 1 ? "" : "s", plan.rows - live);
    if (sequences > live)
      path += fmt::format("; {} sequences exceed the largest bucket, so each token takes {} steps", sequences,
                          (sequences + live - 1) / live);
    report_.decodePath = path;
  }

  const StepGraphs& graphs_;
  const WeightSource& weights_;
  const DecodeRequest& request_;
  const DecodeOptions& options_;
  int64_t capacity_ = 0;  ///< KV positions per sequence
  std::unique_ptr<KvCacheState> cache_;
  std::map<const ir::Graph*, std::unique_ptr<ReferenceExecutor>> executors_;
  DecodeReport report_;
};

}  // namespace

std::string describeStop(const SequenceOutput& sequence, int64_t maxContext, int64_t newTokens) {
  if (sequence.stop != StopReason::Context) return "";
  return fmt::format("context full ({} positions): stopped after {} of {} tokens", maxContext, sequence.tokens.size(),
                     newTokens);
}

DecodeReport runGreedyDecode(const StepGraphs& graphs, const WeightSource& weights, const DecodeRequest& request,
                             const DecodeOptions& options) {
  return DecodeRun(graphs, weights, request, options).run();
}

}  // namespace reel::reference
