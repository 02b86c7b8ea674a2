// The decode scheduler over a fake step executor: which rows each step gets (positions, KV
// lengths, slots, fed tokens), prefill chunks, decode groups, stops, and slot reuse. The
// fake's next token is a function of the row alone, so the expected tokens of a sequence
// follow from its prompt without any scheduler.

#include "runtime/decode/DecodeScheduler.h"
#include "support/Diagnostics.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <vector>

using namespace reel;
using namespace reel::decode;
using Catch::Matchers::Contains;

namespace {

/// The next token the fake gives a row.
int32_t nextOf(int32_t token, int32_t position) {
  return (token * 31 + position * 7 + 3) % 101;
}

class FakeExecutor final : public StepExecutor {
 public:
  FakeExecutor(int64_t decodeRows, int64_t prefillRows, KvGeometry kv)
      : decodeRows_(decodeRows), prefillRows_(prefillRows), kv_(kv) {}

  [[nodiscard]] int64_t largestRows(Phase phase) const override {
    return phase == Phase::Decode ? decodeRows_ : prefillRows_;
  }
  [[nodiscard]] KvGeometry kvGeometry() const override { return kv_; }

  const std::vector<int32_t>& step(Phase phase, const StepRows& rows) override {
    REQUIRE(rows.size() >= 1);
    REQUIRE(rows.size() <= largestRows(phase));
    steps.push_back({phase, rows.size()});
    seen.push_back(rows);
    // A decode graph's attention reads each row's own sequence: one row per slot.
    if (phase == Phase::Decode) {
      std::vector<int32_t> slots = rows.slots;
      std::sort(slots.begin(), slots.end());
      REQUIRE(std::adjacent_find(slots.begin(), slots.end()) == slots.end());
    }
    next_.clear();
    for (int64_t i = 0; i < rows.size(); ++i) {
      const auto r = static_cast<size_t>(i);
      REQUIRE(rows.kvLens[r] == rows.positions[r] + 1);
      REQUIRE(rows.slots[r] >= 0);
      REQUIRE(rows.slots[r] < kv_.slots);
      REQUIRE(rows.positions[r] < kv_.positions);
      // Each slot is written at consecutive positions from 0, until a new sequence takes it.
      int32_t& expected = nextPosition[rows.slots[r]];
      if (rows.positions[r] == 0) expected = 0;
      REQUIRE(rows.positions[r] == expected);
      ++expected;
      next_.push_back(nextOf(rows.tokens[r], rows.positions[r]));
    }
    return next_;
  }
  [[nodiscard]] std::vector<float> logitsRow(int64_t row) const override {
    return {static_cast<float>(next_.at(static_cast<size_t>(row)))};
  }
  [[nodiscard]] StepInfo lastStep() const override { return {"fake", largestRows(steps.back().phase), ""}; }

  struct Step {
    Phase phase;
    int64_t rows;
  };
  std::vector<Step> steps;
  std::vector<StepRows> seen;  ///< every step's rows
  std::map<int32_t, int32_t> nextPosition;

 private:
  int64_t decodeRows_;
  int64_t prefillRows_;
  KvGeometry kv_;
  std::vector<int32_t> next_;
};

/// The tokens a sequence of `prompt` gets from the fake, computed directly.
std::vector<int32_t> expectedTokens(const std::vector<int32_t>& prompt, int64_t count) {
  std::vector<int32_t> tokens{nextOf(prompt.back(), static_cast<int32_t>(prompt.size() - 1))};
  while (static_cast<int64_t>(tokens.size()) < count) {
    const auto position = static_cast<int32_t>(prompt.size() + tokens.size() - 1);
    tokens.push_back(nextOf(tokens.back(), position));
  }
  return tokens;
}

}  // namespace

