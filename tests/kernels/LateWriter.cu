// A kernel that lets its successor start at once and writes its output late: the probe for
// kernels that read, before their wait, what the previous kernel writes.
#include "tests/kernels/LateWriter.h"

#include <cuda_runtime.h>

namespace reel::test {
namespace {

__device__ __forceinline__ uint64_t globalNanos() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__global__ void lateCopyKernel(const uint8_t* src, uint8_t* dst, size_t bytes, uint64_t delayNanos) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" :::);
#endif
  const uint64_t start = globalNanos();
  while (globalNanos() - start < delayNanos) {
  }
  for (size_t i = threadIdx.x; i < bytes; i += blockDim.x) dst[i] = src[i];
}

}  // namespace

cudaError_t launchLateCopy(const void* src, void* dst, size_t bytes, uint64_t delayNanos, cudaStream_t stream) {
  lateCopyKernel<<<1, 256, 0, stream>>>(static_cast<const uint8_t*>(src), static_cast<uint8_t*>(dst), bytes,
                                        delayNanos);
  return cudaGetLastError();
}

}  // namespace reel::test
