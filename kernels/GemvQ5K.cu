// DP4A GEMV instantiations for Q5_K weights (see GemvDp4a.cuh).
#include "kernels/GemvDp4a.cuh"

namespace reel::kernels::detail {

cudaError_t launchGemvQ5K(const GemvLaunch& l, cudaStream_t stream) {
  return launchGemvTyped<quant::QType::Q5_K>(l, stream);
}

}  // namespace reel::kernels::detail