TEST_CASE("a batch: every sequence gets the tokens it gets alone, in prefill chunks and decode groups",
          "[decode][scheduler]") {
  FakeExecutor executor(2, 4, {3, 64});
  const std::vector<std::vector<int32_t>> prompts{{5, 6, 7, 8, 9, 10, 11, 12, 13, 14}, {1}, {2, 3}};
  const DecodeReport report = runDecode(executor, {prompts, 5, {}}, {.keepLogits = true});
  REQUIRE(report.sequences.size() == 3);
  for (size_t s = 0; s < prompts.size(); ++s) {
    INFO("sequence " << s);
    CHECK(report.sequences[s].tokens == expectedTokens(prompts[s], 5));
    CHECK(report.sequences[s].stop == StopReason::Length);
    REQUIRE(report.sequences[s].logits.size() == 5);
    CHECK(report.sequences[s].logits[4].at(0) == static_cast<float>(report.sequences[s].tokens[4]));
  }
  // Prefill: the prompts' 13 tokens packed into chunks of 4, the third holding the long
  // prompt's last two and the first of each short one; decode: 4 steps, each in a group of 2
  // and a group of 1.
  std::vector<int64_t> prefillRows, decodeRows;
  for (const FakeExecutor::Step& step : executor.steps)
    (step.phase == Phase::Prefill ? prefillRows : decodeRows).push_back(step.rows);
  CHECK(prefillRows == std::vector<int64_t>{4, 4, 4, 1});
  CHECK(executor.seen.at(2).slots == std::vector<int32_t>{0, 0, 1, 2});
  CHECK(decodeRows == std::vector<int64_t>{2, 1, 2, 1, 2, 1, 2, 1});
  CHECK(report.decodeSteps == 4);
  CHECK(report.prefillPath == "@fake (chunks of 4 rows)");
  CHECK(report.decodePath ==
        "@fake (M = 2: 2 live rows, 0 padding); 3 sequences exceed the largest bucket, so each token takes 2 steps");
}

TEST_CASE("without a prefill graph, prompts go token by token through the decode graph", "[decode][scheduler]") {
  FakeExecutor executor(4, 0, {1, 16});
  const DecodeReport report = runDecode(executor, {{{4, 5, 6}}, 2, {}}, {});
  CHECK(report.sequences.at(0).tokens == expectedTokens({4, 5, 6}, 2));
  CHECK(executor.steps.size() == 4);  // 3 prompt tokens, 1 decode step
  CHECK(report.prefillPath == "token by token through @fake (M = 4)");
  FakeExecutor noPrefill(4, 0, {1, 16});
  CHECK_THROWS_WITH(runDecode(noPrefill, {{{4}}, 2, {}}, {.prefill = PrefillMode::Graph}),
                    "decode: prefill through a prefill graph was asked for, but there is none");
}

TEST_CASE("a full context stops its sequence and frees its slot; the others go on", "[decode][scheduler]") {
  FakeExecutor executor(4, 4, {2, 6});
  const DecodeReport report = runDecode(executor, {{{1, 2, 3, 4}, {9}}, 5, {}}, {});
  // Sequence 0: positions 0-3 for the prompt, 4 and 5 for two fed tokens: 3 tokens in all.
  CHECK(report.sequences[0].tokens == expectedTokens({1, 2, 3, 4}, 3));
  CHECK(report.sequences[0].stop == StopReason::Context);
  CHECK(describeStop(report.sequences[0], 6, 5) == "context full (6 positions): stopped after 3 of 5 tokens");
  CHECK(report.sequences[1].tokens == expectedTokens({9}, 5));
  CHECK(report.sequences[1].stop == StopReason::Length);
}

