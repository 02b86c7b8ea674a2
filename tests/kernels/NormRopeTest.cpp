// GPU tests of RMSNorm, fused add + RMSNorm and RoPE against double-precision CPU loops.
// Tolerances (f32 kernels): norms relative L2 < 1e-6 and the sum bit-exact; RoPE max abs error
// < 2e-3 for |x| ~ 1 at positions up to 5000 (the f32 angle pos * inv_freq is off by ~ulp(pos)).
#include "GpuTestUtil.h"
#include "quant/QuantRef.h"

#include <cmath>

using namespace reel;
using namespace reel::test;

namespace {

std::vector<float> rmsNormRef(const std::vector<float>& x, const std::vector<float>& w, int64_t m, int64_t n,
                              float eps) {
  std::vector<float> out(x.size());
  for (int64_t i = 0; i < m; ++i) {
    double sq = 0.0;
    for (int64_t j = 0; j < n; ++j) sq += static_cast<double>(x[i * n + j]) * x[i * n + j];
    const double inv = 1.0 / std::sqrt(sq / static_cast<double>(n) + eps);
    for (int64_t j = 0; j < n; ++j) out[i * n + j] = static_cast<float>(x[i * n + j] * inv * w[j]);
  }
  return out;
}

struct RopeCase {
  bool neox;
  float base, factor, low, high, orig;
};

double invFreqRef(int i, int hd, const RopeCase& c) {
  double inv = std::pow(static_cast<double>(c.base), -2.0 * i / hd);
  if (c.factor != 1.0f && c.orig > 0.0f) {
    const double wavelen = 2.0 * 3.14159265358979323846 / inv, lowWl = c.orig / c.low, highWl = c.orig / c.high;
    if (wavelen > lowWl) {
      inv /= c.factor;
    } else if (wavelen >= highWl) {
      const double smooth = (c.orig / wavelen - c.low) / (c.high - c.low);
      inv = (1.0 - smooth) * inv / c.factor + smooth * inv;
    }
  }
  return inv;
}

void ropeRef(float* head, int hd, int pos, const RopeCase& c) {
  for (int i = 0; i < hd / 2; ++i) {
    const double theta = pos * invFreqRef(i, hd, c);
    const int i0 = c.neox ? i : 2 * i, i1 = c.neox ? i + hd / 2 : 2 * i + 1;
    const double x0 = head[i0], x1 = head[i1];
    head[i0] = static_cast<float>(x0 * std::cos(theta) - x1 * std::sin(theta));
    head[i1] = static_cast<float>(x0 * std::sin(theta) + x1 * std::cos(theta));
  }
}

}  // namespace

TEST_CASE("rms_norm and add_rms_norm", "[norm][sanitize]") {
  for (int64_t n : {12, 4100}) {
    for (int64_t m : {1, 3, 5}) {
      const uint32_t seed = freshSeed();
      INFO("m " << m << " n " << n << " seed " << seed);
      const auto x = randomFloats(static_cast<size_t>(m * n), seed), r = randomFloats(x.size(), seed + 1);
      const auto w = randomFloats(static_cast<size_t>(n), seed + 2, 0.2f, 1.0f);
      DeviceBuffer<float> dx(x), dr(r), dw(w), sum(x.size()), out(x.size());
      out.poison();
      CUDA_REQUIRE(run({"rms_norm", {dx.get(), dw.get(), out.get()}, {m, n}, {1e-5f}}));
      CHECK(relL2(out.download(), rmsNormRef(x, w, m, n, 1e-5f)) < 1e-6);

      std::vector<float> s(x.size());
      for (size_t i = 0; i < s.size(); ++i) s[i] = x[i] + r[i];
      sum.poison();
      out.poison();
      CUDA_REQUIRE(run({"add_rms_norm", {dx.get(), dr.get(), dw.get(), sum.get(), out.get()}, {m, n}, {1e-6f}}));
      CHECK(sum.download() == s);
      CHECK(relL2(out.download(), rmsNormRef(s, w, m, n, 1e-6f)) < 1e-6);
      // In place: the sum overwrites the residual stream.
      CUDA_REQUIRE(run({"add_rms_norm", {dx.get(), dr.get(), dw.get(), dr.get(), out.get()}, {m, n}, {1e-6f}}));
      CHECK(dr.download() == s);
    }
  }
}

