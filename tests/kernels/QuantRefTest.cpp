// CPU tests of quant/QuantRef: layouts, scalar conversions, quantization error bounds,
// and the DP4A-exact dot product.
#include "quant/QuantRef.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

using namespace reel::quant;

namespace {

std::vector<float> gaussianRow(int64_t n, uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<float> roundTrip(QType type, const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(rowBytes(type, n));
  quantizeRow(type, x.data(), q.data(), n);
  std::vector<float> y(x.size());
  dequantizeRow(type, q.data(), y.data(), n);
  return y;
}

double relRms(const std::vector<float>& x, const std::vector<float>& y) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    num += (static_cast<double>(x[i]) - y[i]) * (static_cast<double>(x[i]) - y[i]);
    den += static_cast<double>(x[i]) * x[i];
  }
  return std::sqrt(num / den);
}

float groupAmax(const std::vector<float>& x, size_t start, size_t count) {
  float a = 0.0f;
  for (size_t i = start; i < start + count; ++i) a = std::max(a, std::fabs(x[i]));
  return a;
}

/// The K-quant (Q4_K, Q5_K) error bound per element of y = roundTrip(x): 0.6 steps of its
/// 32-element sub-block's range / maxQ, plus 4% of the super-block's amax (the 6-bit scales and
/// mins round).
void checkKQuantError(const std::vector<float>& x, const std::vector<float>& y, int maxQ) {
  for (size_t i = 0; i < x.size(); ++i) {
    const size_t s = i / 32 * 32;
    float lo = 0.0f, hi = -INFINITY;
    for (size_t j = s; j < s + 32; ++j) {
      lo = std::min(lo, x[j]);
      hi = std::max(hi, x[j]);
    }
    REQUIRE(std::fabs(x[i] - y[i]) <=
            0.6f * (hi - lo) / static_cast<float>(maxQ) + 0.04f * groupAmax(x, i / 256 * 256, 256));
  }
}

/// Brute force: the E4M3 code nearest to x (ties to even code), saturating, over all finite codes.
uint8_t nearestFp8(float x) {
  if (std::fabs(x) >= kFp8E4M3Max) return x < 0 ? 0xFE : 0x7E;
  uint8_t best = 0;
  double bestErr = INFINITY;
  for (int c = 0; c < 256; ++c) {
    if ((c & 0x7F) == 0x7F) continue;
    const double err = std::fabs(static_cast<double>(fp8E4M3ToF32(static_cast<uint8_t>(c))) - x);
    const bool sameSign = ((c & 0x80) != 0) == std::signbit(x);
    if (err < bestErr || (err == bestErr && sameSign && (c & 1) == 0)) {
      bestErr = err;
      best = static_cast<uint8_t>(c);
    }
  }
  return best;
}

}  // namespace

TEST_CASE("block layout facts", "[quant]") {
  CHECK(blockElems(QType::Q4_K) == 256);
  CHECK(blockBytes(QType::Q4_K) == 144);
  CHECK(blockElems(QType::Q6_K) == 256);
  CHECK(blockBytes(QType::Q6_K) == 210);
  CHECK(blockBytes(QType::Q8_0) == 34);
  CHECK(blockBytes(QType::Q5_0) == 22);
  CHECK(blockBytes(QType::Q8_1) == 36);
  CHECK(blockElems(QType::Q4_0) == 32);
  CHECK(blockBytes(QType::Q4_0) == 18);
  CHECK(blockElems(QType::Q5_K) == 256);
  CHECK(blockBytes(QType::Q5_K) == 176);
  CHECK(blockElems(QType::Q5_1) == 32);
  CHECK(blockBytes(QType::Q5_1) == 24);
  CHECK(rowBytes(QType::Q5_1, 896) == 28 * 24);
  CHECK(planarRowBytes(QType::Q5_1, 96) == 80);  // 3 blocks of 24 bytes, rounded up to 16
  CHECK(rowBytes(QType::Q4_K, 4096) == 16 * 144);
  CHECK(rowBytes(QType::Q5_K, 4096) == 16 * 176);
  CHECK(planarRowBytes(QType::Q4_0, 96) == 64);  // 3 blocks of 18 bytes, rounded up to 16
  CHECK(planarRowBytes(QType::Q5_K, 512) == 352);
  CHECK(rowBytes(QType::Q6_K, 11008) == 43 * 210);
  CHECK(rowBytes(QType::F16, 7) == 14);
  CHECK(rowBytes(QType::FP8_E4M3, 5) == 5);
  CHECK_THROWS(rowBytes(QType::Q4_K, 100));
  CHECK(planarRowBytes(QType::Q6_K, 11008) == 9040);
  CHECK(q81RowBytes(4096) == 4608);
  QType parsed{};
  CHECK(parseQType("q6_k", parsed));
  CHECK(parsed == QType::Q6_K);
  CHECK_FALSE(parseQType("q3_k", parsed));
}