TEST_CASE("sequences join while others run, and a finished sequence's slot is reused", "[decode][scheduler]") {
  FakeExecutor executor(2, 4, {2, 32});
  DecodeScheduler scheduler(executor, {});
  const int64_t a = scheduler.add({{1, 2}, 3, {}});
  const int64_t b = scheduler.add({{3}, 6, {}});
  CHECK_THROWS_WITH(scheduler.add({{4}, 2, {}}), "decode: sequence 2 finds no free slot among the KV cache's 2");
  while (!scheduler.finished(a)) REQUIRE(scheduler.step());
  CHECK_FALSE(scheduler.finished(b));
  const int64_t c = scheduler.add({{7, 8, 9}, 4, {}});  // takes a's slot while b decodes
  while (scheduler.step()) {
  }
  CHECK(scheduler.output(a).tokens == expectedTokens({1, 2}, 3));
  CHECK(scheduler.output(b).tokens == expectedTokens({3}, 6));
  CHECK(scheduler.output(c).tokens == expectedTokens({7, 8, 9}, 4));
}

TEST_CASE("teacher forcing feeds the given tokens; bad requests are refused before any step", "[decode][scheduler]") {
  FakeExecutor executor(4, 4, {2, 8});
  const DecodeReport forced = runDecode(executor, {{{5}}, 3, {{40, 41}}}, {});
  CHECK(forced.sequences[0].tokens == std::vector<int32_t>{nextOf(5, 0), nextOf(40, 1), nextOf(41, 2)});
  CHECK_THROWS_WITH(runDecode(executor, {{{5}}, 4, {{40, 41}}}, {}),
                    "decode: sequence 0 has 2 tokens to follow, step 3 needs more");

  FakeExecutor fresh(4, 4, {2, 8});
  CHECK_THROWS_WITH(runDecode(fresh, {{}, 2, {}}, {}), "decode: no sequences to run");
  CHECK_THROWS_WITH(runDecode(fresh, {{{1}, {2}, {3}}, 2, {}}, {}),
                    "decode: 3 sequences, but the KV cache has 2 slots");
  CHECK_THROWS_WITH(runDecode(fresh, {{{1}, {}}, 2, {}}, {}), "decode: every sequence needs at least one prompt token");
  CHECK_THROWS_WITH(runDecode(fresh, {{{1}}, 9, {}}, {}),
                    "decode: asked for 9 new tokens, but the context holds 8 positions per sequence");
  CHECK_THROWS_WITH(runDecode(fresh, {{{1}, std::vector<int32_t>(9, 1)}, 2, {}}, {}),
                    "decode: sequence 1's prompt of 9 tokens does not fit the context of 8 positions");
  CHECK(fresh.steps.empty());
}