TEST_CASE("rope: norm and neox styles, llama3 scaling, strided fused-QKV rows", "[rope][sanitize]") {
  const RopeCase cases[] = {{false, 10000.0f, 1.0f, 1.0f, 4.0f, 0.0f},
                            {true, 10000.0f, 1.0f, 1.0f, 4.0f, 0.0f},
                            {false, 500000.0f, 8.0f, 1.0f, 4.0f, 8192.0f},
                            {true, 500000.0f, 8.0f, 1.0f, 4.0f, 8192.0f}};
  for (const RopeCase& c : cases) {
    for (int hd : {64, 128}) {
      const int64_t m = 5, nh = 8, nkv = 2, stride = (nh + 2 * nkv) * hd;  // rows of a fused QKV output
      const uint32_t seed = freshSeed();
      INFO("neox " << c.neox << " factor " << c.factor << " hd " << hd << " seed " << seed);
      auto qkv = randomFloats(static_cast<size_t>(m * stride), seed);
      std::vector<int32_t> pos = {0, 1, 17, 4095, 5000};
      DeviceBuffer<float> d(qkv);
      DeviceBuffer<int32_t> dpos(pos);
      CUDA_REQUIRE(run({c.neox ? "rope_neox" : "rope_norm",
                        {d.get(), d.get() + nh * hd, dpos.get()},
                        {m, nh, nkv, hd, stride, stride},
                        {c.base, c.factor, c.low, c.high, c.orig}}));
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t h = 0; h < nh + nkv; ++h) ropeRef(qkv.data() + i * stride + h * hd, hd, pos[i], c);
      }
      const auto got = d.download();
      CHECK(maxAbsDiff(got, qkv) < 2e-3);  // V (the last 2 heads of each row) untouched: equal
      for (int64_t i = 0; i < m; ++i) {
        for (int64_t j = (nh + nkv) * hd; j < stride; ++j) REQUIRE(got[i * stride + j] == qkv[i * stride + j]);
      }
    }
  }
}

namespace {

/// quant::quantizeQ81 of each row of `x` in the row-planar GPU layout.
std::vector<uint8_t> hostQ81Rows(const std::vector<float>& x, int64_t m, int64_t n) {
  const size_t rowBytes = quant::q81RowBytes(n);
  std::vector<uint8_t> out(static_cast<size_t>(m) * rowBytes);
  std::vector<quant::BlockQ81> blocks(static_cast<size_t>(n / 32));
  for (int64_t i = 0; i < m; ++i) {
    quant::quantizeQ81(x.data() + i * n, blocks.data(), n);
    quant::q81BlocksToPlanar(blocks.data(), out.data() + static_cast<size_t>(i) * rowBytes, n);
  }
  return out;
}

}  // namespace

TEST_CASE("rms_norm_q8_1 and add_rms_norm_q8_1 write what quantize_q8_1 makes of the f32 rows",
          "[norm][q8_1][sanitize]") {
  // n = 96: one warp partly past the row; 4128: the last 256-thread pass partly past it.
  for (int64_t n : {96, 4128}) {
    for (int64_t m : {1, 3}) {
      const uint32_t seed = freshSeed();
      INFO("m " << m << " n " << n << " seed " << seed);
      const auto x = randomFloats(static_cast<size_t>(m * n), seed), r = randomFloats(x.size(), seed + 1);
      const auto w = randomFloats(static_cast<size_t>(n), seed + 2, 0.2f, 1.0f);
      const size_t q81Bytes = static_cast<size_t>(m) * quant::q81RowBytes(n);
      DeviceBuffer<float> dx(x), dr(r), dw(w), sum(x.size()), out(x.size());
      DeviceBuffer<uint8_t> q(q81Bytes);
      CUDA_REQUIRE(run({"rms_norm", {dx.get(), dw.get(), out.get()}, {m, n}, {1e-5f}}));
      q.poison();
      CUDA_REQUIRE(run({"rms_norm_q8_1", {dx.get(), dw.get(), q.get()}, {m, n}, {1e-5f}}));
      CHECK(q.download() == hostQ81Rows(out.download(), m, n));

      CUDA_REQUIRE(run({"add_rms_norm", {dx.get(), dr.get(), dw.get(), sum.get(), out.get()}, {m, n}, {1e-6f}}));
      const std::vector<float> expectedSum = sum.download();
      sum.poison();
      q.poison();
      CUDA_REQUIRE(run({"add_rms_norm_q8_1", {dx.get(), dr.get(), dw.get(), sum.get(), q.get()}, {m, n}, {1e-6f}}));
      CHECK(sum.download() == expectedSum);
      CHECK(q.download() == hostQ81Rows(out.download(), m, n));
    }
  }
}
