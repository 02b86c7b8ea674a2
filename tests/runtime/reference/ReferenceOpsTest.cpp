// The row-wise ops, the matmul numerics and the attention of the CPU reference, on small
// hand-checked inputs.

#include "models/RopeFactors.h"
#include "quant/QuantRef.h"
#include "runtime/reference/FastRound.h"
#include "runtime/reference/KvCache.h"
#include "runtime/reference/RefAttention.h"
#include "runtime/reference/RefMatmul.h"
#include "runtime/reference/RefOps.h"

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstring>

using namespace reel;
using namespace reel::reference;
using Catch::Matchers::Contains;

namespace {

HostTensor f32Rows(int64_t rows, int64_t cols, const std::vector<float>& values) {
  HostTensor tensor = HostTensor::zeros(HostKind::F32, rows, cols);
  tensor.f32 = values;
  return tensor;
}

/// A weight view over bytes the caller keeps alive.
WeightView viewOf(const std::string& name, quant::QType type, int64_t rows, int64_t cols,
                  const std::vector<uint8_t>& bytes) {
  WeightView view;
  view.name = name;
  view.type = type;
  view.rows = rows;
  view.cols = cols;
  view.rank = 2;
  view.bytes = bytes;
  return view;
}

std::vector<uint8_t> quantized(quant::QType type, int64_t rows, int64_t cols, const std::vector<float>& values) {
  std::vector<uint8_t> bytes(quant::rowBytes(type, cols) * static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r)
    quant::quantizeRow(type, values.data() + r * cols,
                       bytes.data() + quant::rowBytes(type, cols) * static_cast<size_t>(r), cols);
  return bytes;
}

std::vector<float> wave(int64_t count, double frequency, double phase = 0.0) {
  std::vector<float> values(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i)
    values[static_cast<size_t>(i)] = static_cast<float>(std::sin(frequency * static_cast<double>(i) + phase));
  return values;
}

}  // namespace

TEST_CASE("rms_norm scales each row to unit rms times the weight", "[reference][ops]") {
  HostTensor x = f32Rows(2, 4, {1, 2, 3, 4, 0, 0, 0, 0});
  HostTensor y = rmsNorm(x, {1, 1, 2, 0.5f}, 1e-6);
  const double rms = std::sqrt((1 + 4 + 9 + 16) / 4.0 + 1e-6);
  CHECK(y.row(0)[0] == Approx(1 / rms));
  CHECK(y.row(0)[2] == Approx(2 * 3 / rms));
  CHECK(y.row(0)[3] == Approx(0.5 * 4 / rms));
  CHECK(y.row(1)[1] == 0.0f);  // a zero row stays zero (eps keeps it finite)
}

TEST_CASE("rope rotates adjacent pairs (norm) or halves (neox)", "[reference][ops][rope]") {
  // One head of 4: pairs rotate by pos * base^(-2i/4).
  HostTensor x = f32Rows(2, 4, {1, 0, 1, 0, 1, 0, 1, 0});
  RopeSpec spec{false, 1, 4, 100.0, {}};
  HostTensor norm = rope(x, {0, 3}, spec);
  CHECK(norm.row(0)[0] == 1.0f);  // position 0: identity
  CHECK(norm.row(1)[0] == Approx(std::cos(3.0)));
  CHECK(norm.row(1)[1] == Approx(std::sin(3.0)));
  CHECK(norm.row(1)[2] == Approx(std::cos(0.3)));  // 3 * 100^(-1/2)
  CHECK(norm.row(1)[3] == Approx(std::sin(0.3)));

  spec.neox = true;  // pairs (0, 2) and (1, 3)
  HostTensor neox = rope(f32Rows(1, 4, {1, 1, 0, 0}), {3}, spec);
  CHECK(neox.row(0)[0] == Approx(std::cos(3.0)));
  CHECK(neox.row(0)[2] == Approx(std::sin(3.0)));
  CHECK(neox.row(0)[1] == Approx(std::cos(0.3)));
  CHECK(neox.row(0)[3] == Approx(std::sin(0.3)));
}