TEST_CASE("Q4_K scale packing and nibble order follow ggml", "[quant]") {
  BlockQ4K b{};
  b.d = f32ToF16(0.5f);
  b.dmin = f32ToF16(0.25f);
  int sc[8], mn[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = 40 + j;  // needs the top 2 bits for j >= 4
    mn[j] = 20 + 3 * j;
  }
  for (int j = 0; j < 4; ++j) {
    b.scales[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    b.scales[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    b.scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((mn[j + 4] & 0xF) << 4));
  }
  for (int i = 0; i < 128; ++i) b.qs[i] = static_cast<uint8_t>((i % 16) | ((15 - i % 16) << 4));
  std::vector<float> y(256);
  dequantizeRow(QType::Q4_K, &b, y.data(), 256);
  for (int g = 0; g < 4; ++g) {
    for (int l = 0; l < 32; ++l) {
      const int lo = l % 16, hi = 15 - l % 16;  // qs[32g + l] holds elements 64g + l (low) and 64g + 32 + l (high)
      CHECK(y[64 * g + l] == 0.5f * sc[2 * g] * lo - 0.25f * mn[2 * g]);
      CHECK(y[64 * g + 32 + l] == 0.5f * sc[2 * g + 1] * hi - 0.25f * mn[2 * g + 1]);
    }
  }
}

TEST_CASE("Q6_K and Q5_0 bit placement follow ggml", "[quant]") {
  BlockQ6K b{};
  b.d = f32ToF16(1.0f);
  for (int j = 0; j < 16; ++j) b.scales[j] = 1;
  // Element 128h + 32k + l: low 4 bits in ql[64h + 32(k%2) + l] (low nibble for k<2), high 2 bits
  // in qh[32h + l] at bit 2k. Write q = (e * 7) % 64 and read it back.
  for (int e = 0; e < 256; ++e) {
    const int q = (e * 7) % 64, h = e / 128, k = (e % 128) / 32, l = e % 32;
    uint8_t& low = b.ql[64 * h + 32 * (k % 2) + l];
    low = static_cast<uint8_t>(low | (k < 2 ? (q & 0xF) : ((q & 0xF) << 4)));
    b.qh[32 * h + l] = static_cast<uint8_t>(b.qh[32 * h + l] | ((q >> 4) << (2 * k)));
  }
  std::vector<float> y(256);
  dequantizeRow(QType::Q6_K, &b, y.data(), 256);
  for (int e = 0; e < 256; ++e) CHECK(y[e] == static_cast<float>((e * 7) % 64 - 32));

  BlockQ50 c{};
  c.d = f32ToF16(2.0f);
  const uint32_t qh = 0x80000001u;  // 5th bit of elements 0 and 31
  std::memcpy(c.qh, &qh, 4);
  for (int j = 0; j < 16; ++j) c.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  std::vector<float> z(32);
  dequantizeRow(QType::Q5_0, &c, z.data(), 32);
  CHECK(z[0] == 2.0f * (16 - 16));
  CHECK(z[1] == 2.0f * (1 - 16));
  CHECK(z[16] == 2.0f * (15 - 16));
  CHECK(z[31] == 2.0f * ((0 | 16) - 16));
}

TEST_CASE("Q5_K and Q4_0 bit placement follow ggml", "[quant]") {
  // ggml's dequantize_row_q5_K: for each 64-element group j, ql = qs + 32j; element 64j + l is
  // ql[l] & 0xF plus 16 where qh[l] has bit 2j, element 64j + 32 + l is ql[l] >> 4 plus 16 where
  // qh[l] has bit 2j + 1; sub-block scales and mins are packed as Q4_K's.
  BlockQ5K b{};
  b.d = f32ToF16(0.5f);
  b.dmin = f32ToF16(0.25f);
  int sc[8], mn[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = 33 + 3 * j;
    mn[j] = 17 + 5 * j;
  }
  for (int j = 0; j < 4; ++j) {
    b.scales[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    b.scales[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    b.scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((mn[j + 4] & 0xF) << 4));
  }
  auto quantOf = [](int e) { return (e * 7 + 3) % 32; };
  for (int j = 0; j < 4; ++j) {
    for (int l = 0; l < 32; ++l) {
      const int lo = quantOf(64 * j + l), hi = quantOf(64 * j + 32 + l);
      b.qs[32 * j + l] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
      b.qh[l] = static_cast<uint8_t>(b.qh[l] | ((lo >> 4) << (2 * j)) | ((hi >> 4) << (2 * j + 1)));
    }
  }
  std::vector<float> y(256);
  dequantizeRow(QType::Q5_K, &b, y.data(), 256);
  for (int e = 0; e < 256; ++e) {
    INFO("element " << e);
    CHECK(y[e] == 0.5f * static_cast<float>(sc[e / 32]) * static_cast<float>(quantOf(e)) -
                      0.25f * static_cast<float>(mn[e / 32]));
  }

  // ggml's dequantize_row_q4_0: element j < 16 is qs[j] & 0xF, element j + 16 is qs[j] >> 4, minus 8.
  BlockQ40 c{};
  c.d = f32ToF16(2.0f);
  for (int j = 0; j < 16; ++j) c.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  std::vector<float> z(32);
  dequantizeRow(QType::Q4_0, &c, z.data(), 32);
  for (int j = 0; j < 16; ++j) {
    CHECK(z[j] == 2.0f * static_cast<float>(j - 8));
    CHECK(z[j + 16] == 2.0f * static_cast<float>(7 - j));
  }
}

TEST_CASE("Q5_1 bit placement and quantizer follow ggml", "[quant]") {
  // ggml's dequantize_row_q5_1: element j < 16 is (qs[j] & 0xF) plus 16 where qh has bit j,
  // element j + 16 is (qs[j] >> 4) plus 16 where qh has bit j + 16; y = d * q + m.
  BlockQ51 b{};
  b.d = f32ToF16(0.5f);
  b.m = f32ToF16(-3.0f);
  const uint32_t qh = 0x80010002u;  // 5th bits of elements 1, 16 and 31
  std::memcpy(b.qh, &qh, 4);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  std::vector<float> y(32);
  dequantizeRow(QType::Q5_1, &b, y.data(), 32);
  for (int j = 0; j < 16; ++j) {
    INFO("element " << j);
    const int lo = j | (j == 1 ? 16 : 0), hi = (15 - j) | (j == 0 || j == 15 ? 16 : 0);
    CHECK(y[j] == 0.5f * static_cast<float>(lo) - 3.0f);
    CHECK(y[j + 16] == 0.5f * static_cast<float>(hi) - 3.0f);
  }

  // ggml's quantize_row_q5_1_ref: m = the block's min, d = (max - min) / 31, q = floor((x - m)/d +
  // 1/2). Values on that grid (q 0 and 31 present, d and m exact in f16) come back as the same q.
  std::array<int, 32> q{};
  std::vector<float> x(32);
  for (int e = 0; e < 32; ++e) {
    q[e] = e == 7 ? 0 : (e == 20 ? 31 : (e * 11 + 5) % 32);
    x[e] = -2.0f + 0.25f * static_cast<float>(q[e]);
  }
  BlockQ51 c{};
  quantizeRow(QType::Q5_1, x.data(), &c, 32);
  CHECK(c.d == f32ToF16(0.25f));
  CHECK(c.m == f32ToF16(-2.0f));
  uint32_t bits = 0;
  std::memcpy(&bits, c.qh, 4);
  for (int e = 0; e < 32; ++e) {
    INFO("element " << e);
    const int low = e < 16 ? (c.qs[e] & 0xF) : (c.qs[e - 16] >> 4);
    CHECK((low | static_cast<int>(((bits >> e) & 1u) << 4)) == q[e]);
  }
  std::vector<float> back(32);
  dequantizeRow(QType::Q5_1, &c, back.data(), 32);
  CHECK(back == x);
}

TEST_CASE("fp16 conversion edge cases", "[quant][f16]") {
  CHECK(f32ToF16(0.0f) == 0x0000);
  CHECK(f32ToF16(-0.0f) == 0x8000);
  CHECK(f32ToF16(1.0f) == 0x3C00);
  CHECK(f32ToF16(65504.0f) == 0x7BFF);
  CHECK(f32ToF16(65519.0f) == 0x7BFF);
  CHECK(f32ToF16(65520.0f) == 0x7C00);  // the tie rounds to even: infinity
  CHECK(f32ToF16(-1e10f) == 0xFC00);
  CHECK(f32ToF16(std::numeric_limits<float>::infinity()) == 0x7C00);
  CHECK(std::isnan(f16ToF32(f32ToF16(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(f32ToF16(0x1p-24f) == 0x0001);
  CHECK(f32ToF16(0x1p-25f) == 0x0000);         // tie to even zero
  CHECK(f32ToF16(0x1.8p-25f) == 0x0001);       // above the tie
  CHECK(f32ToF16(3 * 0x1p-25f) == 0x0002);     // 1.5 ulp: tie to even 2
  CHECK(f32ToF16(0x1p-14f) == 0x0400);         // smallest normal
  CHECK(f32ToF16(0x1.ff8p-15f) == 0x03FF);     // largest subnormal
  CHECK(f32ToF16(0x1.ffcp-15f) == 0x0400);     // tie between it and the smallest normal: even
  CHECK(f32ToF16(1.0f + 0x1p-11f) == 0x3C00);  // tie to even
  CHECK(f32ToF16(1.0f + 3 * 0x1p-11f) == 0x3C02);
  int mismatches = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    if ((h & 0x7C00u) == 0x7C00u && (h & 0x3FFu) != 0) continue;  // NaNs
    if (f32ToF16(f16ToF32(static_cast<uint16_t>(h))) != h) ++mismatches;
  }
  CHECK(mismatches == 0);
}

TEST_CASE("bf16 conversion", "[quant][bf16]") {
  CHECK(f32ToBf16(1.0f) == 0x3F80);
  CHECK(bf16ToF32(0x3F80) == 1.0f);
  CHECK(f32ToBf16(1.0f + 0x1p-8f) == 0x3F80);      // tie to even
  CHECK(f32ToBf16(1.0f + 3 * 0x1p-8f) == 0x3F82);  // tie to even (up)
  CHECK(std::isnan(bf16ToF32(f32ToBf16(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(f32ToBf16(-std::numeric_limits<float>::infinity()) == 0xFF80);
}

TEST_CASE("fp8 e4m3 conversion: saturating round to nearest even", "[quant][fp8]") {
  CHECK(f32ToFp8E4M3(448.0f) == 0x7E);
  CHECK(f32ToFp8E4M3(500.0f) == 0x7E);
  CHECK(f32ToFp8E4M3(-1e30f) == 0xFE);
  CHECK(f32ToFp8E4M3(std::numeric_limits<float>::infinity()) == 0x7E);
  CHECK(f32ToFp8E4M3(std::numeric_limits<float>::quiet_NaN()) == 0x7F);
  CHECK(std::isnan(fp8E4M3ToF32(0x7F)));
  CHECK(std::isnan(fp8E4M3ToF32(0xFF)));
  CHECK(fp8E4M3ToF32(0x7E) == 448.0f);
  CHECK(fp8E4M3ToF32(0x01) == 0x1p-9f);
  CHECK(fp8E4M3ToF32(0x08) == 0x1p-6f);
  CHECK(f32ToFp8E4M3(0x1p-10f) == 0x00);      // tie to even zero
  CHECK(f32ToFp8E4M3(3 * 0x1p-10f) == 0x02);  // tie to even 2
  CHECK(f32ToFp8E4M3(1.0625f) == 0x38);       // 1 + 1/16: tie between 1.0 and 1.125 -> 1.0
  CHECK(f32ToFp8E4M3(1.1875f) == 0x3A);       // tie between 1.125 and 1.25 -> 1.25 (even)
  CHECK(f32ToFp8E4M3(-0.0f) == 0x80);
  for (int c = 0; c < 256; ++c) {
    if ((c & 0x7F) == 0x7F) continue;
    CHECK(f32ToFp8E4M3(fp8E4M3ToF32(static_cast<uint8_t>(c))) == c);
  }
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> logMag(-12.0f, 9.5f);
  int mismatches = 0;
  for (int i = 0; i < 20000; ++i) {
    const float x = std::exp2(logMag(rng)) * (i % 2 ? -1.0f : 1.0f);
    if (f32ToFp8E4M3(x) != nearestFp8(x)) ++mismatches;
  }
  CHECK(mismatches == 0);
}

TEST_CASE("quantize-dequantize error bounds", "[quant]") {
  const auto x = gaussianRow(4096, 11);
  SECTION("Q8_0: |err| <= 0.57 * amax/127 per block (half a step + the f16 rounding of d); RMS < 0.8%") {
    const auto y = roundTrip(QType::Q8_0, x);
    for (size_t i = 0; i < x.size(); ++i)
      REQUIRE(std::fabs(x[i] - y[i]) <= 0.57f * groupAmax(x, i / 32 * 32, 32) / 127.0f);
    CHECK(relRms(x, y) < 0.008);
  }
  SECTION("Q5_0: |err| <= 1.01 * amax/16 per block (the far end clips one step); relative RMS < 6%") {
    const auto y = roundTrip(QType::Q5_0, x);
    for (size_t i = 0; i < x.size(); ++i)
      REQUIRE(std::fabs(x[i] - y[i]) <= 1.01f * groupAmax(x, i / 32 * 32, 32) / 16.0f);
    CHECK(relRms(x, y) < 0.06);
  }
  SECTION("Q4_0: |err| <= 1.01 * amax/8 per block (the far end clips one step); relative RMS < 12%") {
    const auto y = roundTrip(QType::Q4_0, x);
    for (size_t i = 0; i < x.size(); ++i)
      REQUIRE(std::fabs(x[i] - y[i]) <= 1.01f * groupAmax(x, i / 32 * 32, 32) / 8.0f);
    CHECK(relRms(x, y) < 0.12);
  }
  SECTION("Q5_1: |err| <= 0.51 * range/31 + the f16 rounding of the min, per block; relative RMS < 5%") {
    const auto y = roundTrip(QType::Q5_1, x);
    for (size_t i = 0; i < x.size(); ++i) {
      const auto block = x.begin() + static_cast<std::ptrdiff_t>(i / 32 * 32);
      const float lo = *std::min_element(block, block + 32), hi = *std::max_element(block, block + 32);
      REQUIRE(std::fabs(x[i] - y[i]) <= 0.51f * (hi - lo) / 31.0f + std::fabs(lo) * 0x1p-11f);
    }
    CHECK(relRms(x, y) < 0.05);
  }
  SECTION("Q6_K: |err| <= 1.1 * amax/32 per 16-element sub-block; relative RMS < 3%") {
    const auto y = roundTrip(QType::Q6_K, x);
    for (size_t i = 0; i < x.size(); ++i)
      REQUIRE(std::fabs(x[i] - y[i]) <= 1.1f * groupAmax(x, i / 16 * 16, 16) / 32.0f);
    CHECK(relRms(x, y) < 0.03);
  }
  SECTION("Q4_K: |err| <= 0.6 * range/15 + 4% of the block amax per 32-sub-block; relative RMS < 10%") {
    const auto y = roundTrip(QType::Q4_K, x);
    checkKQuantError(x, y, 15);
    CHECK(relRms(x, y) < 0.10);
  }
  SECTION("Q5_K: |err| <= 0.6 * range/31 + 4% of the block amax per 32-sub-block; relative RMS < 5%") {
    const auto y = roundTrip(QType::Q5_K, x);
    checkKQuantError(x, y, 31);
    CHECK(relRms(x, y) < 0.05);
  }
  SECTION("scalar formats: f16 2^-11, bf16 2^-8, fp8 2^-4 relative (normal range)") {
    CHECK(relRms(x, roundTrip(QType::F16, x)) < 0x1p-11);
    CHECK(relRms(x, roundTrip(QType::BF16, x)) < 0x1p-8);
    CHECK(relRms(x, roundTrip(QType::FP8_E4M3, x)) < 0x1p-4);
    CHECK(roundTrip(QType::F32, x) == x);
  }
  SECTION("all-zero rows stay zero") {
    const std::vector<float> zeros(512, 0.0f);
    for (QType t : {QType::Q8_0, QType::Q5_0, QType::Q5_1, QType::Q4_0, QType::Q4_K, QType::Q5_K, QType::Q6_K})
      CHECK(roundTrip(t, zeros) == zeros);
  }
}

TEST_CASE("Q8_1 activation quantizer", "[quant]") {
  auto x = gaussianRow(64, 3);
  x[5] = -4.0f;  // block 0's amax
  std::vector<BlockQ81> q(2);
  quantizeQ81(x.data(), q.data(), 64);
  CHECK(f16ToF32(q[0].d) == f16ToF32(f32ToF16(4.0f / 127.0f)));
  CHECK(q[0].qs[5] == -127);
  int sum = 0;
  for (int i = 0; i < 32; ++i) sum += q[0].qs[i];
  CHECK(q[0].s == f32ToF16(4.0f / 127.0f * static_cast<float>(sum)));
  const std::vector<float> zeros(32, 0.0f);
  quantizeQ81(zeros.data(), q.data(), 32);
  CHECK(q[0].d == 0);
  CHECK(q[0].s == 0);
  std::vector<uint8_t> planar(q81RowBytes(64));
  std::vector<BlockQ81> back(2);
  quantizeQ81(x.data(), q.data(), 64);
  q81BlocksToPlanar(q.data(), planar.data(), 64);
  q81PlanarToBlocks(planar.data(), back.data(), 64);
  CHECK(std::memcmp(back.data(), q.data(), sizeof(BlockQ81) * 2) == 0);
  CHECK(static_cast<int8_t>(planar[32 + 5]) == q[1].qs[5]);
}

TEST_CASE("dotQ81 matches the dequantized dot", "[quant][dot]") {
  const int64_t n = GENERATE(256, 768, 4096, 11008);
  for (QType t : {QType::Q8_0, QType::Q5_0, QType::Q5_1, QType::Q4_0, QType::Q4_K, QType::Q5_K, QType::Q6_K}) {
    CAPTURE(qtypeName(t), n);
    const auto w = gaussianRow(n, 100 + static_cast<uint32_t>(n), 0.05f);
    auto x = gaussianRow(n, 200 + static_cast<uint32_t>(n));
    for (int64_t i = 0; i < n; i += 97) x[i] += 0.5f;  // a bias, so the min terms (Q4_K, Q5_1) matter
    std::vector<uint8_t> wq(rowBytes(t, n));
    quantizeRow(t, w.data(), wq.data(), n);
    std::vector<BlockQ81> xq(static_cast<size_t>(n / 32));
    quantizeQ81(x.data(), xq.data(), n);
    std::vector<float> xd(static_cast<size_t>(n)), wd(static_cast<size_t>(n));
    dequantizeRow(QType::Q8_1, xq.data(), xd.data(), n);
    dequantizeRow(t, wq.data(), wd.data(), n);
    double absSum = 0.0;
    for (int64_t i = 0; i < n; ++i) absSum += std::fabs(static_cast<double>(wd[i]) * xd[i]);
    const float kernelDot = dotQ81(t, wq.data(), xq.data(), n);
    // Against the dequantized Q8_1 activations: only float rounding (and, for the formats with a
    // min, the f16 rounding of s) differ: 1e-3 of sum |w x|.
    CHECK(std::fabs(kernelDot - dotDequant(t, wq.data(), xd.data(), n)) <= 1e-3 * absSum);
    // Against the float activations: Q8_1's own error adds: 1% of sum |w x|.
    CHECK(std::fabs(kernelDot - dotDequant(t, wq.data(), x.data(), n)) <= 1e-2 * absSum);
  }
}

TEST_CASE("dotQ81Mma: the tensor-core order of the same terms, a few float roundings from dotQ81", "[quant][dot]") {
  const int64_t n = GENERATE(256, 1280, 4096);
  for (QType t : {QType::Q8_0, QType::Q5_0, QType::Q5_1, QType::Q4_0, QType::Q4_K, QType::Q5_K, QType::Q6_K}) {
    CAPTURE(qtypeName(t), n);
    const auto w = gaussianRow(n, 300 + static_cast<uint32_t>(n), 0.05f);
    auto x = gaussianRow(n, 400 + static_cast<uint32_t>(n));
    for (int64_t i = 0; i < n; i += 89) x[i] += 0.5f;
    std::vector<uint8_t> wq(rowBytes(t, n));
    quantizeRow(t, w.data(), wq.data(), n);
    std::vector<BlockQ81> xq(static_cast<size_t>(n / 32));
    quantizeQ81(x.data(), xq.data(), n);
    std::vector<float> wd(static_cast<size_t>(n)), xd(static_cast<size_t>(n));
    dequantizeRow(t, wq.data(), wd.data(), n);
    dequantizeRow(QType::Q8_1, xq.data(), xd.data(), n);
    double absSum = 0.0;
    for (int64_t i = 0; i < n; ++i) absSum += std::fabs(static_cast<double>(wd[i]) * xd[i]);
    const float mma = dotQ81Mma(t, wq.data(), xq.data(), n);
    // Same exact integer dots, same kinds of terms, another summation order.
    CHECK(std::fabs(mma - dotQ81(t, wq.data(), xq.data(), n)) <= 1e-5 * absSum);
    CHECK(std::fabs(mma - dotDequant(t, wq.data(), xd.data(), n)) <= 1e-3 * absSum);
  }
  std::vector<uint8_t> row(rowBytes(QType::F16, 256));
  std::vector<BlockQ81> act(8);
  CHECK_THROWS_AS(dotQ81Mma(QType::F16, row.data(), act.data(), 256), std::invalid_argument);
}

TEST_CASE("row-planar repack places every field", "[quant]") {
  const int64_t n = 512;
  const auto w = gaussianRow(2 * n, 5);
  for (QType t : {QType::Q6_K, QType::Q8_0, QType::Q5_0, QType::Q5_1, QType::Q4_0, QType::Q4_K, QType::Q5_K}) {
    std::vector<uint8_t> gguf(2 * rowBytes(t, n));
    quantizeRow(t, w.data(), gguf.data(), n);
    quantizeRow(t, w.data() + n, gguf.data() + rowBytes(t, n), n);
    std::vector<uint8_t> planar(2 * planarRowBytes(t, n), 0xAB);
    repackRowPlanar(t, gguf.data(), planar.data(), 2, n);
    const uint8_t* row1 = planar.data() + planarRowBytes(t, n);
    const uint8_t* src1 = gguf.data() + rowBytes(t, n);
    if (t == QType::Q6_K) {
      const auto* b = reinterpret_cast<const BlockQ6K*>(src1);
      CHECK(std::memcmp(row1 + 128, b[1].ql, 128) == 0);
      CHECK(std::memcmp(row1 + 256 + 64, b[1].qh, 64) == 0);
      CHECK(std::memcmp(row1 + 384 + 16, b[1].scales, 16) == 0);
      CHECK(std::memcmp(row1 + 416 + 2, &b[1].d, 2) == 0);
    } else if (t == QType::Q8_0) {
      const auto* b = reinterpret_cast<const BlockQ80*>(src1);
      CHECK(std::memcmp(row1 + 32 * 15, b[15].qs, 32) == 0);
      CHECK(std::memcmp(row1 + 512 + 2 * 15, &b[15].d, 2) == 0);
    } else if (t == QType::Q5_0) {
      const auto* b = reinterpret_cast<const BlockQ50*>(src1);
      CHECK(std::memcmp(row1 + 16 * 3, b[3].qs, 16) == 0);
      CHECK(std::memcmp(row1 + 256 + 4 * 3, b[3].qh, 4) == 0);
      CHECK(std::memcmp(row1 + 320 + 2 * 3, &b[3].d, 2) == 0);
    } else if (t == QType::Q5_1) {  // 16 blocks: qs at 0, qh at 256, {d, m} at 320
      const auto* b = reinterpret_cast<const BlockQ51*>(src1);
      CHECK(planarRowBytes(t, n) == 384);
      CHECK(std::memcmp(row1 + 16 * 9, b[9].qs, 16) == 0);
      CHECK(std::memcmp(row1 + 256 + 4 * 9, b[9].qh, 4) == 0);
      CHECK(std::memcmp(row1 + 320 + 4 * 9, &b[9].d, 2) == 0);
      CHECK(std::memcmp(row1 + 320 + 4 * 9 + 2, &b[9].m, 2) == 0);
    } else if (t == QType::Q4_0) {
      const auto* b = reinterpret_cast<const BlockQ40*>(src1);
      CHECK(std::memcmp(row1 + 16 * 5, b[5].qs, 16) == 0);
      CHECK(std::memcmp(row1 + 256 + 2 * 5, &b[5].d, 2) == 0);
    } else {
      CHECK(std::memcmp(row1, src1, rowBytes(t, n)) == 0);
    }
  }
}

TEST_CASE("quantizers give defined codes for non-finite and subnormal inputs", "[quant][nonfinite]") {
  // Each conversion to int is clamped first (UBSan traps an out-of-range conversion in the
  // sanitizer build): NaN codes as 0, infinities and values past the range saturate.
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x(32, 1.0f);
  x[0] = std::numeric_limits<float>::quiet_NaN();
  x[1] = -inf;
  BlockQ81 q81{};
  quantizeQ81(x.data(), &q81, 32);  // the scale is infinite: -inf / inf is NaN too
  CHECK(q81.qs[0] == 0);
  CHECK(q81.qs[1] == 0);

  std::vector<float> tiny(32, 0.0f);
  tiny[0] = 5e-44f;  // its scale (amax / 127) underflows to 0: 5e-44 / 0 and 0 / 0
  quantizeQ81(tiny.data(), &q81, 32);
  CHECK(q81.qs[0] == 127);
  CHECK(q81.qs[1] == 0);
  tiny[0] = 1e-40f;  // Q5_0's scale is subnormal, and its reciprocal overflows to infinity
  std::vector<uint8_t> q50(rowBytes(QType::Q5_0, 32));
  quantizeRow(QType::Q5_0, tiny.data(), q50.data(), 32);
  std::vector<float> back(32);
  dequantizeRow(QType::Q5_0, q50.data(), back.data(), 32);
  CHECK(back[1] == 0.0f);
  std::vector<uint8_t> q40(rowBytes(QType::Q4_0, 32));  // Q4_0's too
  quantizeRow(QType::Q4_0, tiny.data(), q40.data(), 32);
  dequantizeRow(QType::Q4_0, q40.data(), back.data(), 32);
  CHECK(back[1] == 0.0f);
  std::vector<uint8_t> q51(rowBytes(QType::Q5_1, 32));  // Q5_1's range / 31 too
  quantizeRow(QType::Q5_1, tiny.data(), q51.data(), 32);
  dequantizeRow(QType::Q5_1, q51.data(), back.data(), 32);
  CHECK(back[1] == 0.0f);
  quantizeRow(QType::Q5_1, x.data(), q51.data(), 32);  // NaN and -inf: no trap, whatever the codes
}

TEST_CASE("Q5_1 keeps the min: offset rows lose less than with Q5_0", "[quant]") {
  auto x = gaussianRow(2048, 23);
  for (float& v : x) v += 4.0f;  // all positive: Q5_0's symmetric grid wastes half its codes
  CHECK(relRms(x, roundTrip(QType::Q5_1, x)) < 0.5 * relRms(x, roundTrip(QType::Q5_0, x)));
}

TEST_CASE("Q5_K keeps the 5th bit: half Q4_K's error on the same rows", "[quant]") {
  const auto x = gaussianRow(2048, 21);
  CHECK(relRms(x, roundTrip(QType::Q5_K, x)) < 0.6 * relRms(x, roundTrip(QType::Q4_K, x)));
}

TEST_CASE("f64ToF16 rounds once to nearest, ties to even", "[quant]") {
  CHECK(f64ToF16(1.0) == 0x3C00);
  CHECK(f64ToF16(1.0 + std::ldexp(1.0, -11)) == 0x3C00);                         // a tie: to even
  CHECK(f64ToF16(1.0 + 3 * std::ldexp(1.0, -11)) == 0x3C02);                     // a tie: to even
  CHECK(f64ToF16(1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40)) == 0x3C01);  // past the tie
  CHECK(f64ToF16(-std::ldexp(1.0, -24)) == 0x8001);                              // the smallest subnormal
  CHECK(f64ToF16(std::ldexp(1.0, -26)) == 0x0000);
  CHECK(f64ToF16(65504.0) == 0x7BFF);
  CHECK(f64ToF16(70000.0) == 0x7C00);
  // Through f32 this value rounds twice (to 1 + 2^-11, then to even 1.0); once it rounds up.
  CHECK(f64ToF16(1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -30)) == 0x3C01);
}

TEST_CASE("dequantizeRowMmaF16 is within the f16 roundings of its scale, min and result", "[quant]") {
  const int64_t k = 1024;
  std::mt19937 rng(11);
  std::normal_distribution<float> dist(0.0f, 0.02f);
  std::vector<float> dense(static_cast<size_t>(k));
  for (float& v : dense) v = dist(rng);
  std::vector<uint8_t> row(rowBytes(QType::Q4_K, k));
  quantizeRow(QType::Q4_K, dense.data(), row.data(), k);
  std::vector<float> reference(static_cast<size_t>(k));
  std::vector<uint16_t> halves(static_cast<size_t>(k));
  dequantizeRow(QType::Q4_K, row.data(), reference.data(), k);
  dequantizeRowMmaF16(QType::Q4_K, row.data(), halves.data(), k);
  for (int64_t e = 0; e < k; ++e) {
    const float got = f16ToF32(halves[static_cast<size_t>(e)]), want = reference[static_cast<size_t>(e)];
    INFO("element " << e << ": " << got << " against " << want);
    // q * scale and min are each at most about the sub-block's largest |w| (times 2): their f16
    // roundings (2^-11 relative) and the final one stay within 2^-9 of it.
    float largest = 0.0f;
    for (int64_t i = e / 32 * 32; i < e / 32 * 32 + 32; ++i)
      largest = std::max(largest, std::fabs(reference[static_cast<size_t>(i)]));
    REQUIRE(std::fabs(got - want) <= std::ldexp(largest, -9) + std::ldexp(1.0, -24));
  }
  CHECK_THROWS_AS(dequantizeRowMmaF16(QType::Q6_K, row.data(), halves.data(), 256), std::invalid_argument);
}
