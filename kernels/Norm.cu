// RMSNorm and fused residual-add + RMSNorm.
#include "kernels/CudaCommon.cuh"
#include "kernels/KernelCatalog.h"
#include "kernels/Norm.h"
#include "kernels/Q81Epilogue.cuh"

namespace reel::kernels {
namespace {

/// One block per row; float4 accesses. The second pass re-reads what this same thread wrote.
/// With a Q8_1 output, 8 consecutive lanes hold one 32-value block; every lane runs the same
/// number of second-pass iterations (the epilogue shuffles over whole warps).
__global__ void rmsNormKernel(const RmsNormArgs a) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  const int64_t vecs = a.n / 4;
  // The norm weight is never written by a kernel: its first float4 per thread is loaded before
  // waiting for the previous kernel, so the wait hides that round trip.
  const auto* w = reinterpret_cast<const float4*>(a.weight);
  const float4 firstWeight = threadIdx.x < vecs ? w[threadIdx.x] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  detail::letNextStartThenWait();
  const auto* x = reinterpret_cast<const float4*>(a.x + row * a.n);
  const auto* r = a.residual != nullptr ? reinterpret_cast<const float4*>(a.residual + row * a.n) : nullptr;
  auto* sum = a.residual != nullptr ? reinterpret_cast<float4*>(a.sumOut + row * a.n) : nullptr;
  float sq = 0.0f;
  for (int64_t i = threadIdx.x; i < vecs; i += blockDim.x) {
    float4 v = x[i];
    if (r != nullptr) {
      const float4 b = r[i];
      v = make_float4(v.x + b.x, v.y + b.y, v.z + b.z, v.w + b.w);
      sum[i] = v;
    }
    sq += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
  }
  const float total = detail::blockSum(sq, scratch);
  const float inv = 1.0f / sqrtf(total / static_cast<float>(a.n) + a.eps);
  const float4* src = sum != nullptr ? sum : x;
  if (a.outQ81 == nullptr) {
    auto* out = reinterpret_cast<float4*>(a.out + row * a.n);
    for (int64_t i = threadIdx.x; i < vecs; i += blockDim.x) {
      const float4 v = src[i], g = i == threadIdx.x ? firstWeight : w[i];
      out[i] = make_float4(v.x * inv * g.x, v.y * inv * g.y, v.z * inv * g.z, v.w * inv * g.w);
    }
    return;
  }
  uint8_t* rowOut = static_cast<uint8_t*>(a.outQ81) + row * (a.n + a.n / 8);  // q81RowBytes(n)
  for (int64_t base = 0; base < vecs; base += blockDim.x) {
    const int64_t i = base + threadIdx.x;
    float normed[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    if (i < vecs) {
      const float4 v = src[i], g = i == threadIdx.x ? firstWeight : w[i];
      normed[0] = v.x * inv * g.x;
      normed[1] = v.y * inv * g.y;
      normed[2] = v.z * inv * g.z;
      normed[3] = v.w * inv * g.w;
    }
    // vecs is a multiple of 8, so a Q8_1 block's 8 lanes are all in range or all out.
    detail::storeQ81(normed, rowOut, static_cast<int>(a.n), static_cast<int>(4 * i), i < vecs);
  }
}

}  // namespace

cudaError_t launchRmsNorm(const RmsNormArgs& a, cudaStream_t stream) {
  if (a.m < 1 || a.n < 4 || a.n % 4 != 0 || a.x == nullptr || a.weight == nullptr ||
      (a.out == nullptr) == (a.outQ81 == nullptr) || (a.outQ81 != nullptr && a.n % 32 != 0) ||
      (a.residual != nullptr && a.sumOut == nullptr) || a.m > INT32_MAX) {
    return cudaErrorInvalidValue;
  }
  const LaunchDims d = normDims(a.m, a.n);
  return detail::launchEarly(rmsNormKernel, d, stream, a);
}

}  // namespace reel::kernels