TEST_CASE("llama3 rope factors follow llama.cpp's converter", "[reference][ops][rope]") {
  // Llama 3.1 8B: head_dim 128, base 500000, factor 8, low 1, high 4, original 8192.
  const std::vector<float> factors = models::llama3RopeFactors(128, 500000.0, {8.0, 1.0, 4.0, 8192});
  REQUIRE(factors.size() == 64);
  CHECK(factors.front() == 1.0f);  // high frequencies are kept
  CHECK(factors.back() == 8.0f);   // low frequencies are divided by the factor
  for (size_t i = 1; i < factors.size(); ++i) CHECK(factors[i] >= factors[i - 1]);
  // Pair 32 has wavelength 2*pi*500000^(64/128) ~ 4443, between 8192/4 and 8192: the blend.
  const double wavelength = 2 * M_PI * std::pow(500000.0, 64.0 / 128.0);
  const double smooth = (8192 / wavelength - 1.0) / 3.0;
  CHECK(factors[32] > 1.0f);
  CHECK(factors[32] < 8.0f);
  CHECK(factors[32] == Approx(1 / ((1 - smooth) / 8 + smooth)));
  // A rope with factors divides the angle.
  RopeSpec spec{false, 1, 4, 100.0, {1.0f, 4.0f}};
  HostTensor y = rope(f32Rows(1, 4, {1, 0, 1, 0}), {3}, spec);
  CHECK(y.row(0)[2] == Approx(std::cos(0.3 / 4)));
}

TEST_CASE("argmax takes the lowest index on ties and skips NaN", "[reference][ops]") {
  HostTensor logits = f32Rows(3, 4, {1, 5, 5, 2, NAN, 1, 3, 3, -1, -1, -1, -1});
  HostTensor best = argmaxRows(logits);
  CHECK(best.i32 == std::vector<int32_t>{1, 2, 0});
}

TEST_CASE("silu_mul, add and bias_add", "[reference][ops]") {
  HostTensor gate = f32Rows(1, 2, {0, 2});
  HostTensor up = f32Rows(1, 2, {3, 0.5f});
  HostTensor y = siluMul(gate, up);
  CHECK(y.f32[0] == 0.0f);
  CHECK(y.f32[1] == Approx(2 / (1 + std::exp(-2.0)) * 0.5));
  CHECK(add(gate, up).f32 == std::vector<float>{3, 2.5f});
  CHECK(biasAdd(gate, {1, -1}).f32 == std::vector<float>{1, 1});
}

