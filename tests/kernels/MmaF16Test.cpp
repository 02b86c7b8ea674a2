// GPU tests of the f16 tensor-core matmul on quantized weights (kernels/MmaF16.h) against the
// CPU: the f16 weights of quant::dequantizeRowMmaF16 times the f16-rounded activations, summed
// exactly in f64, on fresh random inputs with the outputs poisoned first. The GPU sums in f32
// (in its own order, the tensor cores' additions not always rounded to nearest), so each output
// must lie within 2^-16 of its sum of |w x|; a wrong scale, nibble or element order moves an
// output by more than that at the narrow widths, a wrong sub-block at every width.
#include "GpuTestUtil.h"
#include "kernels/MmaF16.h"
#include "kernels/MmaF16Shape.h"
#include "quant/QuantRef.h"

#include <cuda_fp16.h>

#include <cmath>

using namespace reel;
using namespace reel::test;
using quant::QType;

namespace {

struct Case {
  int64_t n, k, m;
  bool earlyStart = true;
};

void checkCase(const Case& c) {
  const uint32_t seed = freshSeed();
  INFO("q4_k n=" << c.n << " k=" << c.k << " m=" << c.m << " early start " << c.earlyStart << " seed " << seed);
  const std::vector<float> dense = randomFloats(static_cast<size_t>(c.n * c.k), seed, 0.02f);
  const size_t rowBytes = quant::rowBytes(QType::Q4_K, c.k);
  std::vector<uint8_t> gguf(rowBytes * static_cast<size_t>(c.n));
  for (int64_t r = 0; r < c.n; ++r)
    quant::quantizeRow(QType::Q4_K, dense.data() + r * c.k, gguf.data() + r * rowBytes, c.k);
  const std::vector<float> x = randomFloats(static_cast<size_t>(c.m * c.k), seed + 1, 1.0f, 0.1f);
  std::vector<__half> xHalf(x.size());
  std::vector<double> xRounded(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    xHalf[i] = __float2half_rn(x[i]);
    xRounded[i] = __half2float(xHalf[i]);
  }

  DeviceBuffer<uint8_t> weights(gguf);
  DeviceBuffer<__half> act(xHalf);
  DeviceBuffer<float> out(static_cast<size_t>((c.m + 1) * c.n));  // one row past m stays poisoned
  out.poison();
  kernels::MmaF16Args args;
  args.weights = weights.get();
  args.act = act.get();
  args.out = out.get();
  args.n = c.n;
  args.k = c.k;
  args.m = c.m;
  args.earlyStart = c.earlyStart;
  CUDA_REQUIRE(kernels::launchMmaF16(args, nullptr));
  CUDA_REQUIRE(cudaDeviceSynchronize());
  const std::vector<float> result = out.download();

  std::vector<uint16_t> w(static_cast<size_t>(c.k));
  for (int64_t r = 0; r < c.n; ++r) {
    quant::dequantizeRowMmaF16(QType::Q4_K, gguf.data() + r * rowBytes, w.data(), c.k);
    for (int64_t i = 0; i < c.m; ++i) {
      double exact = 0.0, absSum = 0.0;
      for (int64_t e = 0; e < c.k; ++e) {
        const double product = static_cast<double>(quant::f16ToF32(w[static_cast<size_t>(e)])) *
                               xRounded[static_cast<size_t>(i * c.k + e)];
        exact += product;
        absSum += std::fabs(product);
      }
      const float got = result[static_cast<size_t>(i * c.n + r)];
      INFO("row " << r << ", token " << i << ": got " << got << ", exact " << exact);
      REQUIRE(std::fabs(got - exact) <= std::ldexp(absSum, -16) + 1e-30);
    }
  }
  for (size_t o = static_cast<size_t>(c.m * c.n); o < result.size(); ++o) REQUIRE(std::isnan(result[o]));
}

}  // namespace

TEST_CASE("mma_f16 against the f64 sums: ragged rows, every token tile, uneven K splits", "[mma_f16][sanitize]") {
  for (int64_t m : {1, 7, 16, 17, 33, 64, 65, 130}) checkCase({70, 512, m});
  checkCase({64, 256, 20});    // one unit: three of the four blocks have none
  checkCase({130, 1280, 40});  // 5 units over 4 blocks
  checkCase({64, 1792, 9, false});
}

TEST_CASE("mma_f16 on model-sized rows", "[mma_f16]") {
  checkCase({256, 4096, 32});
  checkCase({128, 11008, 64});
  checkCase({192, 2048, 200});
}

TEST_CASE("mma_f16 refuses what it has no kernel for", "[mma_f16][sanitize]") {
  DeviceBuffer<uint8_t> bytes(1 << 16);
  DeviceBuffer<float> out(1024);
  kernels::MmaF16Args args;
  args.weights = bytes.get();
  args.act = bytes.get();
  args.out = out.get();
  args.n = 16;
  args.k = 256;
  args.m = 16;
  args.type = QType::Q6_K;
  CHECK(kernels::launchMmaF16(args, nullptr) == cudaErrorInvalidValue);
  args.type = QType::Q4_K;
  args.k = 96;  // not whole super-blocks
  CHECK(kernels::launchMmaF16(args, nullptr) == cudaErrorInvalidValue);
  args.k = 256;
  args.m = 0;
  CHECK(kernels::launchMmaF16(args, nullptr) == cudaErrorInvalidValue);
  CHECK(cudaGetLastError() == cudaSuccess);
}