TEST_CASE("rows carry their sequence's sampling and recent tokens when some row samples",
          "[decode][scheduler][sampling]") {
  FakeExecutor fake(2, 4, {2, 32});
  DecodeScheduler scheduler(fake, {});
  SamplingParams sampled;
  sampled.temperature = 0.9f;
  sampled.penaltyLastN = 3;
  sampled.seed = 9;
  const std::vector<int32_t> promptA{10, 11, 12, 13, 14}, promptB{20, 21};
  const int64_t a = scheduler.add({.prompt = promptA, .newTokens = 3, .sampling = sampled});  // slot 0
  const int64_t b = scheduler.add({.prompt = promptB, .newTokens = 3});                       // slot 1, greedy
  while (scheduler.step()) {
  }
  // The context of each slot: prompt, then the tokens fed back.
  std::map<int32_t, std::vector<int32_t>> context{{0, promptA}, {1, promptB}};
  for (int32_t token : scheduler.output(a).tokens) context[0].push_back(token);
  for (int32_t token : scheduler.output(b).tokens) context[1].push_back(token);
  std::vector<int32_t> greedyWords(kSamplingWords), sampledWords(kSamplingWords);
  packSampling({}, greedyWords.data());
  packSampling(sampled, sampledWords.data());
  int sampledSteps = 0;
  for (const StepRows& rows : fake.seen) {
    const bool hasA = std::find(rows.slots.begin(), rows.slots.end(), 0) != rows.slots.end();
    REQUIRE(rows.sampled() == hasA);
    if (!hasA) continue;
    ++sampledSteps;
    REQUIRE(rows.sampling.size() == static_cast<size_t>(rows.size() * kSamplingWords));
    REQUIRE(rows.recent.size() == static_cast<size_t>(rows.size() * kMaxPenaltyLastN));
    for (size_t r = 0; r < static_cast<size_t>(rows.size()); ++r) {
      INFO("slot " << rows.slots[r] << ", position " << rows.positions[r]);
      const bool isA = rows.slots[r] == 0;
      const auto words = rows.sampling.begin() + static_cast<std::ptrdiff_t>(r * kSamplingWords);
      CHECK(std::vector<int32_t>(words, words + kSamplingWords) == (isA ? sampledWords : greedyWords));
      // A's last three tokens up to its position (B, greedy, has its last 64, all of them).
      const std::vector<int32_t>& tokens = context[rows.slots[r]];
      const int64_t window = isA ? 3 : 64, end = rows.positions[r] + 1;
      std::vector<int32_t> expect(tokens.begin() + std::max<int64_t>(0, end - window), tokens.begin() + end);
      expect.resize(kMaxPenaltyLastN, -1);
      const auto recent = rows.recent.begin() + static_cast<std::ptrdiff_t>(r * kMaxPenaltyLastN);
      CHECK(std::vector<int32_t>(recent, recent + kMaxPenaltyLastN) == expect);
    }
  }
  CHECK(sampledSteps >= 3);  // A's prefill chunks and its decode steps beside B
  SamplingParams bad;
  bad.topP = 0;
  CHECK_THROWS_WITH(scheduler.add({.prompt = promptB, .newTokens = 1, .sampling = bad}), "--top-p: 0 is not in (0, 1]");
  CHECK_THROWS_WITH(validateRequest({{promptA, promptB}, 2, {}, {sampled}}, {2, 32}),
                    "decode: sampling for 1 sequences, but there are 2");
  CHECK_THROWS_WITH(validateRequest({{promptA}, 2, {}, {bad}}, {2, 32}), "--top-p: 0 is not in (0, 1]");
}

TEST_CASE("a stop token ends its sequence, kept as its last token; finish() ends one at once", "[decode][scheduler]") {
  FakeExecutor executor(2, 4, {2, 32});
  DecodeScheduler scheduler(executor, {});
  const std::vector<int32_t> full = expectedTokens({1, 2}, 8);
  // Stop on the fourth token the sequence gets (and on a token it never gets).
  const int64_t a = scheduler.add({.prompt = {1, 2}, .newTokens = 8, .stopTokens = {1000, full[3]}});
  const int64_t b = scheduler.add({.prompt = {3}, .newTokens = 8});
  while (!scheduler.finished(a)) REQUIRE(scheduler.step());
  CHECK(scheduler.output(a).tokens == std::vector<int32_t>(full.begin(), full.begin() + 4));
  CHECK(scheduler.output(a).stop == StopReason::EndOfGeneration);
  CHECK(describeStop(scheduler.output(a), 32, 8).empty());
  // The front end ends b after its token count so far; it runs no further step.
  REQUIRE(scheduler.step());
  const size_t bTokens = scheduler.output(b).tokens.size();
  scheduler.finish(b);
  CHECK(scheduler.finished(b));
  CHECK(scheduler.output(b).stop == StopReason::StopString);
  CHECK_FALSE(scheduler.step());
  CHECK(scheduler.output(b).tokens == expectedTokens({3}, static_cast<int64_t>(bTokens)));
  scheduler.finish(a);  // already finished: keeps its reason
  CHECK(scheduler.output(a).stop == StopReason::EndOfGeneration);
}

