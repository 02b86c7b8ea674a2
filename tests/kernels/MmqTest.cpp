// GPU tests of the tensor-core matmul on quantized weights (kernels/Mmq.h) against
// quant::dotQ81Mma, bit for bit, on fresh random weights and activations, outputs poisoned first;
// and within 1e-5 of each output's sum |w x| of the DP4A GEMV's quant::dotQ81 (the same integer
// dot products summed in another order).
#include "GpuTestUtil.h"
#include "kernels/Mmq.h"
#include "kernels/MmqShape.h"
#include "quant/QuantRef.h"

#include <cmath>

using namespace reel;
using namespace reel::test;
using quant::QType;

namespace {

constexpr QType kMmqTypes[] = {QType::Q4_K, QType::Q5_K, QType::Q6_K, QType::Q8_0,
                               QType::Q4_0, QType::Q5_0, QType::Q5_1};

struct Case {
  QType type;
  int64_t n, k, m;
};

/// Runs one launch on fresh inputs and checks every output.
/// A launch variant (MmqArgs): the same sums in the same order whatever the tile or prefetch.
struct Variant {
  bool earlyStart = true;
  int tileTokens = 0;
  bool prefetch = true;
};

void checkCase(const Case& c, const Variant& variant) {
  const uint32_t seed = freshSeed();
  INFO(quant::qtypeName(c.type) << " n=" << c.n << " k=" << c.k << " m=" << c.m << " early start " << variant.earlyStart
                                << " tile " << variant.tileTokens << " prefetch " << variant.prefetch << " seed "
                                << seed);
  const std::vector<float> dense = randomFloats(static_cast<size_t>(c.n * c.k), seed, 0.02f);
  const size_t rowBytes = quant::rowBytes(c.type, c.k);
  std::vector<uint8_t> gguf(rowBytes * static_cast<size_t>(c.n));
  for (int64_t r = 0; r < c.n; ++r) quant::quantizeRow(c.type, dense.data() + r * c.k, gguf.data() + r * rowBytes, c.k);
  std::vector<uint8_t> device = gguf;
  if (quant::needsRowPlanar(c.type)) {
    device.assign(quant::planarRowBytes(c.type, c.k) * static_cast<size_t>(c.n), 0);
    quant::repackRowPlanar(c.type, gguf.data(), device.data(), c.n, c.k);
  }
  const std::vector<float> x = randomFloats(static_cast<size_t>(c.m * c.k), seed + 1, 1.0f, 0.1f);
  std::vector<quant::BlockQ81> blocks(static_cast<size_t>(c.m * c.k / 32));
  std::vector<uint8_t> planar(quant::q81RowBytes(c.k) * static_cast<size_t>(c.m));
  for (int64_t i = 0; i < c.m; ++i) {
    quant::quantizeQ81(x.data() + i * c.k, blocks.data() + i * c.k / 32, c.k);
    quant::q81BlocksToPlanar(blocks.data() + i * c.k / 32, planar.data() + i * quant::q81RowBytes(c.k), c.k);
  }

  DeviceBuffer<uint8_t> weights(device), act(planar);
  DeviceBuffer<float> out(static_cast<size_t>((c.m + 1) * c.n));  // one row past m stays poisoned
  out.poison();
  kernels::MmqArgs args;
  args.type = c.type;
  args.weights = weights.get();
  args.act = act.get();
  args.out = out.get();
  args.n = c.n;
  args.k = c.k;
  args.m = c.m;
  args.earlyStart = variant.earlyStart;
  args.tileTokens = variant.tileTokens;
  args.prefetch = variant.prefetch;
  CUDA_REQUIRE(kernels::launchMmq(args, nullptr));
  CUDA_REQUIRE(cudaDeviceSynchronize());
  const std::vector<float> result = out.download();

  std::vector<float> wrow(static_cast<size_t>(c.k));
  for (int64_t r = 0; r < c.n; ++r) {
    const uint8_t* row = gguf.data() + r * rowBytes;
    quant::dequantizeRow(c.type, row, wrow.data(), c.k);
    for (int64_t i = 0; i < c.m; ++i) {
      const quant::BlockQ81* a = blocks.data() + i * c.k / 32;
      const float got = result[static_cast<size_t>(i * c.n + r)];
      INFO("row " << r << ", token " << i);
      REQUIRE(got == quant::dotQ81Mma(c.type, row, a, c.k));
      double absSum = 0.0;
      for (int64_t e = 0; e < c.k; ++e) absSum += std::fabs(static_cast<double>(wrow[e]) * x[i * c.k + e]);
      REQUIRE(std::fabs(got - quant::dotQ81(c.type, row, a, c.k)) <= 1e-5 * absSum + 1e-30);
    }
  }
  for (size_t o = static_cast<size_t>(c.m * c.n); o < result.size(); ++o) REQUIRE(std::isnan(result[o]));
}

}  // namespace

TEST_CASE("mmq equals dotQ81Mma bit for bit: every type, ragged rows, every token tile", "[mmq][sanitize]") {
  for (QType type : kMmqTypes) {
    // 32-element block types: 3 units for 4 warps, activation rows 4-byte aligned only.
    const int64_t k = quant::blockElems(type) == quant::kQK32 ? 96 : 512;
    for (int64_t m : {1, 8, 9, 16, 17, 33, 64, 65, 130}) checkCase({type, 37, k, m}, {});
  }
}

TEST_CASE("mmq on model-sized rows, with and without an early start", "[mmq]") {
  for (QType type : kMmqTypes) {
    checkCase({type, 256, 2048, 32}, {});
    checkCase({type, 64, 4096, 64}, {false});
    checkCase({type, 16, 1280, 16}, {});  // 5 units of 256 (or 40 of 32) over the 4 warps
  }
}

TEST_CASE("mmq's launch variants (tile, prefetch) give the same bits", "[mmq][sanitize]") {
  for (QType type : kMmqTypes) {
    const int64_t k = quant::blockElems(type) == quant::kQK32 ? 160 : 1280;
    checkCase({type, 40, k, 45}, {true, 16, true});
    checkCase({type, 40, k, 45}, {true, 0, false});
    checkCase({type, 40, k, 45}, {true, 8, false});
  }
}

TEST_CASE("mmq refuses what it has no kernel for", "[mmq][sanitize]") {
  DeviceBuffer<uint8_t> bytes(1 << 16);
  DeviceBuffer<float> out(1024);
  kernels::MmqArgs args;
  args.weights = bytes.get();
  args.act = bytes.get();
  args.out = out.get();
  args.n = 16;
  args.k = 256;
  args.m = 16;
  args.type = QType::F16;
  CHECK(kernels::launchMmq(args, nullptr) == cudaErrorInvalidValue);
  args.type = QType::Q4_K;
  args.k = 96;  // not whole super-blocks
  CHECK(kernels::launchMmq(args, nullptr) == cudaErrorInvalidValue);
  args.k = 256;
  args.m = 0;
  CHECK(kernels::launchMmq(args, nullptr) == cudaErrorInvalidValue);
  args.m = 16;
  args.tileTokens = 12;
  CHECK(kernels::launchMmq(args, nullptr) == cudaErrorInvalidValue);
  CHECK(cudaGetLastError() == cudaSuccess);
}
