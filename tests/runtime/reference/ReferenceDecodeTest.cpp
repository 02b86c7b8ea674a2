// The CPU reference decode's limits: the context bounds each sequence (a full one stops, the
// others go on with unchanged tokens), requests that cannot fit are refused before anything
// runs, and the parallel loop survives a system that refuses new threads.

#include "passes/PassTable.h"
#include "support/Parallel.h"
#include "tests/runtime/reference/ReferenceTestSupport.h"

#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <numeric>

using namespace reel;
using namespace reel::decode;
using namespace reel::reference;
using namespace reel::test;

namespace {

struct TinyModel {
  models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = syntheticWeights(config);
  std::unique_ptr<ir::Module> module = compileModule(config, *weights.source, {passes::kDefaultPipeline, {1, 2, 4}, 8});
  StepGraphs graphs = findStepGraphs(*module);
};

TinyModel& tinyModel() {
  static TinyModel model;
  return model;
}

}  // namespace

TEST_CASE("a sequence whose context fills stops; the others decode as alone", "[decode][context]") {
  TinyModel& tiny = tinyModel();
  const std::vector<std::vector<int32_t>> prompts{{1, 2}, {3, 4, 5, 6, 7, 8}, {9}};
  constexpr int64_t kNew = 6;
  DecodeOptions options;
  options.maxContext = 8;
  const DecodeReport report = runGreedyDecode(tiny.graphs, *tiny.weights.source, {prompts, kNew, {}}, options);
  REQUIRE(report.sequences.size() == 3);

  // The 6-token prompt leaves room for 2 more stored positions: 3 tokens in all (the last
  // one is never fed back), then the context is full.
  CHECK(report.sequences[1].stop == StopReason::Context);
  CHECK(report.sequences[1].tokens.size() == 3);
  CHECK(describeStop(report.sequences[1], 8, kNew) == "context full (8 positions): stopped after 3 of 6 tokens");
  for (size_t s : {0u, 2u}) {
    INFO("sequence " << s);
    CHECK(report.sequences[s].stop == StopReason::Length);
    CHECK(describeStop(report.sequences[s], 8, kNew).empty());
    const DecodeReport alone = runGreedyDecode(tiny.graphs, *tiny.weights.source, {{prompts[s]}, kNew, {}}, options);
    CHECK(report.sequences[s].tokens == alone.sequences.at(0).tokens);
  }
  // The stopped sequence's tokens are the first tokens it makes with room to spare.
  DecodeOptions roomy;
  roomy.maxContext = 64;
  const DecodeReport longer = runGreedyDecode(tiny.graphs, *tiny.weights.source, {{prompts[1]}, kNew, {}}, roomy);
  const std::vector<int32_t>& full = longer.sequences.at(0).tokens;
  CHECK(report.sequences[1].tokens == std::vector<int32_t>(full.begin(), full.begin() + 3));
}

TEST_CASE("requests that cannot fit the context are refused before anything runs", "[decode][context]") {
  TinyModel& tiny = tinyModel();
  DecodeOptions options;
  options.maxContext = 8;
  CHECK_THROWS_WITH(runGreedyDecode(tiny.graphs, *tiny.weights.source, {{{1, 2, 3, 4, 5, 6, 7, 8, 9}}, 2, {}}, options),
                    "decode: sequence 0's prompt of 9 tokens does not fit the context of 8 positions");
  CHECK_THROWS_WITH(runGreedyDecode(tiny.graphs, *tiny.weights.source, {{{1}}, 9, {}}, options),
                    "decode: asked for 9 new tokens, but the context holds 8 positions per sequence");
  options.maxContext = 0;  // no context given: a sequence may still not ask for more than 2^24 positions
  CHECK_THROWS_WITH(
      runGreedyDecode(tiny.graphs, *tiny.weights.source, {{{1}}, int64_t{1} << 40, {}}, options),
      "decode: asked for 1099511627776 new tokens, but the context holds 16777216 positions per sequence");
}

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
TEST_CASE("parallelFor runs every part when threads cannot be created", "[decode][threads]") {
  // A child whose address space cannot hold another thread's stack: thread creation fails,
  // and the loop must run those parts on the calling thread instead of terminating.
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::vector<int64_t> values(1 << 20, 0);
    rlimit limit{};
    getrlimit(RLIMIT_AS, &limit);
    limit.rlim_cur = 0;  // nothing more may be mapped: new thread stacks cannot be
    if (setrlimit(RLIMIT_AS, &limit) != 0) _exit(3);
    reel::support::parallelFor(static_cast<int64_t>(values.size()), 8, int64_t{1} << 30,
                               [&](int64_t begin, int64_t end) {
                                 for (int64_t i = begin; i < end; ++i) values[static_cast<size_t>(i)] = i;
                               });
    int64_t expected = static_cast<int64_t>(values.size()) * (static_cast<int64_t>(values.size()) - 1) / 2;
    _exit(std::accumulate(values.begin(), values.end(), int64_t{0}) == expected ? 0 : 2);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
#endif
