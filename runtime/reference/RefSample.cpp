#include "runtime/reference/RefSample.h"

#include "support/Diagnostics.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

namespace reel::reference {
namespace {

using kernels::candidateKey;
using kernels::kSampleMaxCandidates;
using kernels::kSampleWindow;
using kernels::SampleRow;

bool penaltiesOn(const SampleRow& p) {
  return p.penaltyLastN > 0 && (p.repeatPenalty != 1.0f || p.presencePenalty != 0.0f || p.frequencyPenalty != 0.0f);
}

/// The row's logits after the penalties.
std::vector<float> penalisedLogits(const SampleInput& row) {
  std::vector<float> values(row.logits, row.logits + row.vocab);
  if (!penaltiesOn(row.params)) return values;
  std::map<int32_t, int32_t> counts;
  const int window = std::min(row.params.penaltyLastN, kSampleWindow);
  for (int i = 0; i < window; ++i)
    if (row.recent[i] >= 0 && row.recent[i] < row.vocab) ++counts[row.recent[i]];
  for (const auto& [token, count] : counts)
    values[static_cast<size_t>(token)] = kernels::penalised(values[static_cast<size_t>(token)], count, row.params);
  return values;
}

/// argmax's order: the largest value, the lowest index on ties; NaN never wins (0 when all are).
int32_t argmaxOf(const std::vector<float>& values) {
  uint64_t best = 0;
  for (size_t i = 0; i < values.size(); ++i) best = std::max(best, candidateKey(values[i], static_cast<uint32_t>(i)));
  return best == 0 ? 0 : kernels::keyIndex(best);
}

bool greedy(const SampleRow& p) {
  return !(p.temperature > 0.0f);
}

}  // namespace

SampleCandidates sampleCandidates(const SampleInput& row) {
  SampleCandidates out;
  if (greedy(row.params)) return out;
  const std::vector<float> values = penalisedLogits(row);
  std::vector<uint64_t> keys;
  for (size_t i = 0; i < values.size(); ++i)
    if (uint64_t key = candidateKey(values[i], static_cast<uint32_t>(i)); key != 0) keys.push_back(key);
  const int32_t topK = row.params.topK > 0 ? std::min(row.params.topK, kSampleMaxCandidates) : kSampleMaxCandidates;
  const auto n = std::min(keys.size(), static_cast<size_t>(topK));
  std::partial_sort(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(n), keys.end(), std::greater<>());
  keys.resize(n);
  size_t kept = n;
  if (n > 0 && std::isfinite(kernels::keyValue(keys[0]))) {
    const float top = kernels::keyValue(keys[0]);
    std::vector<float> e(n);
    for (size_t j = 0; j < n; ++j) e[j] = std::exp(kernels::keyValue(keys[j]) - top);
    // top-p: the shortest prefix whose mass reaches topP of the candidates'.
    if (row.params.topP < 1.0f) {
      float sum = 0.0f;
      for (size_t j = 0; j < n; ++j) sum += e[j];
      const float target = row.params.topP * sum;
      float cumulative = 0.0f;
      for (size_t j = 0; j < n; ++j) {
        cumulative += e[j];
        if (cumulative >= target) {
          kept = j + 1;
          break;
        }
      }
    }
    // min-p: the candidates at least minP times as likely as the best.
    if (row.params.minP > 0.0f) {
      size_t keep = 1;
      while (keep < kept && e[keep] >= row.params.minP) ++keep;
      kept = keep;
    }
  } else {
    kept = std::min<size_t>(n, 1);
  }
  for (size_t j = 0; j < kept; ++j) {
    out.tokens.push_back(kernels::keyIndex(keys[j]));
    out.logits.push_back(kernels::keyValue(keys[j]));
  }
  return out;
}

int32_t sampleRow(const SampleInput& row) {
  if (greedy(row.params)) return argmaxOf(penalisedLogits(row));
  const SampleCandidates candidates = sampleCandidates(row);
  if (candidates.tokens.empty()) return 0;
  const size_t n = candidates.tokens.size();
  const float top = candidates.logits[0];
  std::vector<float> w(n);
  for (size_t j = 0; j < n; ++j) w[j] = std::exp((candidates.logits[j] - top) / row.params.temperature);
  float sum = 0.0f;
  for (size_t j = 0; j < n; ++j) sum += w[j];
  const float target = kernels::counterUniform(kernels::sampleSeed(row.params), row.position) * sum;
  float cumulative = 0.0f;
  for (size_t j = 0; j < n; ++j) {
    cumulative += w[j];
    if (cumulative > target) return candidates.tokens[j];
  }
  return candidates.tokens[n - 1];
}

HostTensor sampleRows(const HostTensor& logits, const std::vector<int32_t>& sampling,
                      const std::vector<int32_t>& recent, const std::vector<int32_t>& positions) {
  const auto rows = static_cast<size_t>(logits.rows);
  if (sampling.size() != rows * kernels::kSampleRowWords || recent.size() != rows * kSampleWindow ||
      positions.size() != rows)
    failPlain("sample: {} rows of logits but {} sampling words, {} recent tokens and {} positions", rows,
              sampling.size(), recent.size(), positions.size());
  HostTensor next = HostTensor::zeros(HostKind::I32, logits.rows, 1);
  for (size_t r = 0; r < rows; ++r) {
    SampleInput row;
    row.logits = logits.row(static_cast<int64_t>(r));
    row.vocab = logits.cols;
    std::memcpy(&row.params, sampling.data() + r * kernels::kSampleRowWords, sizeof(SampleRow));
    row.recent = recent.data() + r * kSampleWindow;
    row.position = positions[r];
    next.i32[r] = sampleRow(row);
  }
  return next;
}

}  // namespace reel::reference
