// DP4A GEMV instantiations for Q4_K weights (see GemvDp4a.cuh).
#include "kernels/GemvDp4a.cuh"

namespace reel::kernels::detail {

cudaError_t launchGemvQ4K(const GemvLaunch& l, cudaStream_t stream) {
  return launchGemvTyped<quant::QType::Q4_K>(l, stream);
}

}  // namespace reel::kernels::detail
