// DP4A GEMV instantiations for Q5_0 weights (see GemvDp4a.cuh).
#include "kernels/GemvDp4a.cuh"

namespace reel::kernels::detail {

cudaError_t launchGemvQ50(const GemvLaunch& l, cudaStream_t stream) {
  return launchGemvTyped<quant::QType::Q5_0>(l, stream);
}

}  // namespace reel::kernels::detail
