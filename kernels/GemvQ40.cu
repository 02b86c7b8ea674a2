// DP4A GEMV instantiations for Q4_0 weights (see GemvDp4a.cuh).
#include "kernels/GemvDp4a.cuh"

namespace reel::kernels::detail {

cudaError_t launchGemvQ40(const GemvLaunch& l, cudaStream_t stream) {
  return launchGemvTyped<quant::QType::Q4_0>(l, stream);
}

}  // namespace reel::kernels::detail
