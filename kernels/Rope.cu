// Rotary position embedding (norm and neox styles, llama3 frequency scaling).
#include "kernels/CudaCommon.cuh"
#include "kernels/KernelCatalog.h"
#include "kernels/Rope.h"

namespace reel::kernels {
namespace {

__device__ float ropeInvFreq(int pair, int headDim, const RopeScaling& s) {
  float inv = powf(s.freqBase, -2.0f * static_cast<float>(pair) / static_cast<float>(headDim));
  if (s.llama3Factor != 1.0f && s.originalMaxPositions > 0.0f) {
    const float wavelen = 2.0f * 3.14159265358979f / inv;
    const float lowWavelen = s.originalMaxPositions / s.lowFreqFactor;
    const float highWavelen = s.originalMaxPositions / s.highFreqFactor;
    if (wavelen > lowWavelen) {
      inv = inv / s.llama3Factor;
    } else if (wavelen >= highWavelen) {
      const float smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      inv = (1.0f - smooth) * inv / s.llama3Factor + smooth * inv;
    }
  }
  return inv;
}

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
    float* x0 = a.style == RopeStyle::Norm ? base + 2 * i : base + i;
    float* x1 = a.style == RopeStyle::Norm ? base + 2 * i + 1 : base + i + half;
    float sn, cs;
    sincosf(pos * ropeInvFreq(i, static_cast<int>(a.headDim), a.scaling), &sn, &cs);
    const float v0 = *x0, v1 = *x1;
    *x0 = v0 * cs - v1 * sn;
    *x1 = v0 * sn + v1 * cs;
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
