// RMSNorm and fused residual-add + RMSNorm.
#include "kernels/CudaCommon.cuh"
#include "kernels/KernelCatalog.h"
#include "kernels/Norm.h"
#include "kernels/Q81Epilogue.cuh"

namespace reel::kernels {
namespace {

/// Float4s of the row a thread keeps in registers between the two passes (with the norm weight's):
/// the second pass re-reads memory only beyond them, i.e. for rows longer than 4 * kKept floats
/// per thread (8192 at 1024 threads). More would not fit 1024 threads' registers.
constexpr int kKept = 2;

__device__ __forceinline__ float4 scaled(float4 v, float inv, float4 g) {
  return make_float4(v.x * inv * g.x, v.y * inv * g.y, v.z * inv * g.z, v.w * inv * g.w);
}

/// One block per row; float4 accesses. With a Q8_1 output, 8 consecutive lanes hold one
/// 32-value block; every lane runs the same number of second-pass iterations (the epilogue
/// shuffles over whole warps).
__global__ void __launch_bounds__(1024) rmsNormKernel(const RmsNormArgs a) {
  __shared__ float scratch[33];
  const int64_t row = blockIdx.x, tid = threadIdx.x, threads = blockDim.x;
  const int64_t vecs = a.n / 4;
  const float4 zero = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  // The norm weight is never written by a kernel: the thread's share is loaded before waiting
  // for the previous kernel, so the wait hides that round trip.
  const auto* w = reinterpret_cast<const float4*>(a.weight);
  float4 keptWeight[kKept], kept[kKept];
#pragma unroll
  for (int j = 0; j < kKept; ++j) keptWeight[j] = tid + j * threads < vecs ? w[tid + j * threads] : zero;
  detail::letNextStartThenWait();
  const auto* x = reinterpret_cast<const float4*>(a.x + row * a.n);
  const auto* r = a.residual != nullptr ? reinterpret_cast<const float4*>(a.residual + row * a.n) : nullptr;
  auto* sum = a.residual != nullptr ? reinterpret_cast<float4*>(a.sumOut + row * a.n) : nullptr;
  auto input = [&](int64_t i) {
    float4 v = x[i];
    if (r != nullptr) {
      const float4 b = r[i];
      v = make_float4(v.x + b.x, v.y + b.y, v.z + b.z, v.w + b.w);
      sum[i] = v;
    }
    return v;
  };
  float sq = 0.0f;
#pragma unroll
  for (int j = 0; j < kKept; ++j) {
    const int64_t i = tid + j * threads;
    kept[j] = i < vecs ? input(i) : zero;  // a zero adds nothing to the sum of squares
    sq += kept[j].x * kept[j].x + kept[j].y * kept[j].y + kept[j].z * kept[j].z + kept[j].w * kept[j].w;
  }
  for (int64_t i = tid + kKept * threads; i < vecs; i += threads) {
    const float4 v = input(i);
    sq += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
  }
  const float total = detail::blockSum(sq, scratch);
  const float inv = 1.0f / sqrtf(total / static_cast<float>(a.n) + a.eps);
  const float4* src = sum != nullptr ? sum : x;
  if (a.outQ81 == nullptr) {
    auto* out = reinterpret_cast<float4*>(a.out + row * a.n);
#pragma unroll
    for (int j = 0; j < kKept; ++j) {
      if (tid + j * threads < vecs) out[tid + j * threads] = scaled(kept[j], inv, keptWeight[j]);
    }
    for (int64_t i = tid + kKept * threads; i < vecs; i += threads) out[i] = scaled(src[i], inv, w[i]);
    return;
  }
  uint8_t* rowOut = static_cast<uint8_t*>(a.outQ81) + row * (a.n + a.n / 8);  // q81RowBytes(n)
  // vecs is a multiple of 8, so a Q8_1 block's 8 lanes are all in range or all out.
  auto store = [&](int64_t i, float4 v) {
    const float normed[4] = {v.x, v.y, v.z, v.w};
    detail::storeQ81(normed, rowOut, static_cast<int>(a.n), static_cast<int>(4 * i), i < vecs);
  };
#pragma unroll
  for (int j = 0; j < kKept; ++j) {
    const int64_t i = tid + j * threads;
    if (j * threads < vecs) store(i, i < vecs ? scaled(kept[j], inv, keptWeight[j]) : zero);
  }
  for (int64_t base = kKept * threads; base < vecs; base += threads) {
    const int64_t i = base + tid;
    store(i, i < vecs ? scaled(src[i], inv, w[i]) : zero);
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