TEST_CASE("matmul numerics per kernel family", "[reference][matmul]") {
  const int64_t n = 3;
  const int64_t k = 256;
  std::vector<float> weights;
  for (int64_t r = 0; r < n; ++r) {
    std::vector<float> row = wave(k, 0.05 * static_cast<double>(r + 1), 0.3);
    weights.insert(weights.end(), row.begin(), row.end());
  }
  const std::vector<uint8_t> bytes = quantized(quant::QType::Q4_K, n, k, weights);
  const WeightView view = viewOf("w", quant::QType::Q4_K, n, k, bytes);
  std::vector<float> xs = wave(2 * k, 0.011);
  HostTensor x = f32Rows(2, k, xs);

  // Float: the dequantized weight dotted in f64.
  HostTensor exact = matmul(x, {&view}, MatmulNumerics::Float, {});
  std::vector<float> w(static_cast<size_t>(k));
  quant::dequantizeRow(quant::QType::Q4_K, view.rowData(2), w.data(), k);
  double expected = 0.0;
  for (int64_t i = 0; i < k; ++i)
    expected += static_cast<double>(w[static_cast<size_t>(i)]) * xs[static_cast<size_t>(k + i)];
  CHECK(exact.row(1)[2] == Approx(expected).epsilon(1e-6));

  SECTION("dp4a is exactly quant::dotQ81 on the Q8_1 row") {
    HostTensor dp4a = matmul(x, {&view}, MatmulNumerics::Dp4a, {});
    std::vector<quant::BlockQ81> act(k / 32);
    quant::quantizeQ81(x.row(1), act.data(), k);
    CHECK(dp4a.row(1)[2] == quant::dotQ81(quant::QType::Q4_K, view.rowData(2), act.data(), k));
    CHECK(dp4a.row(1)[2] == Approx(exact.row(1)[2]).margin(0.05 * std::fabs(exact.row(1)[2]) + 0.05));
    // Q8_1 input gives the same result as quantizing inside.
    CHECK(matmul(quantizeRowsQ81(x), {&view}, MatmulNumerics::Dp4a, {}).f32 == dp4a.f32);
  }
  SECTION("mma is exactly quant::dotQ81Mma on the Q8_1 row, for f32 and Q8_1 inputs") {
    HostTensor mma = matmul(x, {&view}, MatmulNumerics::Mma, {});
    std::vector<quant::BlockQ81> act(k / 32);
    for (int64_t row = 0; row < 2; ++row) {
      quant::quantizeQ81(x.row(row), act.data(), k);
      for (int64_t r = 0; r < n; ++r)
        CHECK(mma.row(row)[r] == quant::dotQ81Mma(quant::QType::Q4_K, view.rowData(r), act.data(), k));
    }
    CHECK(matmul(quantizeRowsQ81(x), {&view}, MatmulNumerics::Mma, {}).f32 == mma.f32);
    // The same integer products as dp4a: equal up to the float summation order.
    const HostTensor dp4a = matmul(x, {&view}, MatmulNumerics::Dp4a, {});
    for (size_t i = 0; i < mma.f32.size(); ++i)
      CHECK(mma.f32[i] == Approx(dp4a.f32[i]).margin(1e-4 * (std::fabs(dp4a.f32[i]) + 1)));
    // A weight type without a tensor-core kernel is refused, naming the weight.
    const std::vector<uint8_t> f16Bytes = quantized(quant::QType::F16, n, k, weights);
    const WeightView f16 = viewOf("w16", quant::QType::F16, n, k, f16Bytes);
    CHECK_THROWS_WITH(matmul(x, {&f16}, MatmulNumerics::Mma, {}),
                      Contains("kernel \"mma\" has no kernel for weight 'w16' of f16"));
  }
  SECTION("hgemm and fp8 stay close to f32") {
    HostTensor hgemm = matmul(x, {&view}, MatmulNumerics::Hgemm, {});
    const std::vector<float> scales = fp8WeightRowScales(view, 1);
    HostTensor fp8 = matmul(x, {&view, &scales}, MatmulNumerics::Fp8, {});
    for (size_t i = 0; i < exact.f32.size(); ++i) {
      CHECK(hgemm.f32[i] == Approx(exact.f32[i]).margin(1e-2));
      CHECK(fp8.f32[i] == Approx(exact.f32[i]).margin(0.15 * std::fabs(exact.f32[i]) + 0.3));
    }
  }
  SECTION("mma-f16 dots dequantizeRowMmaF16's f16 weights with the f16-rounded activations") {
    const HostTensor mmaF16 = matmul(x, {&view}, MatmulNumerics::MmaF16, {});
    std::vector<uint16_t> halves(static_cast<size_t>(k));
    quant::dequantizeRowMmaF16(quant::QType::Q4_K, view.rowData(2), halves.data(), k);
    double sum = 0.0;
    for (int64_t i = 0; i < k; ++i)
      sum += static_cast<double>(quant::f16ToF32(halves[static_cast<size_t>(i)])) *
             quant::f16ToF32(quant::f32ToF16(xs[static_cast<size_t>(k + i)]));
    CHECK(mmaF16.row(1)[2] == static_cast<float>(sum));
    // Each sub-block's scale and min rounded to f16 shift its 32 weights together: within 1%.
    for (size_t i = 0; i < exact.f32.size(); ++i)
      CHECK(mmaF16.f32[i] == Approx(exact.f32[i]).margin(1e-2 * (std::fabs(exact.f32[i]) + 1)));
    const std::vector<uint8_t> q6Bytes = quantized(quant::QType::Q6_K, n, k, weights);
    const WeightView q6 = viewOf("w6", quant::QType::Q6_K, n, k, q6Bytes);
    CHECK_THROWS_WITH(matmul(x, {&q6}, MatmulNumerics::MmaF16, {}),
                      Contains("kernel \"mma-f16\" has no kernel for weight 'w6' of q6_k"));
  }
  SECTION("threads change nothing") {
    CHECK(matmul(x, {&view}, MatmulNumerics::Float, {1}).f32 == exact.f32);
  }
}

