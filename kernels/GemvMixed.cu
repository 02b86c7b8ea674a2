// DP4A GEMV instantiations for mixed stacks: Q4_K matrices with a last Q6_K one (see GemvDp4a.cuh).
#include "kernels/GemvDp4a.cuh"

namespace reel::kernels::detail {

cudaError_t launchGemvQ4KQ6K(const GemvLaunch& l, cudaStream_t stream) {
  return launchGemvMixed<quant::QType::Q4_K, quant::QType::Q6_K>(l, stream);
}

}  // namespace reel::kernels::detail