TEST_CASE("a sequence that continues a finished one's slot prefills only its new tokens", "[decode][scheduler]") {
  FakeExecutor executor(2, 4, {2, 32});
  DecodeScheduler scheduler(executor, {});
  const int64_t first = scheduler.add({.prompt = {1, 2, 3}, .newTokens = 3});
  while (scheduler.step()) {
  }
  const int32_t slot = scheduler.slot(first);
  // The slot holds the prompt and the generated tokens but the last: 3 + 2 positions.
  std::vector<int32_t> history{1, 2, 3};
  const std::vector<int32_t>& generated = scheduler.output(first).tokens;
  history.insert(history.end(), generated.begin(), generated.end() - 1);
  std::vector<int32_t> next = history;
  next.insert(next.end(), {generated.back(), 40, 41});
  const size_t stepsBefore = executor.steps.size();
  executor.nextPosition[slot] = static_cast<int32_t>(history.size());  // the fake checks the first row's position
  const int64_t second = scheduler.add(
      {.prompt = next, .newTokens = 2, .slot = slot, .cachedTokens = static_cast<int64_t>(history.size())});
  CHECK(scheduler.slot(second) == slot);
  while (scheduler.step()) {
  }
  CHECK(scheduler.output(second).tokens == expectedTokens(next, 2));
  // 3 new prompt tokens in one prefill chunk, then one decode step.
  REQUIRE(executor.steps.size() == stepsBefore + 2);
  CHECK(executor.steps[stepsBefore].phase == Phase::Prefill);
  CHECK(executor.steps[stepsBefore].rows == 3);

  CHECK_THROWS_WITH(scheduler.add({.prompt = {1, 2}, .newTokens = 2, .slot = 5}),
                    "decode: sequence 2 asks for KV slot 5, which is not free");
  CHECK_THROWS_WITH(scheduler.add({.prompt = {1, 2}, .newTokens = 2, .slot = 0, .cachedTokens = 2}),
                    "decode: sequence 2: 2 cached tokens of a prompt of 2 need a slot and fewer than the prompt");
  CHECK_THROWS_WITH(scheduler.add({.prompt = {1, 2}, .newTokens = 2, .cachedTokens = 1}),
                    "decode: sequence 2: 1 cached tokens of a prompt of 2 need a slot and fewer than the prompt");
}

TEST_CASE("a released sequence is forgotten; ids keep counting and the others run on", "[decode][scheduler]") {
  FakeExecutor executor(2, 4, {2, 32});
  DecodeScheduler scheduler(executor, {});
  const int64_t a = scheduler.add({{1, 2}, 2, {}});
  const int64_t b = scheduler.add({{3}, 6, {}});
  CHECK_THROWS_WITH(scheduler.release(b), "decode: sequence 1 is still running; finish it before releasing it");
  while (!scheduler.finished(a)) REQUIRE(scheduler.step());
  scheduler.release(a);
  CHECK(scheduler.kept() == 1);
  CHECK_THROWS_WITH(scheduler.finished(a), "decode: no sequence 0 (never added, or released)");
  const int64_t c = scheduler.add({{7, 8}, 3, {}});
  CHECK(c == 2);
  while (scheduler.step()) {
  }
  CHECK(scheduler.output(b).tokens == expectedTokens({3}, 6));
  CHECK(scheduler.output(c).tokens == expectedTokens({7, 8}, 3));
  scheduler.release(b);
  scheduler.release(c);
  CHECK(scheduler.kept() == 0);
  CHECK_FALSE(scheduler.step());
}

namespace {

/// The rows of the executor steps from `first` on.
int64_t rowsSince(const FakeExecutor& executor, size_t first) {
  int64_t rows = 0;
  for (size_t i = first; i < executor.steps.size(); ++i) rows += executor.steps[i].rows;
  return rows;
}

/// A prompt of `length` tokens.
std::vector<int32_t> longPrompt(int32_t length) {
  std::vector<int32_t> prompt;
  for (int32_t i = 0; i < length; ++i) prompt.push_back((11 + 17 * i) % 97);
  return prompt;
}

}  // namespace

