// Prefill interleaved with decode under a step budget, on the CPU reference: a long prompt
// added while two sequences decode prefills in chunks beside their decode steps (by the
// prefill graph, or token by token as extra rows of the decode step), and every sequence gets
// the tokens and logits it gets alone, whatever the budget.

#include "passes/PassTable.h"
#include "runtime/decode/DecodeScheduler.h"
#include "runtime/reference/ReferenceStepExecutor.h"
#include "tests/runtime/reference/ReferenceTestSupport.h"

#include <catch2/catch.hpp>

using namespace reel;
using namespace reel::decode;
using namespace reel::reference;
using namespace reel::test;

namespace {

constexpr int64_t kPrefillRows = 4;
constexpr int64_t kRunningTokens = 14;  // still running after the long prompt, at any budget
constexpr int64_t kLongTokens = 3;
const KvGeometry kKv{3, 32};

struct Prompts {
  std::vector<int32_t> first, second, longer;
};

Prompts testPrompts(int64_t vocab) {
  const std::vector<std::vector<int32_t>> staggered = staggeredPrompts(8, vocab);
  return {staggered[1], staggered[0], staggered[7]};  // 3, 2 and 9 tokens: 3 prefill chunks
}

SequenceOutput alone(const StepGraphs& graphs, const WeightSource& weights, const SequenceRequest& request,
                     PrefillMode mode) {
  ReferenceStepExecutor executor(graphs, weights, kKv, {{}, kPrefillRows, 1});
  DecodeScheduler scheduler(executor, {.prefill = mode, .keepLogits = true});
  const int64_t id = scheduler.add(request);
  while (scheduler.step()) {
  }
  return scheduler.takeOutput(id);
}

void checkSame(const SequenceOutput& together, const SequenceOutput& single) {
  CHECK(together.tokens == single.tokens);
  REQUIRE(together.logits.size() == single.logits.size());
  for (size_t t = 0; t < single.logits.size(); ++t) CHECK(together.logits[t] == single.logits[t]);
}

}  // namespace

TEST_CASE("a long prompt prefilled beside running sequences leaves every sequence's tokens as alone",
          "[parity][scheduler][budget]") {
  const models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = syntheticWeights(config);
  std::unique_ptr<ir::Module> module =
      compileModule(config, *weights.source, {passes::kDefaultPipeline, {1, 2, 4}, kPrefillRows});
  const StepGraphs graphs = findStepGraphs(*module);
  // One kernel family in every decode bucket: a row's bits do not depend on its bucket.
  const std::set<std::string> family = matmulKernels(*graphs.buckets.at(1));
  for (const auto& [rows, graph] : graphs.buckets) REQUIRE(matmulKernels(*graph) == family);
  const Prompts prompts = testPrompts(config.vocabSize);
  const SequenceRequest first{prompts.first, kRunningTokens, {}}, second{prompts.second, kRunningTokens, {}},
      longer{prompts.longer, kLongTokens, {}};

  for (const PrefillMode mode : {PrefillMode::Graph, PrefillMode::TokenByToken}) {
    const SequenceOutput firstAlone = alone(graphs, *weights.source, first, mode);
    const SequenceOutput secondAlone = alone(graphs, *weights.source, second, mode);
    const SequenceOutput longerAlone = alone(graphs, *weights.source, longer, mode);
    // Below the running count, one row past it, a prefill chunk, more than the prompt.
    for (const int64_t budget : {int64_t{1}, int64_t{3}, kPrefillRows, int64_t{64}}) {
      INFO((mode == PrefillMode::Graph ? "by the prefill graph" : "token by token") << ", budget " << budget);
      ReferenceStepExecutor executor(graphs, *weights.source, kKv, {{}, kPrefillRows, 1});
      DecodeScheduler scheduler(executor, {.prefill = mode, .keepLogits = true, .stepTokens = budget});
      const int64_t a = scheduler.add(first);
      const int64_t b = scheduler.add(second);
      while (scheduler.prefilling()) REQUIRE(scheduler.step());
      const int64_t c = scheduler.add(longer);
      while (scheduler.prefilling()) {
        const size_t aTokens = scheduler.output(a).tokens.size(), bTokens = scheduler.output(b).tokens.size();
        REQUIRE(scheduler.step());
        CHECK(scheduler.output(a).tokens.size() == aTokens + 1);
        CHECK(scheduler.output(b).tokens.size() == bTokens + 1);
        const StepSummary& step = scheduler.lastStep();
        CHECK(step.decodeRows + step.prefillRows <= std::max(budget, step.decodeRows + 1));
      }
      while (scheduler.step()) {
      }
      checkSame(scheduler.output(a), firstAlone);
      checkSame(scheduler.output(b), secondAlone);
      checkSame(scheduler.output(c), longerAlone);
    }
  }
}
