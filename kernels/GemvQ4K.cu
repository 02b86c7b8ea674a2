// DP4A GEMV instantiations for Q4_K weights (see GemvDp4a.cuh).
#include "kernels/GemvDp4a.cuh"

namespace reel::kernels::detail {

cudaError_t launchGemvQ4K(const GemvKernelParams& p, int m, int nw, bool earlyStart, cudaStream_t stream) {
  return launchGemvTyped<quant::QType::Q4_K>(p, m, nw, earlyStart, stream);
}

}  // namespace reel::kernels::detail
