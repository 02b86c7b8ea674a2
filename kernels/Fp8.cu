// FP8 E4M3 conversion kernels: weights (per row / per tensor scales) and activations.
#include "kernels/Blas.h"
#include "kernels/CudaCommon.cuh"
#include "kernels/KernelCatalog.h"

#include <cuda_fp8.h>

namespace reel::kernels {
namespace {

constexpr float kFp8Max = quant::kFp8E4M3Max;

__device__ __forceinline__ uint8_t toFp8(float v) {
  return static_cast<uint8_t>(__nv_cvt_float_to_fp8(v, __NV_SATFINITE, __NV_E4M3));
}

template <bool kF16>
__device__ __forceinline__ float loadValue(const void* in, int64_t i) {
  if constexpr (kF16) {
    return __half2float(static_cast<const __half*>(in)[i]);
  } else {
    return static_cast<const float*>(in)[i];
  }
}

__device__ float blockMax(float v, float* scratch) {
  v = detail::warpMax(v);
  if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
  __syncthreads();
  float r = 0.0f;
  for (int w = 0; w < static_cast<int>(blockDim.x / 32); ++w) r = fmaxf(r, scratch[w]);
  __syncthreads();
  return r;
}

__device__ __forceinline__ float scaleOf(float amax) {
  return amax > 0.0f ? amax / kFp8Max : 1.0f;
}

/// One block per row: the row's amax, then (perRow) its own scale, else atomicMax into amaxOut.
template <bool kF16>
__global__ void rowAmaxKernel(const void* in, int64_t k, unsigned int* amaxOut) {
  __shared__ float scratch[32];
  float m = 0.0f;
  for (int64_t j = threadIdx.x; j < k; j += blockDim.x) m = fmaxf(m, fabsf(loadValue<kF16>(in, blockIdx.x * k + j)));
  m = blockMax(m, scratch);
  if (threadIdx.x == 0) atomicMax(amaxOut, __float_as_uint(m));  // non-negative floats order like their bits
}

/// One block per row. perRow: the row's own amax; else the tensor amax in tensorAmax.
template <bool kF16>
__global__ void convertKernel(const Fp8ConvertArgs a, const unsigned int* tensorAmax) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  float scale;
  if (a.perRow) {
    float m = 0.0f;
    for (int64_t j = threadIdx.x; j < a.k; j += blockDim.x) m = fmaxf(m, fabsf(loadValue<kF16>(a.in, row * a.k + j)));
    scale = scaleOf(blockMax(m, scratch));
    if (threadIdx.x == 0) a.scales[row] = scale;
  } else {
    scale = scaleOf(__uint_as_float(*tensorAmax));
  }
  for (int64_t j = threadIdx.x; j < a.k; j += blockDim.x)
    a.out[row * a.k + j] = toFp8(loadValue<kF16>(a.in, row * a.k + j) / scale);
}

__global__ void finalizeTensorScale(float* scales) {
  scales[0] = scaleOf(__uint_as_float(*reinterpret_cast<unsigned int*>(scales)));
}

__global__ void quantizeActKernel(const float* x, uint8_t* out, float* scaleOut, int64_t count) {
  __shared__ float scratch[32];
  detail::startAfterPrerequisites();
  float m = 0.0f;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) m = fmaxf(m, fabsf(x[i]));
  const float scale = scaleOf(blockMax(m, scratch));
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) out[i] = toFp8(x[i] / scale);
  if (threadIdx.x == 0) *scaleOut = scale;
}

}  // namespace

cudaError_t launchFp8ConvertWeights(const Fp8ConvertArgs& a, cudaStream_t stream) {
  if (a.n < 1 || a.k < 1 || a.n > INT32_MAX || a.in == nullptr || a.out == nullptr || a.scales == nullptr) {
    return cudaErrorInvalidValue;
  }
  const LaunchDims d = rowKernelDims(a.n, a.k);
  auto* amax = reinterpret_cast<unsigned int*>(a.scales);  // the tensor amax lives in scales[0] until finalized
  if (!a.perRow) {
    if (const cudaError_t e = cudaMemsetAsync(a.scales, 0, sizeof(float), stream); e != cudaSuccess) return e;
    if (a.inIsF16)
      rowAmaxKernel<true><<<d.grid[0], d.block[0], 0, stream>>>(a.in, a.k, amax);
    else
      rowAmaxKernel<false><<<d.grid[0], d.block[0], 0, stream>>>(a.in, a.k, amax);
    if (const cudaError_t e = detail::launchStatus(); e != cudaSuccess) return e;
  }
  if (a.inIsF16)
    convertKernel<true><<<d.grid[0], d.block[0], 0, stream>>>(a, amax);
  else
    convertKernel<false><<<d.grid[0], d.block[0], 0, stream>>>(a, amax);
  if (const cudaError_t e = detail::launchStatus(); e != cudaSuccess) return e;
  if (!a.perRow) {
    finalizeTensorScale<<<1, 1, 0, stream>>>(a.scales);
    return detail::launchStatus();
  }
  return cudaSuccess;
}

cudaError_t launchFp8QuantizeAct(const float* x, uint8_t* out, float* scale, int64_t m, int64_t k,
                                 cudaStream_t stream) {
  if (m < 1 || k < 1 || x == nullptr || out == nullptr || scale == nullptr) return cudaErrorInvalidValue;
  return detail::launchKernelEx(quantizeActKernel, dim3(1), dim3(1024), stream, true, x, out, scale, m * k);
}

}  // namespace reel::kernels
