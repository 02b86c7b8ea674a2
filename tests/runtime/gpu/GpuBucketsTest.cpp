// The GPU runtime against itself: each sequence in a padded bucket gets what it gets alone
// (bit for bit where the bucket's kernels are row-independent), CUDA-graph replay gives exactly
// the eager results, and a full context, a bad token or too little memory is a clear error.

#include "tests/runtime/gpu/GpuTestSupport.h"

using namespace reel;
using namespace reel::test;
using Catch::Matchers::Contains;

namespace {

constexpr int64_t kNewTokens = 8;

}  // namespace

TEST_CASE("each sequence of a padded bucket gets the tokens it gets alone", "[gpu][buckets]") {
  TinySetup setup;
  std::unique_ptr<gpu::GpuRuntime> runtime = poisonedRuntime(setup.compiled.plan, setup.weights);
  std::vector<decode::SequenceOutput> alone;
  for (const std::vector<int32_t>& prompt : setup.prompts)
    alone.push_back(gpuDecode(*runtime, {{prompt}, kNewTokens, {}}).sequences.at(0));
  for (int64_t rows : {4, 8}) {
    const std::set<std::string> families = bucketKernelFamilies(setup.decodeBucket(rows));
    INFO("bucket decode.m" << rows << ": 3 live rows, " << rows - 3 << " padding");
    runtime->poison();
    if (families == std::set<std::string>{"dp4a"}) {
      // Row-independent kernels: the same bits as alone.
      const decode::DecodeReport batched = gpuDecode(*runtime, {setup.prompts, kNewTokens, {}}, rows);
      REQUIRE(runtime->lastBucket()->m == rows);
      for (size_t s = 0; s < alone.size(); ++s) {
        INFO("sequence " << s);
        CHECK(batched.sequences[s].tokens == alone[s].tokens);
        for (size_t t = 0; t < alone[s].logits.size(); ++t)
          CHECK(std::memcmp(batched.sequences[s].logits[t].data(), alone[s].logits[t].data(),
                            alone[s].logits[t].size() * 4) == 0);
      }
      continue;
    }
    // FP8 quantizes the activations of all rows with one scale: close, not identical. Compared
    // along the tokens each sequence chose alone.
    decode::DecodeReport aloneReport;
    aloneReport.sequences = alone;
    const decode::DecodeReport batched =
        gpuDecode(*runtime, following({setup.prompts, kNewTokens, {}}, aloneReport), rows);
    REQUIRE(runtime->lastBucket()->m == rows);
    const double tolerance = gpuToleranceFor(families);
    for (size_t s = 0; s < alone.size(); ++s) {
      for (size_t t = 0; t < alone[s].logits.size(); ++t) {
        INFO("sequence " << s << ", token " << t);
        const double error = relativeError(alone[s].logits[t], batched.sequences[s].logits[t]);
        CHECK(error <= tolerance);
        if (!nearTie(alone[s].logits[t], error)) CHECK(batched.sequences[s].tokens[t] == alone[s].tokens[t]);
      }
    }
  }
}

TEST_CASE("sequences that join while others decode get the tokens they get alone", "[gpu][buckets][scheduler]") {
  // The decode scheduler on the GPU: a sequence joins after its neighbours have decoded a
  // few tokens (prefilled between their decode steps) and takes the slot a finished one
  // freed; the buckets change under it as the running count does. Buckets 1..8 are DP4A
  // (row-independent), so every token and every logit bit must be the same as alone.
  TinySetup setup;
  REQUIRE(bucketKernelFamilies(setup.decodeBucket(4)) == std::set<std::string>{"dp4a"});
  std::unique_ptr<gpu::GpuRuntime> runtime = poisonedRuntime(setup.compiled.plan, setup.weights);
  std::vector<decode::SequenceOutput> alone;
  for (const std::vector<int32_t>& prompt : setup.prompts)
    alone.push_back(gpuDecode(*runtime, {{prompt}, kNewTokens, {}}).sequences.at(0));

  runtime->poison();
  decode::DecodeScheduler scheduler(*runtime, {.keepLogits = true});
  const int64_t first = scheduler.add({setup.prompts[0], 3, {}});  // stops early, freeing its slot
  const int64_t second = scheduler.add({setup.prompts[1], kNewTokens, {}});
  while (!scheduler.finished(first)) REQUIRE(scheduler.step());
  const int64_t third = scheduler.add({setup.prompts[2], kNewTokens, {}});
  while (scheduler.step()) {
  }
  const std::vector<std::pair<int64_t, size_t>> checks{{first, 0}, {second, 1}, {third, 2}};
  for (const auto& [id, s] : checks) {
    INFO("sequence " << s);
    const decode::SequenceOutput& joined = scheduler.output(id);
    const size_t count = joined.tokens.size();
    REQUIRE(count <= alone[s].tokens.size());
    CHECK(std::vector<int32_t>(alone[s].tokens.begin(), alone[s].tokens.begin() + static_cast<std::ptrdiff_t>(count)) ==
          joined.tokens);
    for (size_t t = 0; t < count; ++t)
      CHECK(std::memcmp(joined.logits[t].data(), alone[s].logits[t].data(), alone[s].logits[t].size() * 4) == 0);
  }
  CHECK(scheduler.output(second).tokens.size() == static_cast<size_t>(kNewTokens));
}

