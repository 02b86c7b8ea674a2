// Rotary position embedding (norm and neox styles, llama3 frequency scaling).
#include "kernels/CudaCommon.cuh"
#include "kernels/KernelCatalog.h"
#include "kernels/Rope.h"
#include "kernels/RopeMath.cuh"

namespace reel::kernels {
namespace {

/// Block (row, chunk): thread t of chunk c rotates pair c * blockDim + t, counting over the q
/// heads then the k heads (one pair per thread: every head of a row in flight at once).
__global__ void ropeKernel(const RopeArgs a) {
  detail::startAfterPrerequisites();
  const int64_t row = blockIdx.x;
  const int half = static_cast<int>(a.headDim / 2);
  const float pos = static_cast<float>(a.positions[row]);
  const int64_t pairs = (a.nHeads + a.nKvHeads) * half;
  for (int64_t p = blockIdx.y * static_cast<int64_t>(blockDim.x) + threadIdx.x; p < pairs;
       p += static_cast<int64_t>(gridDim.y) * blockDim.x) {
    const int64_t head = p / half;
    const int i = static_cast<int>(p % half);
    float* base = head < a.nHeads ? a.q + row * a.qStride + head * a.headDim
                                  : a.k + row * a.kStride + (head - a.nHeads) * a.headDim;
    int first = 0, second = 0;
    detail::ropePairOffsets(a.style, i, static_cast<int>(a.headDim), first, second);
    detail::ropeRotate(base[first], base[second], pos, i, static_cast<int>(a.headDim), a.scaling);
  }
}

}  // namespace

cudaError_t launchRope(const RopeArgs& a, cudaStream_t stream) {
  if (a.m < 1 || a.headDim < 2 || a.headDim % 2 != 0 || a.q == nullptr || a.positions == nullptr ||
      (a.nKvHeads > 0 && a.k == nullptr) || a.m > INT32_MAX) {
    return cudaErrorInvalidValue;
  }
  const LaunchDims d = ropeDims(a.m, a.nHeads, a.nKvHeads, a.headDim);
  return detail::launchEarly(ropeKernel, d, stream, a);
}

}  // namespace reel::kernels
