// DP4A GEMV instantiations for Q8_0 weights (see GemvDp4a.cuh).
#include "kernels/GemvDp4a.cuh"

namespace reel::kernels::detail {

cudaError_t launchGemvQ80(const GemvLaunch& l, cudaStream_t stream) {
  return launchGemvTyped<quant::QType::Q8_0>(l, stream);
}

}  // namespace reel::kernels::detail
