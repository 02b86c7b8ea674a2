// The sample op on the CPU (runtime/reference/RefSample.h) on hand-made logits, one knob at a
// time, and the sampling parameters' validation (runtime/decode/Sampling.h).

#include "runtime/decode/Sampling.h"
#include "runtime/reference/RefOps.h"
#include "runtime/reference/RefSample.h"
#include "support/Diagnostics.h"

#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <set>

using namespace reel;
using namespace reel::reference;

namespace {

/// One row's inputs, with its own storage.
struct Row {
  std::vector<float> logits;
  decode::SamplingParams params;
  std::vector<int32_t> history;
  int64_t position = 0;

  [[nodiscard]] int32_t sample() const { return sampleRow(input()); }
  [[nodiscard]] SampleCandidates candidates() const { return sampleCandidates(input()); }

  [[nodiscard]] SampleInput input() const {
    SampleInput in;
    in.logits = logits.data();
    in.vocab = static_cast<int64_t>(logits.size());
    int32_t words[decode::kSamplingWords];
    decode::packSampling(params, words);
    std::memcpy(&in.params, words, sizeof(in.params));
    recent_.assign(decode::kMaxPenaltyLastN, 0);
    decode::packRecent(params, history, recent_.data());
    in.recent = recent_.data();
    in.position = position;
    return in;
  }
  mutable std::vector<int32_t> recent_{};  ///< input()'s recent tokens
};

std::vector<float> randomLogits(std::mt19937& rng, int64_t n) {
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> logits(static_cast<size_t>(n));
  for (float& x : logits) x = normal(rng);
  return logits;
}

int32_t argmaxOf(const std::vector<float>& logits) {
  HostTensor t = HostTensor::zeros(HostKind::F32, 1, static_cast<int64_t>(logits.size()));
  t.f32 = logits;
  return argmaxRows(t).i32[0];
}

}  // namespace

TEST_CASE("greedy rows take argmax's token: ties, NaN, signed zeros", "[sample]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<std::vector<float>> rows = {{1, 3, 3, 2},      {nan, 1, nan, 1},       {nan, nan},
                                                {-0.0f, 0.0f, -1}, {-INFINITY, -INFINITY}, {2, INFINITY, INFINITY}};
  for (const auto& logits : rows) CHECK(Row{logits, {}, {}, 0}.sample() == argmaxOf(logits));
  std::mt19937 rng(7);
  for (int i = 0; i < 20; ++i) {
    Row row{randomLogits(rng, 1000), {}, {}, i};
    CHECK(row.sample() == argmaxOf(row.logits));
  }
}

TEST_CASE("top-k 1 and a tiny top-p keep only the largest logit", "[sample]") {
  std::mt19937 rng(11);
  for (int i = 0; i < 20; ++i) {
    Row row{randomLogits(rng, 500), {}, {}, i};
    row.params.temperature = 1.5f;
    row.params.topK = 1;
    CHECK(row.sample() == argmaxOf(row.logits));
    row.params.topK = 0;
    row.params.topP = 1e-6f;
    CHECK(row.sample() == argmaxOf(row.logits));
  }
}

TEST_CASE("top-k, top-p and min-p keep the expected candidates, best first", "[sample]") {
  // Probabilities 0.5, 0.25, 0.125, 0.0625, ... at indices 4, 3, 2, 1, 0.
  Row row{{-4 * std::log(2.0f), -3 * std::log(2.0f), -2 * std::log(2.0f), -std::log(2.0f), 0}, {}, {}, 0};
  row.params.temperature = 1;
  CHECK(row.candidates().tokens == std::vector<int32_t>{4, 3, 2, 1, 0});
  row.params.topK = 3;
  CHECK(row.candidates().tokens == std::vector<int32_t>{4, 3, 2});
  row.params.topK = 0;
  row.params.topP = 0.7f;  // the weights 1 + 0.5 reach 0.7 of their sum 1.94
  CHECK(row.candidates().tokens == std::vector<int32_t>{4, 3});
  row.params.topP = 1;
  row.params.minP = 0.2f;  // at least 0.2 times the best: 1, 0.5, 0.25
  CHECK(row.candidates().tokens == std::vector<int32_t>{4, 3, 2});
}

