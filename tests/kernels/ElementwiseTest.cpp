// GPU tests of the small kernels: add, SwiGLU, bias add, f32->f16 cast, argmax, embedding.
// Tolerances: add, bias and cast bit-exact; SwiGLU relative 1e-6 per element (expf);
// embeddings within 1e-6 of the largest |value| (GPU may contract d*s*q - m into an FMA).
#include "GpuTestUtil.h"
#include "kernels/KernelCatalog.h"
#include "quant/QuantRef.h"

#include <cmath>

using namespace reel;
using namespace reel::test;
using quant::QType;

TEST_CASE("add, swiglu, bias_add, cast", "[elementwise][sanitize]") {
  for (int64_t count : {1, 1000, 1 << 20}) {
    const uint32_t seed = freshSeed();
    INFO("count " << count << " seed " << seed);
    const auto a = randomFloats(static_cast<size_t>(count), seed), b = randomFloats(a.size(), seed + 1);
    DeviceBuffer<float> da(a), db(b), out(a.size());
    out.poison();
    CUDA_REQUIRE(run({"add", {da.get(), db.get(), out.get()}, {count}, {}}));
    const auto sum = out.download();
    for (size_t i = 0; i < a.size(); ++i) REQUIRE(sum[i] == a[i] + b[i]);

    out.poison();
    CUDA_REQUIRE(run({"swiglu", {da.get(), db.get(), out.get()}, {count}, {}}));
    const auto sw = out.download();
    for (size_t i = 0; i < a.size(); ++i) {
      const double expect = a[i] / (1.0 + std::exp(-static_cast<double>(a[i]))) * b[i];
      REQUIRE(std::fabs(sw[i] - expect) <= 1e-6 * std::fabs(expect) + 1e-30);
    }

    DeviceBuffer<uint16_t> half(a.size());
    half.poison();
    CUDA_REQUIRE(run({"cast_f32_f16", {da.get(), half.get()}, {count}, {}}));
    const auto h = half.download();
    for (size_t i = 0; i < a.size(); ++i) REQUIRE(h[i] == quant::f32ToF16(a[i]));
  }
  const int64_t m = 3, n = 77;
  const auto x = randomFloats(static_cast<size_t>(m * n), freshSeed()),
             bias = randomFloats(static_cast<size_t>(n), freshSeed());
  DeviceBuffer<float> dx(x), db(bias);
  CUDA_REQUIRE(run({"bias_add", {dx.get(), db.get()}, {m, n}, {}}));
  const auto got = dx.download();
  for (int64_t i = 0; i < m * n; ++i) REQUIRE(got[i] == x[i] + bias[i % n]);
}

TEST_CASE("argmax: lowest index on ties, NaN never wins", "[elementwise][sanitize]") {
  // 32000: the 16-byte path (ties within one float4 and across threads); 32003 and 37: the
  // scalar path (rows not 16-byte aligned, fewer columns than threads).
  for (const int64_t n : {int64_t{32000}, int64_t{32003}, int64_t{37}}) {
    CAPTURE(n);
    const int64_t m = 5;
    auto x = randomFloats(static_cast<size_t>(m * n), freshSeed());
    x[0 * n + n / 3] = 50.0f;
    x[0 * n + n - 2] = 50.0f;  // tie: the lower index wins
    x[1 * n + 7] = NAN;
    x[1 * n + 5] = 60.0f;  // NaN ignored; a tie inside one float4
    x[1 * n + 6] = 60.0f;
    for (int64_t j = 0; j < n; ++j) x[2 * n + j] = -1.0f;  // all equal: 0
    x[3 * n + n - 1] = 99.0f;                              // the last element
    std::vector<int32_t> expect(m);
    for (int64_t i = 0; i < m; ++i) {
      int64_t best = 0;
      for (int64_t j = 1; j < n; ++j) {
        if (std::isnan(x[i * n + best]) || x[i * n + j] > x[i * n + best]) best = j;
      }
      expect[i] = static_cast<int32_t>(best);
    }
    DeviceBuffer<float> dx(x);
    DeviceBuffer<int32_t> out(m);
    out.poison();
    CUDA_REQUIRE(run({"argmax", {dx.get(), out.get()}, {m, n}, {}}));
    CHECK(out.download() == expect);
    CHECK(expect[0] == n / 3);
    CHECK(expect[1] == 5);
    CHECK(expect[2] == 0);
    CHECK(expect[3] == n - 1);
  }
}

