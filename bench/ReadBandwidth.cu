// The read bandwidth kernel_bench measures: a streaming read of a buffer much larger than L2,
// the ceiling a weight-streaming GEMV can reach (the device-to-device copy also writes).
#include "bench/ReadBandwidth.h"

#include <cuda_runtime.h>

namespace reel::bench {
namespace {

/// Each thread keeps kDepth 16-byte loads in flight, grid-striding over the buffer; the XOR of
/// what it read goes to sink[] so the loads cannot be dropped.
template <int kDepth>
__global__ void readKernel(const uint4* data, size_t count, uint32_t* sink) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  uint32_t acc = 0;
  for (size_t base = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; base < count;
       base += stride * kDepth) {
    uint4 v[kDepth];
#pragma unroll
    for (int d = 0; d < kDepth; ++d) {
      const size_t i = base + d * stride;
      if (i < count) {
        asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
                     : "=r"(v[d].x), "=r"(v[d].y), "=r"(v[d].z), "=r"(v[d].w)
                     : "l"(data + i));
      } else {
        v[d] = make_uint4(0, 0, 0, 0);
      }
    }
#pragma unroll
    for (int d = 0; d < kDepth; ++d) acc ^= v[d].x ^ v[d].y ^ v[d].z ^ v[d].w;
  }
  if (acc == 0x9E3779B9u) sink[threadIdx.x] = acc;  // almost never taken: keeps the loads live
}

}  // namespace

cudaError_t readOnce(const ReadProbe& probe, cudaStream_t stream) {
  const size_t count = probe.bytes / sizeof(uint4);
  const auto* data = static_cast<const uint4*>(probe.data);
  switch (probe.depth) {
    case 4:
      readKernel<4><<<probe.blocks, probe.threads, 0, stream>>>(data, count, probe.sink);
      break;
    case 8:
      readKernel<8><<<probe.blocks, probe.threads, 0, stream>>>(data, count, probe.sink);
      break;
    default:
      readKernel<2><<<probe.blocks, probe.threads, 0, stream>>>(data, count, probe.sink);
      break;
  }
  return cudaGetLastError();
}

}  // namespace reel::bench