TEST_CASE("penalties lower the recent tokens", "[sample]") {
  Row row{{1.0f, 2.0f, 1.9f, -1.0f}, {}, {1, 1, 3}, 0};
  REQUIRE(row.sample() == 1);
  row.params.repeatPenalty = 1.5f;  // 2 / 1.5 < 1.9
  CHECK(row.sample() == 2);
  row.params.repeatPenalty = 1.0f;
  row.params.frequencyPenalty = 0.06f;  // 2 - 2 * 0.06 < 1.9
  CHECK(row.sample() == 2);
  row.params.frequencyPenalty = 0.04f;
  CHECK(row.sample() == 1);
  row.params.frequencyPenalty = 0;
  row.params.presencePenalty = 0.2f;
  CHECK(row.sample() == 2);
  // Only the last penaltyLastN tokens count.
  row.params.penaltyLastN = 1;
  CHECK(row.sample() == 1);
  // A negative logit is multiplied by the repeat penalty.
  CHECK(kernels::penalised(-1.0f, 1, {0, 0, 1, 0, 2.0f, 0, 0, 1, 0, 0}) == -2.0f);
}

TEST_CASE("the draw depends on the seed and the position only", "[sample]") {
  std::mt19937 rng(3);
  Row row{randomLogits(rng, 64), {}, {}, 0};
  row.params.temperature = 2.0f;
  row.params.seed = 42;
  std::vector<int32_t> first;
  for (int64_t p = 0; p < 32; ++p) {
    row.position = p;
    first.push_back(row.sample());
  }
  std::vector<int32_t> again, otherSeed;
  for (int64_t p = 0; p < 32; ++p) {
    row.position = p;
    row.params.seed = 42;
    again.push_back(row.sample());
    row.params.seed = 43;
    otherSeed.push_back(row.sample());
  }
  CHECK(again == first);
  CHECK(otherSeed != first);
  CHECK(std::set<int32_t>(first.begin(), first.end()).size() > 4);
  for (int64_t p = 0; p < 1000; ++p) {
    const float u = kernels::counterUniform(99, p);
    REQUIRE(u >= 0.0f);
    REQUIRE(u < 1.0f);
  }
}

TEST_CASE("draws over many positions follow the softmax at the temperature", "[sample]") {
  Row row{{std::log(0.5f), std::log(0.3f), std::log(0.2f)}, {}, {}, 0};
  row.params.temperature = 1.0f;
  row.params.seed = 5;
  constexpr int kDraws = 6000;
  std::array<int, 3> counts{};
  for (int p = 0; p < kDraws; ++p) {
    row.position = p;
    ++counts.at(static_cast<size_t>(row.sample()));
  }
  CHECK(std::abs(counts[0] / double{kDraws} - 0.5) < 0.03);
  CHECK(std::abs(counts[1] / double{kDraws} - 0.3) < 0.03);
  CHECK(std::abs(counts[2] / double{kDraws} - 0.2) < 0.03);
  // At temperature 0.5 the probabilities are squared and renormalised: 25 : 9 : 4.
  row.params.temperature = 0.5f;
  counts = {};
  for (int p = 0; p < kDraws; ++p) {
    row.position = p;
    ++counts.at(static_cast<size_t>(row.sample()));
  }
  CHECK(std::abs(counts[0] / double{kDraws} - 25.0 / 38) < 0.03);
  CHECK(std::abs(counts[2] / double{kDraws} - 4.0 / 38) < 0.03);
}

TEST_CASE("sampling parameters are validated with the flag's name", "[sample]") {
  decode::SamplingParams ok;
  CHECK_NOTHROW(ok.validate());
  CHECK(ok.greedy());
  const auto error = [](auto edit) {
    decode::SamplingParams p;
    edit(p);
    try {
      p.validate();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(error([](auto& p) { p.topP = 1.5f; }) == "--top-p: 1.5 is not in (0, 1]");
  CHECK(error([](auto& p) { p.topK = -1; }) == "--top-k: -1 is negative (0 turns it off)");
  CHECK(error([](auto& p) { p.minP = 2; }) == "--min-p: 2 is not in [0, 1]");
  CHECK(error([](auto& p) { p.repeatPenalty = 0; }) == "--repeat-penalty: 0 is not positive (1 turns it off)");
  CHECK(error([](auto& p) { p.penaltyLastN = 300; }) == "--repeat-last-n: 300 is not in [0, 256]");
  CHECK(error([](auto& p) { p.temperature = NAN; }) == "--temp: nan is not a finite number");
  decode::SamplingParams penalised;
  penalised.presencePenalty = 0.5f;
  CHECK(!penalised.greedy());
}
