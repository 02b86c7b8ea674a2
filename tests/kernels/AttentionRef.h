#pragma once
// The attention kernel tests' shapes, random f16 caches and double-precision CPU reference.
#include "GpuTestUtil.h"
#include "quant/QuantRef.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace reel::test {

struct Shape {
  int64_t nHeads, nKvHeads, headDim, maxCtx, slots;
  int64_t width() const { return nKvHeads * headDim; }
  int64_t cacheElems() const { return slots * maxCtx * width(); }
};

/// A random f16 cache (K and V) on the host and the device.
struct Cache {
  std::vector<uint16_t> k, v;
  DeviceBuffer<uint16_t> dk, dv;
  Cache(const Shape& s, uint32_t seed)
      : dk(static_cast<size_t>(s.cacheElems())), dv(static_cast<size_t>(s.cacheElems())) {
    const auto kf = randomFloats(static_cast<size_t>(s.cacheElems()), seed), vf = randomFloats(kf.size(), seed + 1);
    k.resize(kf.size());
    v.resize(kf.size());
    for (size_t i = 0; i < kf.size(); ++i) {
      k[i] = quant::f32ToF16(kf[i]);
      v[i] = quant::f32ToF16(vf[i]);
    }
    dk.upload(k);
    dv.upload(v);
  }
};

/// out [m][nHeads][headDim]: row i attends to [max(0, len - window), len) of slot slots[i].
inline std::vector<float> attentionRef(const Shape& s, const Cache& c, const std::vector<float>& q, int64_t qStride,
                                       const std::vector<int32_t>& slots, const std::vector<int32_t>& lens,
                                       int64_t window, float scale) {
  const int64_t m = static_cast<int64_t>(slots.size()), hd = s.headDim, group = s.nHeads / s.nKvHeads;
  std::vector<float> out(static_cast<size_t>(m * s.nHeads * hd), 0.0f);
  for (int64_t i = 0; i < m; ++i) {
    const int64_t len = lens[i], slot = slots[i];
    if (len <= 0 || slot < 0) continue;
    const int64_t first = window > 0 ? std::max<int64_t>(0, len - window) : 0;
    for (int64_t h = 0; h < s.nHeads; ++h) {
      const int64_t kvh = h / group;
      std::vector<double> score(static_cast<size_t>(len - first));
      double best = -INFINITY;
      for (int64_t t = first; t < len; ++t) {
        const int64_t base = (slot * s.maxCtx + t) * s.width() + kvh * hd;
        double dot = 0.0;
        for (int64_t d = 0; d < hd; ++d)
          dot += static_cast<double>(q[i * qStride + h * hd + d]) * quant::f16ToF32(c.k[base + d]);
        score[t - first] = dot * scale;
        best = std::max(best, score[t - first]);
      }
      double total = 0.0;
      for (double& sc : score) total += (sc = std::exp(sc - best));
      for (int64_t d = 0; d < hd; ++d) {
        double acc = 0.0;
        for (int64_t t = first; t < len; ++t)
          acc += score[t - first] * quant::f16ToF32(c.v[(slot * s.maxCtx + t) * s.width() + kvh * hd + d]);
        out[(i * s.nHeads + h) * hd + d] = static_cast<float>(acc / total);
      }
    }
  }
  return out;
}

}  // namespace reel::test
