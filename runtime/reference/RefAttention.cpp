#include "runtime/reference/RefAttention.h"

#include "quant/QuantRef.h"
#include "support/Diagnostics.h"
#include "support/Parallel.h"

#include <algorithm>
#include <cmath>

namespace reel::reference {

namespace {

/// The cache entries row r attends to: [begin, end).
struct KeyRange {
  int64_t begin = 0;
  int64_t end = 0;
};

KeyRange keyRange(const AttentionSpec& spec, const AttentionRows& rows, int64_t r) {
  const auto index = static_cast<size_t>(r);
  const int64_t end = spec.prefill ? int64_t{(*rows.positions)[index]} + 1 : int64_t{(*rows.kvLens)[index]};
  const int64_t begin = spec.window ? std::max<int64_t>(0, end - *spec.window) : 0;
  return {begin, end};
}

/// The longest key range of the step (a work estimate).
int64_t maxEnd(const AttentionSpec& spec, const AttentionRows& rows) {
  int64_t longest = 1;
  for (size_t r = 0; r < rows.positions->size(); ++r)
    longest = std::max(longest, keyRange(spec, rows, static_cast<int64_t>(r)).end);
  return longest;
}

void appendRow(const HostTensor& k, const HostTensor& v, const AttentionSpec& spec, const AttentionRows& rows,
               int64_t r, KvCacheState& cache) {
  const auto index = static_cast<size_t>(r);
  const int32_t slot = (*rows.slots)[index];
  const int32_t position = (*rows.positions)[index];
  uint16_t* kOut = cache.entry(spec.layer, KvPart::K, slot, position);
  uint16_t* vOut = cache.entry(spec.layer, KvPart::V, slot, position);
  for (int64_t i = 0; i < k.cols; ++i) {
    kOut[i] = quant::f32ToF16(k.row(r)[i]);
    vOut[i] = quant::f32ToF16(v.row(r)[i]);
  }
}

/// Attention of one head of one row over `range` of its slot.
void attendHead(const float* q, const AttentionSpec& spec, const KvCacheState& cache, int32_t slot, KeyRange range,
                int64_t head, float* out) {
  const int64_t kvHead = head / (spec.heads / spec.kvHeads);
  const double scale = 1.0 / std::sqrt(static_cast<double>(spec.headDim));
  std::vector<double> scores(static_cast<size_t>(range.end - range.begin));
  double maxScore = -INFINITY;
  for (int64_t j = range.begin; j < range.end; ++j) {
    const uint16_t* key = cache.entry(spec.layer, KvPart::K, slot, j) + kvHead * spec.headDim;
    double sum = 0.0;
    for (int64_t d = 0; d < spec.headDim; ++d) sum += static_cast<double>(q[d]) * quant::f16ToF32(key[d]);
    scores[static_cast<size_t>(j - range.begin)] = sum * scale;
    maxScore = std::max(maxScore, sum * scale);
  }
  double total = 0.0;
  for (double& score : scores) {
    score = std::exp(score - maxScore);
    total += score;
  }
  std::vector<double> acc(static_cast<size_t>(spec.headDim), 0.0);
  for (int64_t j = range.begin; j < range.end; ++j) {
    const uint16_t* value = cache.entry(spec.layer, KvPart::V, slot, j) + kvHead * spec.headDim;
    const double p = scores[static_cast<size_t>(j - range.begin)] / total;
    for (int64_t d = 0; d < spec.headDim; ++d) acc[static_cast<size_t>(d)] += p * quant::f16ToF32(value[d]);
  }
  for (int64_t d = 0; d < spec.headDim; ++d) out[d] = static_cast<float>(acc[static_cast<size_t>(d)]);
}

}  // namespace

HostTensor attention(const HostTensor& q, const HostTensor& k, const HostTensor& v, const AttentionSpec& spec,
                     const AttentionRows& rows, KvCacheState& cache, unsigned threads) {
  const KvCacheShape& shape = cache.shape();
  if (shape.kvHeads != spec.kvHeads || shape.headDim != spec.headDim)
    failPlain("attention (layer {}): the KV cache has {} heads of {}, the graph {} of {}", spec.layer, shape.kvHeads,
              shape.headDim, spec.kvHeads, spec.headDim);
  auto live = [&](int64_t r) { return (*rows.kvLens)[static_cast<size_t>(r)] != 0; };
  for (int64_t r = 0; r < q.rows; ++r) {
    if (!live(r)) continue;
    const KeyRange range = keyRange(spec, rows, r);
    const int32_t position = (*rows.positions)[static_cast<size_t>(r)];
    if (range.end < 1 || range.end > shape.capacity || position >= range.end || position < 0)
      failPlain(
          "attention (layer {}): row {} at position {} attends to {} entries, outside the cache of {} "
          "(decode rows need 0 <= position < kv_len <= capacity)",
          spec.layer, r, position, range.end, shape.capacity);
    appendRow(k, v, spec, rows, r, cache);
  }
  HostTensor out = HostTensor::zeros(HostKind::F32, q.rows, spec.heads * spec.headDim);
  const int64_t work = q.rows * spec.heads * spec.headDim * maxEnd(spec, rows);
  support::parallelFor(q.rows, threads, work, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      if (!live(r)) continue;
      const KeyRange range = keyRange(spec, rows, r);
      const int32_t slot = (*rows.slots)[static_cast<size_t>(r)];
      for (int64_t h = 0; h < spec.heads; ++h)
        attendHead(q.row(r) + h * spec.headDim, spec, cache, slot, range, h, out.row(r) + h * spec.headDim);
    }
  });
  return out;
}

}  // namespace reel::reference
