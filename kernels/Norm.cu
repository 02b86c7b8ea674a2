// RMSNorm and fused residual-add + RMSNorm.
#include "kernels/CudaCommon.cuh"
#include "kernels/KernelCatalog.h"
#include "kernels/Norm.h"

namespace reel::kernels {
namespace {

/// One block per row; float4 accesses. The second pass re-reads what this same thread wrote.
__global__ void rmsNormKernel(const RmsNormArgs a) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  const int64_t vecs = a.n / 4;
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
  const auto* w = reinterpret_cast<const float4*>(a.weight);
  auto* out = reinterpret_cast<float4*>(a.out + row * a.n);
  for (int64_t i = threadIdx.x; i < vecs; i += blockDim.x) {
    const float4 v = src[i], g = w[i];
    out[i] = make_float4(v.x * inv * g.x, v.y * inv * g.y, v.z * inv * g.z, v.w * inv * g.w);
  }
}

}  // namespace

cudaError_t launchRmsNorm(const RmsNormArgs& a, cudaStream_t stream) {
  if (a.m < 1 || a.n < 4 || a.n % 4 != 0 || a.x == nullptr || a.weight == nullptr || a.out == nullptr ||
      (a.residual != nullptr && a.sumOut == nullptr) || a.m > INT32_MAX) {
    return cudaErrorInvalidValue;
  }
  const LaunchDims d = rowKernelDims(a.m, a.n);
  rmsNormKernel<<<d.grid[0], d.block[0], 0, stream>>>(a);
  return detail::launchStatus();
}

}  // namespace reel::kernels