TEST_CASE("CUDA-graph replay gives exactly the eager results", "[gpu][graphs]") {
  TinySetup setup;
  std::unique_ptr<gpu::GpuRuntime> runtime = poisonedRuntime(setup.compiled.plan, setup.weights);
  REQUIRE(runtime->captureFailures().empty());
  for (int64_t rows : {1, 4, 8}) {
    INFO("decode bucket of at least " << rows << " rows");
    std::vector<std::vector<int32_t>> prompts = setup.prompts;
    prompts.resize(static_cast<size_t>(std::min<int64_t>(rows, 3)));
    runtime->poison();
    runtime->setEager(false);
    const decode::DecodeReport graphed = gpuDecode(*runtime, {prompts, kNewTokens, {}}, rows);
    CHECK(runtime->lastStepUsedGraph());
    runtime->poison();
    runtime->setEager(true);
    const decode::DecodeReport eager = gpuDecode(*runtime, {prompts, kNewTokens, {}}, rows);
    CHECK_FALSE(runtime->lastStepUsedGraph());
    CHECK(bitwiseEqual(graphed, eager));
  }
}

TEST_CASE("an eager-only runtime (--eager) gives the graph results too", "[gpu][graphs]") {
  TinySetup setup;
  gpu::RuntimeOptions eagerOnly;
  eagerOnly.useGraphs = false;
  std::unique_ptr<gpu::GpuRuntime> eager = poisonedRuntime(setup.compiled.plan, setup.weights, eagerOnly);
  std::unique_ptr<gpu::GpuRuntime> graphed = poisonedRuntime(setup.compiled.plan, setup.weights);
  const decode::DecodeRequest request{setup.prompts, kNewTokens, {}};
  CHECK(bitwiseEqual(gpuDecode(*graphed, request), gpuDecode(*eager, request)));
  CHECK_FALSE(eager->lastStepUsedGraph());
}

TEST_CASE("a full context, a bad token and a cache too big are clear errors", "[gpu][errors]") {
  TinySetup setup;
  std::unique_ptr<gpu::GpuRuntime> runtime = poisonedRuntime(setup.compiled.plan, setup.weights);
  const int64_t context = runtime->kv().positions;
  std::vector<int32_t> longPrompt(static_cast<size_t>(context + 1), 7);
  CHECK_THROWS_WITH(
      gpuDecode(*runtime, {{longPrompt}, 2, {}}),
      Contains(fmt::format("prompt of {} tokens does not fit the context of {} positions", context + 1, context)));
  CHECK_THROWS_WITH(gpuDecode(*runtime, {{{1}}, context + 1, {}}), Contains("but the context holds"));
  longPrompt.resize(static_cast<size_t>(context - 4));  // room for 4 decode steps after the prompt's token
  const decode::DecodeReport stopped = gpuDecode(*runtime, {{longPrompt}, 10, {}});
  CHECK(stopped.sequences.at(0).tokens.size() == 5);
  CHECK(stopped.sequences.at(0).stop == decode::StopReason::Context);
  gpu::StepRows pastTheEnd{{1}, {static_cast<int32_t>(context)}, {static_cast<int32_t>(context + 1)}, {0}};
  CHECK_THROWS_WITH(runtime->step(gpu::Phase::Decode, pastTheEnd), Contains("context full"));
  gpu::StepRows badToken{{static_cast<int32_t>(setup.config.vocabSize)}, {0}, {1}, {0}};
  CHECK_THROWS_WITH(runtime->step(gpu::Phase::Decode, badToken), Contains("outside the vocabulary"));
  CHECK_THROWS_WITH(gpuDecode(*runtime, {staggeredPrompts(9, setup.config.vocabSize), 2, {}}), Contains("slots"));
  gpu::RuntimeOptions huge;
  huge.kvSlots = int64_t{1} << 22;
  CHECK_THROWS_WITH(poisonedRuntime(setup.compiled.plan, setup.weights, huge), Contains("out of GPU memory"));
  // The runtime still works after the refused steps.
  CHECK(gpuDecode(*runtime, {{setup.prompts[0]}, 2, {}}).sequences.at(0).tokens.size() == 2);
}

TEST_CASE("a short graph and eager run, for compute-sanitizer", "[gpu][sanitize]") {
  TinySetup setup;
  std::unique_ptr<gpu::GpuRuntime> runtime = poisonedRuntime(setup.compiled.plan, setup.weights);
  const decode::DecodeRequest request{{setup.prompts[0], setup.prompts[2]}, 3, {}};
  const decode::DecodeReport graphed = gpuDecode(*runtime, request, 8);
  runtime->poison();
  runtime->setEager(true);
  CHECK(bitwiseEqual(graphed, gpuDecode(*runtime, request, 8)));
}