TEST_CASE("a long prompt prefills beside the decode steps: the running sequences get a token every step",
          "[decode][scheduler][budget]") {
  // Budgets: one row past the two running sequences, one prefill chunk, more than the prompt.
  const std::vector<std::pair<int64_t, int64_t>> budgetSteps{{3, 13}, {4, 7}, {100, 1}};
  for (const auto& [budget, prefillSteps] : budgetSteps) {
    INFO("budget " << budget);
    FakeExecutor executor(4, 4, {3, 64});
    DecodeScheduler scheduler(executor, {.stepTokens = budget});
    CHECK(scheduler.stepTokens() == budget);
    const int64_t a = scheduler.add({{1, 2}, 20, {}});
    const int64_t b = scheduler.add({{3}, 20, {}});
    REQUIRE(scheduler.step());  // both prompts in one prefill step
    REQUIRE(executor.steps.size() == 1);
    REQUIRE_FALSE(scheduler.prefilling());
    const std::vector<int32_t> prompt = longPrompt(13);  // 4 prefill chunks of 4
    const int64_t c = scheduler.add({prompt, 4, {}});
    int64_t steps = 0;
    while (scheduler.prefilling()) {
      const size_t before = executor.steps.size(), aTokens = scheduler.output(a).tokens.size(),
                   bTokens = scheduler.output(b).tokens.size();
      REQUIRE(scheduler.step());
      ++steps;
      CHECK(scheduler.output(a).tokens.size() == aTokens + 1);
      CHECK(scheduler.output(b).tokens.size() == bTokens + 1);
      CHECK(scheduler.lastStep().decodeRows == 2);
      CHECK(rowsSince(executor, before) == 2 + scheduler.lastStep().prefillRows);
      CHECK(rowsSince(executor, before) <= budget);
    }
    // budget - 2 rows of the prompt per step (whole chunks of 4 past one chunk).
    CHECK(steps == prefillSteps);
    while (scheduler.step()) {
    }
    CHECK(scheduler.output(a).tokens == expectedTokens({1, 2}, 20));
    CHECK(scheduler.output(b).tokens == expectedTokens({3}, 20));
    CHECK(scheduler.output(c).tokens == expectedTokens(prompt, 4));
  }
}

TEST_CASE("the prompt rows of several sequences pack into one prefill step, oldest first",
          "[decode][scheduler][budget]") {
  FakeExecutor executor(2, 8, {4, 64});
  DecodeScheduler scheduler(executor, {.stepTokens = 10});
  const int64_t running = scheduler.add({{9}, 8, {}});
  REQUIRE(scheduler.step());
  const std::vector<std::vector<int32_t>> prompts{longPrompt(5), longPrompt(6), longPrompt(7)};
  std::vector<int64_t> ids;
  for (const std::vector<int32_t>& prompt : prompts) ids.push_back(scheduler.add({prompt, 3, {}}));
  // 10 - 1 running = 9 rows, whole chunks past one: 8 rows, in one prefill step of slots 1 and 2.
  const size_t before = executor.steps.size();
  REQUIRE(scheduler.step());
  REQUIRE(executor.steps.size() == before + 2);
  CHECK(executor.steps[before].phase == Phase::Decode);
  CHECK(executor.seen[before + 1].slots == std::vector<int32_t>{1, 1, 1, 1, 1, 2, 2, 2});
  CHECK(executor.seen[before + 1].positions == std::vector<int32_t>{0, 1, 2, 3, 4, 0, 1, 2});
  CHECK(scheduler.output(ids[0]).tokens.size() == 1);  // its prompt is done: its first token
  CHECK(scheduler.output(ids[1]).tokens.empty());
  while (scheduler.step()) {
  }
  CHECK(scheduler.output(running).tokens == expectedTokens({9}, 8));
  for (size_t s = 0; s < prompts.size(); ++s) CHECK(scheduler.output(ids[s]).tokens == expectedTokens(prompts[s], 3));
}

