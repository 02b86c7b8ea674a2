// Dequantization of block-quantized weights into f16 rows (Dequant.h): one thread per
// 32-element group (a Q4_K/Q5_K/Q6_K sub-block of 32, or a 32-element block), the element values
// computed as quant::dequantizeRow computes them (same expressions, --fmad=false), rounded to f16
// and written as four 16-byte stores.

#include "kernels/CudaCommon.cuh"
#include "kernels/Dequant.h"
#include "quant/QuantRef.h"

#include <cuda_fp16.h>

namespace reel::kernels {
namespace {

using detail::halfBitsToFloat;
using quant::QType;

__device__ __forceinline__ uint8_t byteAt(const uint8_t* p) {
  return __ldg(p);
}
__device__ __forceinline__ float halfAt(const uint8_t* p) {
  return halfBitsToFloat(static_cast<uint16_t>(byteAt(p) | (byteAt(p + 1) << 8)));
}
__device__ __forceinline__ uint32_t wordAt(const uint8_t* p) {
  return byteAt(p) | (byteAt(p + 1) << 8) | (byteAt(p + 2) << 16) | (static_cast<uint32_t>(byteAt(p + 3)) << 24);
}

/// Where one thread's group lies: the row's bytes, the group's index within the row, the
/// number of 32-element blocks per row.
struct Group {
  const uint8_t* row;
  int64_t index;
  int64_t blocks;
};

/// Q4_K / Q5_K sub-block `index % 8` of super-block `index / 8` (GGUF layout).
template <bool FifthBit>
__device__ void kQuantValues(const Group& g, float (&y)[32]) {
  const int64_t u = g.index / 8;
  const int s = static_cast<int>(g.index % 8);
  const uint8_t* block = g.row + (FifthBit ? 176 : 144) * u;
  const float d = halfAt(block), dmin = halfAt(block + 2);
  const uint8_t* scales = block + 4;
  int sc, m;
  if (s < 4) {
    sc = byteAt(scales + s) & 63;
    m = byteAt(scales + s + 4) & 63;
  } else {
    sc = (byteAt(scales + s + 4) & 0xF) | ((byteAt(scales + s - 4) >> 6) << 4);
    m = (byteAt(scales + s + 4) >> 4) | ((byteAt(scales + s) >> 6) << 4);
  }
  const uint8_t* qs = block + (FifthBit ? 48 : 16) + 32 * (s / 2);
  const uint8_t* qh = block + 16;
#pragma unroll
  for (int i = 0; i < 32; ++i) {
    int q = (byteAt(qs + i) >> (4 * (s & 1))) & 0xF;
    if constexpr (FifthBit) q |= ((byteAt(qh + i) >> s) & 1) << 4;
    y[i] = d * static_cast<float>(sc) * static_cast<float>(q) - dmin * static_cast<float>(m);
  }
}

/// Q6_K sub-block of 32 (row-planar: ql [nb][128], qh [nb][64], scales [nb][16], d [nb]).
__device__ void q6kValues(const Group& g, float (&y)[32]) {
  const int64_t nb = g.blocks / 8, u = g.index / 8;
  const int s = static_cast<int>(g.index % 8), half = s / 4, quarter = s % 4;
  const uint8_t* ql = g.row + 128 * u + 64 * half + 32 * (quarter & 1);
  const uint8_t* qh = g.row + 128 * nb + 64 * u + 32 * half;
  const uint8_t* scales = g.row + 192 * nb + 16 * u;
  const float d = halfAt(g.row + 208 * nb + 2 * u);
#pragma unroll
  for (int i = 0; i < 32; ++i) {
    const int low = (byteAt(ql + i) >> (4 * (quarter >> 1))) & 0xF;
    const int high = (byteAt(qh + i) >> (2 * quarter)) & 3;
    const auto scale = static_cast<int8_t>(byteAt(scales + 2 * s + i / 16));
    y[i] = d * static_cast<float>(scale) * static_cast<float>((low | (high << 4)) - 32);
  }
}

/// A 32-element block type (row-planar: Q8_0 qs [nb][32], d; Q5_0 qs [nb][16], qh [nb][4], d;
/// Q5_1 the same with {d, m}; Q4_0 qs [nb][16], d).
template <QType T>
__device__ void block32Values(const Group& g, float (&y)[32]) {
  const int64_t nb = g.blocks, b = g.index;
  if constexpr (T == QType::Q8_0) {
    const float d = halfAt(g.row + 32 * nb + 2 * b);
#pragma unroll
    for (int i = 0; i < 32; ++i) y[i] = d * static_cast<float>(static_cast<int8_t>(byteAt(g.row + 32 * b + i)));
  } else {
    const uint8_t* qs = g.row + 16 * b;
    const uint32_t qh = T == QType::Q4_0 ? 0u : wordAt(g.row + 16 * nb + 4 * b);
    const int64_t scaleOffset = T == QType::Q4_0   ? 16 * nb + 2 * b
                                : T == QType::Q5_0 ? 20 * nb + 2 * b
                                                   : 20 * nb + 4 * b;
    const float d = halfAt(g.row + scaleOffset);
    const float m = T == QType::Q5_1 ? halfAt(g.row + scaleOffset + 2) : 0.0f;
#pragma unroll
    for (int i = 0; i < 32; ++i) {
      const int low = i < 16 ? (byteAt(qs + i) & 0xF) : (byteAt(qs + i - 16) >> 4);
      const int q = low | static_cast<int>(((qh >> i) & 1u) << 4);
      if constexpr (T == QType::Q5_1) {
        y[i] = d * static_cast<float>(q) + m;
      } else {
        y[i] = d * static_cast<float>(q - (T == QType::Q4_0 ? 8 : 16));
      }
    }
  }
}

template <QType T>
__device__ void groupValues(const Group& g, float (&y)[32]) {
  if constexpr (T == QType::Q4_K) {
    kQuantValues<false>(g, y);
  } else if constexpr (T == QType::Q5_K) {
    kQuantValues<true>(g, y);
  } else if constexpr (T == QType::Q6_K) {
    q6kValues(g, y);
  } else {
    block32Values<T>(g, y);
  }
}

struct DequantParams {
  const uint8_t* weights;
  __half* out;
  int64_t n, k;
  int64_t rowStride;  ///< bytes of a weight row
};

template <QType T>
__global__ void __launch_bounds__(kDequantThreads) dequantF16Kernel(DequantParams p) {
  const int64_t blocks = p.k / 32;
  const int64_t group = static_cast<int64_t>(blockIdx.x) * kDequantThreads + threadIdx.x;
  const bool live = group < p.n * blocks;
  float y[32];
  if (live) groupValues<T>({p.weights + (group / blocks) * p.rowStride, group % blocks, blocks}, y);
  detail::waitForPrerequisites();  // the previous kernel may still read `out`
  if (!live) return;
  auto* out = reinterpret_cast<uint4*>(p.out + 32 * group);  // rows of k = 32 * blocks elements
#pragma unroll
  for (int v = 0; v < 4; ++v) {
    __half2 h[4];
#pragma unroll
    for (int j = 0; j < 4; ++j)
      h[j] = __halves2half2(__float2half_rn(y[8 * v + 2 * j]), __float2half_rn(y[8 * v + 2 * j + 1]));
    out[v] = *reinterpret_cast<const uint4*>(h);
  }
}

template <QType T>
cudaError_t launchTyped(const DequantF16Args& a, cudaStream_t stream) {
  const int64_t rowStride =
      static_cast<int64_t>(quant::needsRowPlanar(T) ? quant::planarRowBytes(T, a.k) : quant::rowBytes(T, a.k));
  const DequantParams p{static_cast<const uint8_t*>(a.weights), static_cast<__half*>(a.out), a.n, a.k, rowStride};
  return detail::launchKernelEx(dequantF16Kernel<T>, dim3(static_cast<unsigned>(dequantF16Blocks(a.n, a.k))),
                                dim3(kDequantThreads), stream, a.earlyStart, p);
}

}  // namespace

cudaError_t launchDequantF16(const DequantF16Args& a, cudaStream_t stream) {
  if (!quant::isDp4aWeightType(a.type) || a.weights == nullptr || a.out == nullptr || a.n < 1 || a.k < 1 ||
      a.k % static_cast<int64_t>(quant::blockElems(a.type)) != 0 || a.k % 32 != 0 ||
      dequantF16Blocks(a.n, a.k) > 0x7FFFFFFF || (reinterpret_cast<uintptr_t>(a.out) & 15u) != 0)
    return cudaErrorInvalidValue;
  switch (a.type) {
    case QType::Q4_K:
      return launchTyped<QType::Q4_K>(a, stream);
    case QType::Q5_K:
      return launchTyped<QType::Q5_K>(a, stream);
    case QType::Q6_K:
      return launchTyped<QType::Q6_K>(a, stream);
    case QType::Q8_0:
      return launchTyped<QType::Q8_0>(a, stream);
    case QType::Q5_0:
      return launchTyped<QType::Q5_0>(a, stream);
    case QType::Q5_1:
      return launchTyped<QType::Q5_1>(a, stream);
    case QType::Q4_0:
      return launchTyped<QType::Q4_0>(a, stream);
    default:
      return cudaErrorInvalidValue;
  }
}

}  // namespace reel::kernels
