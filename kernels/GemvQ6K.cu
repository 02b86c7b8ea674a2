// DP4A GEMV instantiations for Q6_K weights (see GemvDp4a.cuh).
#include "kernels/GemvDp4a.cuh"

namespace reel::kernels::detail {

cudaError_t launchGemvQ6K(const GemvLaunch& l, cudaStream_t stream) {
  return launchGemvTyped<quant::QType::Q6_K>(l, stream);
}

}  // namespace reel::kernels::detail