TEST_CASE("embedding lookup from every table type", "[elementwise][embed][sanitize]") {
  const int64_t vocab = 50, n = 512;
  const std::vector<int32_t> tokens = {3, 49, 0, -1, 50, 3, 17};  // -1 and 50: out of range -> zeros
  const int64_t m = static_cast<int64_t>(tokens.size());
  for (QType type : {QType::F32, QType::F16, QType::BF16, QType::Q8_0, QType::Q5_0, QType::Q5_1, QType::Q4_0,
                     QType::Q4_K, QType::Q5_K, QType::Q6_K}) {
    const uint32_t seed = freshSeed();
    INFO(quant::qtypeName(type) << " seed " << seed);
    const auto dense = randomFloats(static_cast<size_t>(vocab * n), seed);
    const size_t row = quant::rowBytes(type, n);
    std::vector<uint8_t> table(row * vocab);
    for (int64_t v = 0; v < vocab; ++v) quant::quantizeRow(type, dense.data() + v * n, table.data() + v * row, n);
    std::vector<float> expect(static_cast<size_t>(m * n), 0.0f);
    for (int64_t i = 0; i < m; ++i) {
      if (tokens[i] >= 0 && tokens[i] < vocab)
        quant::dequantizeRow(type, table.data() + tokens[i] * row, expect.data() + i * n, n);
    }
    DeviceBuffer<uint8_t> dt(table);
    DeviceBuffer<int32_t> dtok(tokens);
    DeviceBuffer<float> out(expect.size());
    out.poison();
    CUDA_REQUIRE(run({kernels::embedKernelId(type), {dt.get(), dtok.get(), out.get()}, {m, n, vocab}, {}}));
    float peak = 0.0f;
    for (float v : expect) peak = std::max(peak, std::fabs(v));
    CHECK(maxAbsDiff(out.download(), expect) <= 1e-6 * peak);
  }
}

TEST_CASE("swiglu_q8_1 writes what quantize_q8_1 makes of swiglu's rows", "[elementwise][q8_1][sanitize]") {
  // 11008: Llama-2-7B's FFN width; m = 5 x 11008 values also run the grid-stride loop twice.
  for (int64_t n : {32, 11008}) {
    for (int64_t m : {1, 5}) {
      const uint32_t seed = freshSeed();
      INFO("m " << m << " n " << n << " seed " << seed);
      const auto gate = randomFloats(static_cast<size_t>(m * n), seed), up = randomFloats(gate.size(), seed + 1);
      DeviceBuffer<float> dg(gate), du(up), out(gate.size());
      DeviceBuffer<uint8_t> q(static_cast<size_t>(m) * quant::q81RowBytes(n));
      CUDA_REQUIRE(run({"swiglu", {dg.get(), du.get(), out.get()}, {m * n}, {}}));
      const std::vector<float> rows = out.download();
      std::vector<uint8_t> expected(q.size());
      std::vector<quant::BlockQ81> blocks(static_cast<size_t>(n / 32));
      for (int64_t i = 0; i < m; ++i) {
        quant::quantizeQ81(rows.data() + i * n, blocks.data(), n);
        quant::q81BlocksToPlanar(blocks.data(), expected.data() + static_cast<size_t>(i) * quant::q81RowBytes(n), n);
      }
      q.poison();
      CUDA_REQUIRE(run({"swiglu_q8_1", {dg.get(), du.get(), q.get()}, {m, n}, {}}));
      CHECK(q.download() == expected);
    }
  }
}