TEST_CASE("fast fp16 rounding equals the round trip through quant::f32ToF16", "[reference][matmul]") {
  auto same = [](float x) {
    const float expected = quant::f16ToF32(quant::f32ToF16(x));
    return std::bit_cast<uint32_t>(roundToF16(x)) == std::bit_cast<uint32_t>(expected);
  };
  // Around every fp16 exponent: the values, the halfway points and their neighbours.
  for (int exponent = -26; exponent <= 17; ++exponent)
    for (uint32_t mantissa = 0; mantissa < 2048; ++mantissa) {
      const float base = std::ldexp(1.0f + static_cast<float>(mantissa) / 2048.0f, exponent);
      for (float x : {base, std::nextafter(base, 0.0f), std::nextafter(base, INFINITY), -base})
        if (!same(x)) FAIL("roundToF16(" << x << ")");
    }
  for (float x : {0.0f, -0.0f, 65504.0f, 65519.996f, 65520.0f, 1e30f, INFINITY, -INFINITY, 6.1e-5f, 1e-8f})
    CHECK(same(x));
  CHECK(std::isnan(roundToF16(NAN)));
}

TEST_CASE("matmul kernels map to the numerics the reference reproduces", "[reference][matmul]") {
  CHECK(numericsOf(std::nullopt) == MatmulNumerics::Float);
  CHECK(numericsOf(std::string("dp4a")) == MatmulNumerics::Dp4a);
  CHECK(numericsOf(std::string("mma")) == MatmulNumerics::Mma);
  CHECK(numericsOf(std::string("fp8")) == MatmulNumerics::Fp8);
  CHECK(numericsOf(std::string("hgemm")) == MatmulNumerics::Hgemm);
  // dequant-hgemm multiplies the same f16 weight values as hgemm's copy, made per use.
  CHECK(numericsOf(std::string("dequant-hgemm")) == MatmulNumerics::Hgemm);
  CHECK(numericsOf(std::string("mma-f16")) == MatmulNumerics::MmaF16);
  CHECK_THROWS_WITH(numericsOf(std::string("wmma")), Contains("unknown matmul kernel 'wmma'"));
}

TEST_CASE("embedding reads rows by token id and refuses ids outside the table", "[reference][ops]") {
  const std::vector<float> table = wave(2 * 32, 0.2);
  const std::vector<uint8_t> bytes = quantized(quant::QType::Q8_0, 2, 32, table);
  const WeightView view = viewOf("token_embd.weight", quant::QType::Q8_0, 2, 32, bytes);
  HostTensor tokens = HostTensor::zeros(HostKind::I32, 1, 1);
  tokens.i32 = {1};
  HostTensor rows = embedding(tokens, view);
  CHECK(rows.row(0)[3] == Approx(table[35]).margin(0.01));
  tokens.i32 = {2};
  CHECK_THROWS_WITH(embedding(tokens, view), Contains("token id 2 (row 0) is outside the vocabulary of 2 tokens"));
}