TEST_CASE("token by token, each waiting prompt adds one row to the decode step", "[decode][scheduler][budget]") {
  FakeExecutor executor(4, 0, {4, 64});
  DecodeScheduler scheduler(executor, {.stepTokens = 5});
  const int64_t a = scheduler.add({{1}, 10, {}});
  REQUIRE(scheduler.step());
  const std::vector<int32_t> promptB = longPrompt(5), promptC = longPrompt(3);
  const int64_t b = scheduler.add({promptB, 3, {}});
  const int64_t c = scheduler.add({promptC, 3, {}});
  const size_t before = executor.steps.size();
  REQUIRE(scheduler.step());
  // One decode step: a's fed token and the first prompt token of b and of c.
  REQUIRE(executor.steps.size() == before + 1);
  CHECK(executor.steps[before].phase == Phase::Decode);
  CHECK(executor.seen[before].slots == std::vector<int32_t>{0, 1, 2});
  CHECK(executor.seen[before].positions == std::vector<int32_t>{1, 0, 0});
  CHECK(scheduler.lastStep().prefillRows == 2);
  while (scheduler.prefilling()) {
    const size_t tokens = scheduler.output(a).tokens.size(), steps = executor.steps.size();
    REQUIRE(scheduler.step());
    CHECK(scheduler.output(a).tokens.size() == tokens + 1);
    CHECK(executor.steps.size() == steps + 1);  // a row per sequence fits one bucket
  }
  while (scheduler.step()) {
  }
  CHECK(scheduler.output(a).tokens == expectedTokens({1}, 10));
  CHECK(scheduler.output(b).tokens == expectedTokens(promptB, 3));
  CHECK(scheduler.output(c).tokens == expectedTokens(promptC, 3));
}

TEST_CASE("a budget below the running count still prefills one row per step; every sequence finishes",
          "[decode][scheduler][budget]") {
  for (const PrefillMode mode : {PrefillMode::Auto, PrefillMode::TokenByToken}) {
    FakeExecutor executor(2, 4, {4, 64});
    DecodeScheduler scheduler(executor, {.prefill = mode, .stepTokens = 1});
    std::vector<int64_t> ids;
    for (int32_t first = 1; first <= 3; ++first) ids.push_back(scheduler.add({{first, first}, 12, {}}));
    const std::vector<int32_t> prompt = longPrompt(6);
    ids.push_back(scheduler.add({prompt, 2, {}}));
    int64_t steps = 0;
    while (scheduler.prefilling()) {
      REQUIRE(scheduler.step());
      CHECK(scheduler.lastStep().prefillRows == 1);
      ++steps;
    }
    CHECK(steps == 2 + 2 + 2 + 6);
    while (scheduler.step()) {
    }
    for (size_t s = 0; s < 3; ++s) {
      const auto first = static_cast<int32_t>(s + 1);
      CHECK(scheduler.output(ids[s]).tokens == expectedTokens({first, first}, 12));
    }
    CHECK(scheduler.output(ids[3]).tokens == expectedTokens(prompt, 2));
  }
}

TEST_CASE("the step budget: at least 1; by default a largest decode bucket and one prefill chunk",
          "[decode][scheduler][budget]") {
  FakeExecutor executor(4, 16, {2, 32});
  CHECK_THROWS_WITH(DecodeScheduler(executor, {.stepTokens = 0}),
                    "decode: a step budget of 0 tokens (--step-tokens); a step needs at least 1");
  CHECK_THROWS_WITH(DecodeScheduler(executor, {.stepTokens = -3}),
                    "decode: a step budget of -3 tokens (--step-tokens); a step needs at least 1");
  CHECK(DecodeScheduler(executor, {}).stepTokens() == 4 + 16);
  CHECK(DecodeScheduler(executor, {.prefill = PrefillMode::TokenByToken}).stepTokens() == 4 + 4);
  FakeExecutor noPrefill(4, 0, {2, 32});
  CHECK(DecodeScheduler(noPrefill, {}).stepTokens() == 4 + 4);
}
