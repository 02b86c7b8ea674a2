// Host entry of the DP4A GEMV: argument checks and the per-type dispatch.
#include "kernels/GemvDp4a.cuh"

namespace reel::kernels {
namespace detail {
cudaError_t launchGemvQ4K(const GemvLaunch& l, cudaStream_t stream);
cudaError_t launchGemvQ6K(const GemvLaunch& l, cudaStream_t stream);
cudaError_t launchGemvQ80(const GemvLaunch& l, cudaStream_t stream);
cudaError_t launchGemvQ50(const GemvLaunch& l, cudaStream_t stream);
cudaError_t launchGemvQ51(const GemvLaunch& l, cudaStream_t stream);
cudaError_t launchGemvQ40(const GemvLaunch& l, cudaStream_t stream);
cudaError_t launchGemvQ5K(const GemvLaunch& l, cudaStream_t stream);
cudaError_t launchGemvQ4KQ6K(const GemvLaunch& l, cudaStream_t stream);

/// Row bytes of a weight matrix of `type` as the kernel reads it (row-planar where needed).
int64_t deviceRowBytes(quant::QType type, int64_t k) {
  return static_cast<int64_t>(quant::needsRowPlanar(type) ? quant::planarRowBytes(type, k) : quant::rowBytes(type, k));
}
}  // namespace detail

cudaError_t launchGemvDp4a(const GemvArgs& a, cudaStream_t stream) {
  using quant::QType;
  if (!quant::isDp4aWeightType(a.type) || a.n < 1 || a.k < gemvKMultiple(a.type) || a.k % gemvKMultiple(a.type) != 0 ||
      a.m < 1 || a.m > kGemvMaxM || a.n > INT32_MAX || a.k > INT32_MAX) {
    return cudaErrorInvalidValue;
  }
  const int nw = a.epilogue == GemvEpilogue::Plain ? 1 : 2;
  if (a.weights[0] == nullptr || a.act == nullptr || a.out[0] == nullptr || (nw == 2 && a.weights[1] == nullptr) ||
      (a.epilogue == GemvEpilogue::GateUp && a.out[1] == nullptr)) {
    return cudaErrorInvalidValue;
  }
  const bool mixed = a.lastType.has_value() && *a.lastType != a.type;
  if (mixed && (!gemvMixedStackExists(a.type, *a.lastType) || a.stackRows[1] == 0)) return cudaErrorInvalidValue;
  detail::GemvKernelParams p{};
  int64_t n = a.n;
  if (a.stackRows[0] > 0) {  // stacked matrices: rows add up, each its own weights and output
    if (nw != 1) return cudaErrorInvalidValue;
    n = 0;
    for (int s = 0; s < kGemvMaxStack; ++s) {
      p.weights[s] = static_cast<const uint8_t*>(a.weights[s > 0 && a.stackRows[s] == 0 ? 0 : s]);
      p.out[s] = a.out[s > 0 && a.stackRows[s] == 0 ? 0 : s];
      if (a.stackRows[s] < 0 || (a.stackRows[s] > 0 && (p.weights[s] == nullptr || p.out[s] == nullptr)) ||
          (s > 0 && a.stackRows[s] > 0 && a.stackRows[s - 1] == 0)) {
        return cudaErrorInvalidValue;
      }
      n += a.stackRows[s];
      if (n > INT32_MAX) return cudaErrorInvalidValue;
      p.stackEnd[s] = static_cast<int>(n);
    }
    if (n != a.n) return cudaErrorInvalidValue;
  } else {
    for (int w = 0; w < kGemvMaxStack; ++w) {
      p.weights[w] = static_cast<const uint8_t*>(a.weights[w == 1 && nw == 2 ? 1 : 0]);
      p.out[w] = a.out[w == 1 ? 1 : 0];
      p.stackEnd[w] = static_cast<int>(a.n);
    }
  }
  p.act = static_cast<const uint8_t*>(a.act);
  p.n = static_cast<int>(n);
  p.k = static_cast<int>(a.k);
  p.units = p.k / 256;
  p.tailBlocks = p.k % 256 / 32;
  p.nb = p.k / static_cast<int>(quant::blockElems(a.type));
  p.weightStride = detail::deviceRowBytes(a.type, a.k);
  p.lastFrom = p.n;
  if (mixed) {  // rows from the last matrix's first on are of lastType; no block may straddle
    const int count = a.stackRows[2] > 0 ? 3 : 2;
    p.lastFrom = p.stackEnd[count - 2];
    if (p.lastFrom % kGemvMixedStackAlign != 0) return cudaErrorInvalidValue;
    p.lastNb = p.k / static_cast<int>(quant::blockElems(*a.lastType));
    p.lastWeightStride = detail::deviceRowBytes(*a.lastType, a.k);
  }
  p.actStride = static_cast<int64_t>(quant::q81RowBytes(a.k));
  p.swiglu = a.epilogue == GemvEpilogue::SwiGlu ? 1 : 0;
  if (!gemvRowSetsSupported(a.rowSets)) return cudaErrorInvalidValue;
  const detail::GemvLaunch l{p, a.m, nw, a.rowSets, a.earlyStart};
  if (mixed) return detail::launchGemvQ4KQ6K(l, stream);
  switch (a.type) {
    case QType::Q4_K:
      return detail::launchGemvQ4K(l, stream);
    case QType::Q6_K:
      return detail::launchGemvQ6K(l, stream);
    case QType::Q8_0:
      return detail::launchGemvQ80(l, stream);
    case QType::Q5_0:
      return detail::launchGemvQ50(l, stream);
    case QType::Q5_1:
      return detail::launchGemvQ51(l, stream);
    case QType::Q4_0:
      return detail::launchGemvQ40(l, stream);
    case QType::Q5_K:
      return detail::launchGemvQ5K(l, stream);
    default:
      return cudaErrorInvalidValue;
  }
}

}  // namespace reel::kernels
