// DP4A GEMV instantiations for Q5_1 weights (see GemvDp4a.cuh).
#include "kernels/GemvDp4a.cuh"

namespace reel::kernels::detail {

cudaError_t launchGemvQ51(const GemvLaunch& l, cudaStream_t stream) {
  return launchGemvTyped<quant::QType::Q5_1>(l, stream);
}

}  // namespace reel::kernels::detail
