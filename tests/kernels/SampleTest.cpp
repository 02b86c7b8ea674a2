// GPU test of the sample kernel against the CPU reference (runtime/reference/RefSample.h) on
// fresh random logits, outputs poisoned first. Greedy rows, penalised or not, and top-k 1 must
// give the reference's token exactly; other sampled rows must pick one of the reference's
// candidates, and the reference's token wherever the draw is not within 1e-4 of a boundary
// between two candidates (the kernel's expf may differ from the host's in the last bits).
#include "GpuTestUtil.h"
#include "kernels/KernelCatalog.h"
#include "runtime/decode/Sampling.h"
#include "runtime/reference/RefSample.h"

#include <algorithm>
#include <cmath>

using namespace reel;
using namespace reel::test;

namespace {

/// The parameters of row r: greedy, penalised greedy, top-k, top-p, min-p, top-k 1, all on.
decode::SamplingParams paramsOf(int64_t r, uint32_t seed) {
  decode::SamplingParams p;
  p.seed = seed + static_cast<uint64_t>(r) * 977;
  switch (r % 7) {
    case 0:
      break;
    case 1:
      p.repeatPenalty = 1.3f;
      p.frequencyPenalty = 0.5f;
      break;
    case 2:
      p.temperature = 0.8f;
      p.topK = 40;
      break;
    case 3:
      p.temperature = 1.0f;
      p.topP = 0.9f;
      break;
    case 4:
      p.temperature = 1.2f;
      p.minP = 0.05f;
      break;
    case 5:
      p.temperature = 0.7f;
      p.topK = 1;
      break;
    default:
      p.temperature = 1.1f;
      p.topK = 200;
      p.topP = 0.8f;
      p.minP = 0.02f;
      p.repeatPenalty = 1.2f;
      p.presencePenalty = 0.3f;
      break;
  }
  return p;
}

/// Whether the draw of `row` lands within `margin` (of the total weight) of a candidate boundary.
bool nearBoundary(const reference::SampleInput& row, double margin) {
  const reference::SampleCandidates c = reference::sampleCandidates(row);
  if (c.tokens.size() < 2) return false;
  std::vector<float> w;
  for (float logit : c.logits) w.push_back(std::exp((logit - c.logits[0]) / row.params.temperature));
  float sum = 0;
  for (float x : w) sum += x;
  const float target = kernels::counterUniform(kernels::sampleSeed(row.params), row.position) * sum;
  float cumulative = 0;
  for (float x : w) {
    cumulative += x;
    if (std::fabs(cumulative - target) <= margin * sum) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("sample matches the CPU reference on random logits", "[sample][sanitize]") {
  for (const int64_t n : {int64_t{151936}, int64_t{32000}, int64_t{1000}, int64_t{37}}) {
    const int64_t m = 14;
    const uint32_t seed = freshSeed();
    INFO("n " << n << " seed " << seed);
    const std::vector<float> logits = randomFloats(static_cast<size_t>(m * n), seed, 3.0f);
    std::mt19937 rng(seed);
    std::vector<int32_t> sampling(static_cast<size_t>(m) * decode::kSamplingWords);
    std::vector<int32_t> recent(static_cast<size_t>(m) * decode::kMaxPenaltyLastN);
    std::vector<int32_t> positions(static_cast<size_t>(m));
    for (int64_t r = 0; r < m; ++r) {
      const decode::SamplingParams p = paramsOf(r, seed);
      decode::packSampling(p, sampling.data() + r * decode::kSamplingWords);
      // Recent tokens: the row's best ones (so penalties matter), repeats, and ids outside [0, n).
      std::vector<int32_t> history;
      const float* row = logits.data() + r * n;
      const auto best = static_cast<int32_t>(std::max_element(row, row + n) - row);
      for (int i = 0; i < 80; ++i) history.push_back(i % 3 == 0 ? best : static_cast<int32_t>(rng() % (n + 5)) - 2);
      decode::packRecent(p, history, recent.data() + r * decode::kMaxPenaltyLastN);
      positions[static_cast<size_t>(r)] = static_cast<int32_t>(rng() % 4096);
    }
    DeviceBuffer<float> dx(logits);
    DeviceBuffer<int32_t> dsampling(sampling), drecent(recent), dpositions(positions), out(static_cast<size_t>(m));
    out.poison();
    CUDA_REQUIRE(run({"sample", {dx.get(), dsampling.get(), drecent.get(), dpositions.get(), out.get()}, {m, n}, {}}));
    const std::vector<int32_t> got = out.download();
    int exact = 0;
    for (int64_t r = 0; r < m; ++r) {
      INFO("row " << r);
      reference::SampleInput row;
      row.logits = logits.data() + r * n;
      row.vocab = n;
      std::memcpy(&row.params, sampling.data() + r * decode::kSamplingWords, sizeof(row.params));
      row.recent = recent.data() + r * decode::kMaxPenaltyLastN;
      row.position = positions[static_cast<size_t>(r)];
      const int32_t expect = reference::sampleRow(row);
      const int32_t token = got[static_cast<size_t>(r)];
      if (!(row.params.temperature > 0.0f) || row.params.topK == 1) {
        CHECK(token == expect);
        continue;
      }
      const std::vector<int32_t> candidates = reference::sampleCandidates(row).tokens;
      CHECK(std::find(candidates.begin(), candidates.end(), token) != candidates.end());
      if (!nearBoundary(row, 1e-4)) {
        CHECK(token == expect);
        ++exact;
      }
    }
    CHECK(exact >= 4);
    // The same inputs give the same tokens run after run.
    out.poison();
    CUDA_REQUIRE(run({"sample", {dx.get(), dsampling.get(), drecent.get(), dpositions.get(), out.get()}, {m, n}, {}}));
    CHECK(out.download() == got);
  }
}

TEST_CASE("sample: ties at the top-k boundary, NaN and infinite rows", "[sample][sanitize]") {
  const int64_t n = 5000, m = 4;
  std::vector<float> logits(static_cast<size_t>(m * n), 0.0f);
  for (int64_t j = 0; j < n; ++j) logits[static_cast<size_t>(1 * n + j)] = NAN;
  for (int64_t j = 0; j < n; ++j) logits[static_cast<size_t>(2 * n + j)] = -INFINITY;
  logits[static_cast<size_t>(3 * n + 17)] = NAN;
  logits[static_cast<size_t>(3 * n + 4000)] = INFINITY;
  std::vector<int32_t> sampling(static_cast<size_t>(m) * decode::kSamplingWords);
  decode::SamplingParams p;
  p.temperature = 1.0f;
  p.topK = 10;
  for (int64_t r = 0; r < m; ++r) {
    p.seed = static_cast<uint64_t>(r);
    decode::packSampling(p, sampling.data() + r * decode::kSamplingWords);
  }
  std::vector<int32_t> recent(static_cast<size_t>(m) * decode::kMaxPenaltyLastN, -1);
  std::vector<int32_t> positions{5, 6, 7, 8};
  DeviceBuffer<float> dx(logits);
  DeviceBuffer<int32_t> dsampling(sampling), drecent(recent), dpositions(positions), out(static_cast<size_t>(m));
  out.poison();
  CUDA_REQUIRE(run({"sample", {dx.get(), dsampling.get(), drecent.get(), dpositions.get(), out.get()}, {m, n}, {}}));
  const std::vector<int32_t> got = out.download();
  for (int64_t r = 0; r < m; ++r) {
    INFO("row " << r);
    reference::SampleInput row{
        logits.data() + r * n, n, {}, recent.data() + r * decode::kMaxPenaltyLastN, positions[static_cast<size_t>(r)]};
    std::memcpy(&row.params, sampling.data() + r * decode::kSamplingWords, sizeof(row.params));
    CHECK(got[static_cast<size_t>(r)] == reference::sampleRow(row));
  }
  CHECK(got[0] < 10);     // ten equal logits: the lowest indices are the candidates
  CHECK(got[1] == 0);     // all NaN
  CHECK(got[2] == 0);     // all -inf: the first
  CHECK(got[3] == 4000);  // +inf wins
}
