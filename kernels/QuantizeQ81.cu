// The Q8_1 activation quantizer of the DP4A GEMVs (bit-identical to quant::quantizeQ81).
#include "kernels/CudaCommon.cuh"
#include "kernels/Gemv.h"
#include "kernels/KernelCatalog.h"
#include "kernels/Q81Epilogue.cuh"

namespace reel::kernels {
namespace {

/// One thread per value, one warp per 32-block. Row-planar output: qs [k] then {d, s} [k/32].
__global__ void quantizeQ81Kernel(const float* __restrict__ x, uint8_t* __restrict__ out, int k, int64_t outStride) {
  detail::startAfterPrerequisites();
  const int col = static_cast<int>(blockIdx.x) * 256 + static_cast<int>(threadIdx.x);
  if (col >= k) return;  // k is a multiple of 32: whole warps leave together
  const int64_t row = blockIdx.y;
  const float v[1] = {x[row * k + col]};
  detail::storeQ81(v, out + row * outStride, k, col);
}

}  // namespace

cudaError_t launchQuantizeQ81(const float* x, void* out, int64_t m, int64_t k, cudaStream_t stream) {
  if (m < 1 || k < 32 || k % 32 != 0 || k > INT32_MAX || m > 65535 || x == nullptr || out == nullptr) {
    return cudaErrorInvalidValue;
  }
  const LaunchDims d = quantizeQ81Dims(m, k);
  return detail::launchKernelEx(quantizeQ81Kernel, dim3(d.grid[0], d.grid[1]), dim3(d.block[0]), stream, true, x,
                                static_cast<uint8_t*>(out), static_cast<int>(k),
                                static_cast<int64_t>(quant::q81RowBytes(k)));
}

}  // namespace reel::kernels