TEST_CASE("attention appends fp16 k/v and attends causally per slot", "[reference][attention]") {
  // 2 query heads over 1 KV head of dim 2; two slots.
  KvCacheState cache({1, 2, 8, 1, 2});
  AttentionSpec spec{0, 2, 1, 2, std::nullopt, false};
  auto step = [&](std::vector<int32_t> positions, std::vector<int32_t> kvLens, const HostTensor& q,
                  const HostTensor& kv) {
    std::vector<int32_t> slots{0, 1};
    return attention(q, kv, kv, spec, {&positions, &kvLens, &slots}, cache);
  };
  HostTensor q = f32Rows(2, 4, {1, 0, 0, 1, 1, 0, 0, 1});
  HostTensor kv0 = f32Rows(2, 2, {0.1f, 0.2f, 5, 5});
  HostTensor first = step({0, 0}, {1, 0}, q, kv0);  // row 1 is padding
  // One entry: the output is v itself, rounded to fp16.
  CHECK(first.row(0)[0] == quant::f16ToF32(quant::f32ToF16(0.1f)));
  CHECK(first.row(0)[3] == quant::f16ToF32(quant::f32ToF16(0.2f)));
  CHECK(first.row(1)[0] == 0.0f);
  CHECK(cache.entry(0, KvPart::K, 1, 0)[0] == 0);  // padding wrote nothing

  HostTensor kv1 = f32Rows(2, 2, {1, -1, 0, 0});
  HostTensor second = step({1, 0}, {2, 0}, q, kv1);
  // Head 0 (q = [1, 0]) scores 0.1 and 1 over the two entries, scaled by 1/sqrt(2).
  const double s0 = quant::f16ToF32(quant::f32ToF16(0.1f)) / std::sqrt(2.0);
  const double s1 = 1.0 / std::sqrt(2.0);
  const double p1 = std::exp(s1) / (std::exp(s0) + std::exp(s1));
  CHECK(second.row(0)[0] == Approx((1 - p1) * quant::f16ToF32(quant::f32ToF16(0.1f)) + p1 * 1.0));

  SECTION("a sliding window of 1 sees only the current entry") {
    spec.window = 1;
    HostTensor windowed = step({1, 0}, {2, 0}, q, kv1);
    CHECK(windowed.row(0)[0] == 1.0f);
    CHECK(windowed.row(0)[1] == -1.0f);
  }
  SECTION("positions outside the cache are refused") {
    CHECK_THROWS_WITH(step({8, 0}, {9, 0}, q, kv1), Contains("outside the cache of 8"));
  }
}

TEST_CASE("prefill rows attend to [0, position] of one slot", "[reference][attention]") {
  KvCacheState cache({1, 1, 4, 1, 2});
  AttentionSpec spec{0, 1, 1, 2, std::nullopt, true};
  std::vector<int32_t> positions{0, 1, 0};
  std::vector<int32_t> kvLens{1, 2, 0};  // the third row pads the chunk
  std::vector<int32_t> slots{0, 0, 0};
  HostTensor q = f32Rows(3, 2, {0, 0, 0, 0, 0, 0});  // uniform attention
  HostTensor kv = f32Rows(3, 2, {1, 2, 3, 4, 9, 9});
  HostTensor out = attention(q, kv, kv, spec, {&positions, &kvLens, &slots}, cache);
  CHECK(out.row(0)[0] == 1.0f);  // row 0 sees entry 0 only
  CHECK(out.row(1)[0] == 2.0f);  // row 1 averages entries 0 and 1
  CHECK(out.row(2)[0] == 0.0f);
  CHECK(quant::f16ToF32(cache.entry(0, KvPart::V, 0, 1)[1]) == 4.0f);
}

TEST_CASE("the KV cache checks its bounds", "[reference][attention]") {
  CHECK_THROWS_WITH(KvCacheState({1, 0, 4, 1, 2}), Contains("every dimension must be positive"));
  KvCacheState cache({2, 1, 4, 1, 2});
  CHECK_THROWS_WITH(cache.entry(2, KvPart::K, 0, 0), Contains("outside the cache"));
  cache.entry(1, KvPart::V, 0, 3)[0] = 7;
  cache.clearSlot(0);
  CHECK(cache.entry(1, KvPart::V, 0, 3)[0] == 0);
}
