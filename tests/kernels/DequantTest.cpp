// GPU tests of the f16 dequantization (kernels/Dequant.h) against quant::dequantizeRow rounded
// to f16, bit for bit, for every block-quantized weight type, on fresh random weights; the
// bytes after the output stay poisoned.
#include "GpuTestUtil.h"
#include "kernels/Dequant.h"
#include "quant/QuantRef.h"

using namespace reel;
using namespace reel::test;
using quant::QType;

namespace {

constexpr QType kTypes[] = {QType::Q4_K, QType::Q5_K, QType::Q6_K, QType::Q8_0, QType::Q4_0, QType::Q5_0, QType::Q5_1};

void checkType(QType type, int64_t n, int64_t k) {
  const uint32_t seed = freshSeed();
  INFO(quant::qtypeName(type) << " n=" << n << " k=" << k << " seed " << seed);
  std::vector<float> dense = randomFloats(static_cast<size_t>(n * k), seed, 0.05f);
  for (size_t i = 0; i < dense.size(); i += 7) dense[i] += 0.03f;  // offsets, so mins matter
  const size_t rowBytes = quant::rowBytes(type, k);
  std::vector<uint8_t> gguf(rowBytes * static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) quant::quantizeRow(type, dense.data() + r * k, gguf.data() + r * rowBytes, k);
  std::vector<uint8_t> device = gguf;
  if (quant::needsRowPlanar(type)) {
    device.assign(quant::planarRowBytes(type, k) * static_cast<size_t>(n), 0);
    quant::repackRowPlanar(type, gguf.data(), device.data(), n, k);
  }
  DeviceBuffer<uint8_t> weights(device);
  DeviceBuffer<uint16_t> out(static_cast<size_t>(n * k + 64));
  out.poison();
  kernels::DequantF16Args args;
  args.type = type;
  args.weights = weights.get();
  args.out = out.get();
  args.n = n;
  args.k = k;
  CUDA_REQUIRE(kernels::launchDequantF16(args, nullptr));
  CUDA_REQUIRE(cudaDeviceSynchronize());
  const std::vector<uint16_t> got = out.download();
  std::vector<float> row(static_cast<size_t>(k));
  for (int64_t r = 0; r < n; ++r) {
    quant::dequantizeRow(type, gguf.data() + r * rowBytes, row.data(), k);
    for (int64_t e = 0; e < k; ++e) {
      INFO("row " << r << ", element " << e);
      REQUIRE(got[static_cast<size_t>(r * k + e)] == quant::f32ToF16(row[static_cast<size_t>(e)]));
    }
  }
  for (size_t i = static_cast<size_t>(n * k); i < got.size(); ++i) REQUIRE(got[i] == 0xFFFF);
}

}  // namespace

TEST_CASE("dequant_f16 equals dequantizeRow rounded to f16, every block-quantized type", "[dequant][sanitize]") {
  for (QType type : kTypes) {
    checkType(type, 37, 512);
    checkType(type, 3, 768);
  }
  for (QType type : {QType::Q8_0, QType::Q4_0, QType::Q5_0, QType::Q5_1}) checkType(type, 5, 96);
}

TEST_CASE("dequant_f16 refuses what it cannot convert", "[dequant][sanitize]") {
  DeviceBuffer<uint8_t> bytes(1 << 16);
  DeviceBuffer<uint16_t> out(1 << 15);
  kernels::DequantF16Args args;
  args.weights = bytes.get();
  args.out = out.get();
  args.n = 4;
  args.k = 256;
  args.type = QType::F16;
  CHECK(kernels::launchDequantF16(args, nullptr) == cudaErrorInvalidValue);
  args.type = QType::Q4_K;
  args.k = 96;  // not whole super-blocks
  CHECK(kernels::launchDequantF16(args, nullptr) == cudaErrorInvalidValue);
  args.k = 256;
  args.n = 0;
  CHECK(kernels::launchDequantF16(args, nullptr) == cudaErrorInvalidValue);
  CHECK(cudaGetLastError() == cudaSuccess);
}
