// Small kernels: add, SwiGLU, bias, cast, argmax, embedding.
#include "kernels/CudaCommon.cuh"
#include "kernels/Elementwise.h"
#include "kernels/KernelCatalog.h"
#include "kernels/Q81Epilogue.cuh"

#include <cfloat>

namespace reel::kernels {
namespace {

using quant::QType;

__global__ void addKernel(const float* a, const float* b, float* out, int64_t count) {
  detail::startAfterPrerequisites();
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[i] = a[i] + b[i];
  }
}

__global__ void swigluKernel(const float* gate, const float* up, float* out, int64_t count) {
  detail::startAfterPrerequisites();
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[i] = detail::siluMul(gate[i], up[i]);
  }
}

/// One value per thread, one warp per Q8_1 block (n is a multiple of 32, so warps neither
/// straddle rows nor run past the end partly).
__global__ void swigluQ81Kernel(const float* gate, const float* up, uint8_t* out, int n, int64_t count) {
  detail::letNextStartThenWait();
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = i / n;
    const float v[1] = {detail::siluMul(gate[i], up[i])};
    detail::storeQ81(v, out + row * (n + n / 8), n, static_cast<int>(i - row * n));
  }
}

__global__ void biasAddKernel(float* x, const float* bias, int64_t n, int64_t count) {
  detail::startAfterPrerequisites();
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    x[i] += bias[i % n];
  }
}

__global__ void castKernel(const float* in, __half* out, int64_t count) {
  detail::startAfterPrerequisites();
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[i] = __float2half_rn(in[i]);
  }
}

/// (value, index) ordering of argmax: larger value wins, then the lower index; NaN loses.
__device__ __forceinline__ bool better(float v, int i, float bestV, int bestI) {
  if (isnan(v)) return false;
  if (isnan(bestV)) return true;
  return v > bestV || (v == bestV && i < bestI);
}

/// A row is one DRAM/L2 round trip per thread, not one per element: each thread issues up to
/// kArgmaxBatch 16-byte loads before comparing (the ordering is a total order, so any grouping
/// gives the same winner).
constexpr int kArgmaxBatch = 8;

__device__ __forceinline__ void consider(float v, int i, float& bestV, int& bestI) {
  if (better(v, i, bestV, bestI)) {
    bestV = v;
    bestI = i;
  }
}

__global__ void __launch_bounds__(1024) argmaxKernel(const float* x, int32_t* out, int64_t n) {
  __shared__ float vals[32];
  __shared__ int idxs[32];
  detail::startAfterPrerequisites();
  const float* row = x + blockIdx.x * n;
  float bestV = NAN;
  int bestI = INT_MAX;
  const int threads = static_cast<int>(blockDim.x);
  if (n % 4 == 0 && reinterpret_cast<uintptr_t>(row) % 16 == 0) {
    const auto* row4 = reinterpret_cast<const float4*>(row);
    const int64_t n4 = n / 4;
    for (int64_t base = threadIdx.x; base < n4; base += static_cast<int64_t>(kArgmaxBatch) * threads) {
      float4 v[kArgmaxBatch];
#pragma unroll
      for (int u = 0; u < kArgmaxBatch; ++u) {
        const int64_t j = base + static_cast<int64_t>(u) * threads;
        v[u] = j < n4 ? row4[j] : make_float4(NAN, NAN, NAN, NAN);
      }
#pragma unroll
      for (int u = 0; u < kArgmaxBatch; ++u) {
        const int i = static_cast<int>(4 * (base + static_cast<int64_t>(u) * threads));
        consider(v[u].x, i, bestV, bestI);
        consider(v[u].y, i + 1, bestV, bestI);
        consider(v[u].z, i + 2, bestV, bestI);
        consider(v[u].w, i + 3, bestV, bestI);
      }
    }
  } else {
    for (int64_t base = threadIdx.x; base < n; base += static_cast<int64_t>(kArgmaxBatch) * threads) {
      float v[kArgmaxBatch];
#pragma unroll
      for (int u = 0; u < kArgmaxBatch; ++u) {
        const int64_t j = base + static_cast<int64_t>(u) * threads;
        v[u] = j < n ? row[j] : NAN;
      }
#pragma unroll
      for (int u = 0; u < kArgmaxBatch; ++u) consider(v[u], static_cast<int>(base + u * threads), bestV, bestI);
    }
  }
  for (int offset = 16; offset > 0; offset >>= 1) {
    const float v = __shfl_xor_sync(0xffffffffu, bestV, offset);
    const int i = __shfl_xor_sync(0xffffffffu, bestI, offset);
    if (better(v, i, bestV, bestI)) {
      bestV = v;
      bestI = i;
    }
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    vals[warp] = bestV;
    idxs[warp] = bestI;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < static_cast<int>(blockDim.x / 32); ++w) {
      if (better(vals[w], idxs[w], bestV, bestI)) {
        bestV = vals[w];
        bestI = idxs[w];
      }
    }
    out[blockIdx.x] = bestI == INT_MAX ? 0 : bestI;
  }
}

__device__ __forceinline__ uint16_t readU16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}

/// The 6-bit scale and min of sub-block `sub` from the 12 packed bytes s of a Q4_K/Q5_K block.
__device__ __forceinline__ void kQuantScaleMin(const uint8_t* s, int sub, int& scale, int& min) {
  if (sub < 4) {
    scale = s[sub] & 63;
    min = s[sub + 4] & 63;
  } else {
    scale = (s[sub + 4] & 0xF) | ((s[sub - 4] >> 6) << 4);
    min = (s[sub + 4] >> 4) | ((s[sub] >> 6) << 4);
  }
}

/// Element j of a GGUF row of type T (byte loads: rows of 18/22/24/34/210-byte blocks are unaligned).
template <QType T>
__device__ float dequantElement(const uint8_t* row, int64_t j) {
  if constexpr (T == QType::F32) {
    return reinterpret_cast<const float*>(row)[j];
  } else if constexpr (T == QType::F16) {
    return detail::halfBitsToFloat(reinterpret_cast<const uint16_t*>(row)[j]);
  } else if constexpr (T == QType::BF16) {
    return __uint_as_float(static_cast<uint32_t>(reinterpret_cast<const uint16_t*>(row)[j]) << 16);
  } else if constexpr (T == QType::Q8_0) {
    const uint8_t* b = row + 34 * (j / 32);
    return detail::halfBitsToFloat(readU16(b)) * static_cast<float>(static_cast<int8_t>(b[2 + j % 32]));
  } else if constexpr (T == QType::Q5_0) {
    const uint8_t* b = row + 22 * (j / 32);
    const int e = static_cast<int>(j % 32);
    const int low = e < 16 ? (b[6 + e] & 0xF) : (b[6 + e - 16] >> 4);
    const int high = (b[2 + e / 8] >> (e % 8)) & 1;
    return detail::halfBitsToFloat(readU16(b)) * static_cast<float>((low | (high << 4)) - 16);
  } else if constexpr (T == QType::Q5_1) {
    const uint8_t* b = row + 24 * (j / 32);
    const int e = static_cast<int>(j % 32);
    const int low = e < 16 ? (b[8 + e] & 0xF) : (b[8 + e - 16] >> 4);
    const int high = (b[4 + e / 8] >> (e % 8)) & 1;
    return detail::halfBitsToFloat(readU16(b)) * static_cast<float>(low | (high << 4)) +
           detail::halfBitsToFloat(readU16(b + 2));
  } else if constexpr (T == QType::Q4_0) {
    const uint8_t* b = row + 18 * (j / 32);
    const int e = static_cast<int>(j % 32);
    const int q = e < 16 ? (b[2 + e] & 0xF) : (b[2 + e - 16] >> 4);
    return detail::halfBitsToFloat(readU16(b)) * static_cast<float>(q - 8);
  } else if constexpr (T == QType::Q4_K || T == QType::Q5_K) {
    constexpr bool kQ5 = T == QType::Q5_K;
    const uint8_t* b = row + (kQ5 ? 176 : 144) * (j / 256);
    const uint8_t* qs = b + (kQ5 ? 48 : 16);
    const int e = static_cast<int>(j % 256), g = e / 64, r = e % 64, sub = e / 32;
    int q = r < 32 ? (qs[32 * g + r] & 0xF) : (qs[32 * g + r - 32] >> 4);
    if constexpr (kQ5) q |= ((b[16 + e % 32] >> sub) & 1) << 4;
    int scale, min;
    kQuantScaleMin(b + 4, sub, scale, min);
    return detail::halfBitsToFloat(readU16(b)) * static_cast<float>(scale) * static_cast<float>(q) -
           detail::halfBitsToFloat(readU16(b + 2)) * static_cast<float>(min);
  } else {  // Q6_K
    const uint8_t* b = row + 210 * (j / 256);
    const int e = static_cast<int>(j % 256), half = e / 128, r = e % 128, quarter = r / 32, l = r % 32;
    const uint8_t lowByte = b[64 * half + l + 32 * (quarter & 1)];
    const int low = quarter < 2 ? (lowByte & 0xF) : (lowByte >> 4);
    const int high = (b[128 + 32 * half + l] >> (2 * quarter)) & 3;
    return detail::halfBitsToFloat(readU16(b + 208)) * static_cast<float>(static_cast<int8_t>(b[192 + e / 16])) *
           static_cast<float>((low | (high << 4)) - 32);
  }
}

template <QType T>
__global__ void embedKernel(const EmbedArgs a, int64_t rowBytes) {
  detail::startAfterPrerequisites();
  const int64_t token = a.tokens[blockIdx.x];
  const bool valid = token >= 0 && token < a.vocab;
  const uint8_t* row = static_cast<const uint8_t*>(a.table) + (valid ? token : 0) * rowBytes;
  float* out = a.out + blockIdx.x * a.n;
  for (int64_t j = threadIdx.x; j < a.n; j += blockDim.x) out[j] = valid ? dequantElement<T>(row, j) : 0.0f;
}

bool badCount(int64_t count) {
  return count < 0;
}

}  // namespace

cudaError_t launchAdd(const float* a, const float* b, float* out, int64_t count, cudaStream_t stream) {
  if (badCount(count)) return cudaErrorInvalidValue;
  if (count == 0) return cudaSuccess;
  return detail::launchEarly(addKernel, elementwiseDims(count), stream, a, b, out, count);
}

cudaError_t launchSwiglu(const float* gate, const float* up, float* out, int64_t count, cudaStream_t stream) {
  if (badCount(count)) return cudaErrorInvalidValue;
  if (count == 0) return cudaSuccess;
  return detail::launchEarly(swigluKernel, elementwiseDims(count), stream, gate, up, out, count);
}

cudaError_t launchSwigluQ81(const float* gate, const float* up, void* out, int64_t m, int64_t n, cudaStream_t stream) {
  if (m < 0 || n < 32 || n % 32 != 0 || n > INT32_MAX || out == nullptr) return cudaErrorInvalidValue;
  if (m == 0) return cudaSuccess;
  return detail::launchEarly(swigluQ81Kernel, elementwiseDims(m * n), stream, gate, up, static_cast<uint8_t*>(out),
                             static_cast<int>(n), m * n);
}

cudaError_t launchBiasAdd(float* x, const float* bias, int64_t m, int64_t n, cudaStream_t stream) {
  if (m < 0 || n < 1) return cudaErrorInvalidValue;
  if (m == 0) return cudaSuccess;
  return detail::launchEarly(biasAddKernel, elementwiseDims(m * n), stream, x, bias, n, m * n);
}

cudaError_t launchCastF32ToF16(const float* in, void* out, int64_t count, cudaStream_t stream) {
  if (badCount(count)) return cudaErrorInvalidValue;
  if (count == 0) return cudaSuccess;
  return detail::launchEarly(castKernel, elementwiseDims(count), stream, in, static_cast<__half*>(out), count);
}

cudaError_t launchArgmax(const float* x, int32_t* out, int64_t m, int64_t n, cudaStream_t stream) {
  if (m < 1 || n < 1 || m > INT32_MAX || n > INT32_MAX) return cudaErrorInvalidValue;
  const LaunchDims d = argmaxDims(m, n);
  return detail::launchEarly(argmaxKernel, d, stream, x, out, n);
}

cudaError_t launchEmbed(const EmbedArgs& a, cudaStream_t stream) {
  if (a.m < 1 || a.n < 1 || a.vocab < 1 || a.m > INT32_MAX ||
      a.n % static_cast<int64_t>(quant::blockElems(a.type)) != 0) {
    return cudaErrorInvalidValue;
  }
  const LaunchDims d = embedDims(a.m, a.n);
  const auto rowBytes = static_cast<int64_t>(quant::rowBytes(a.type, a.n));
  switch (a.type) {
    case QType::F32:
      return detail::launchEarly(embedKernel<QType::F32>, d, stream, a, rowBytes);
    case QType::F16:
      return detail::launchEarly(embedKernel<QType::F16>, d, stream, a, rowBytes);
    case QType::BF16:
      return detail::launchEarly(embedKernel<QType::BF16>, d, stream, a, rowBytes);
    case QType::Q8_0:
      return detail::launchEarly(embedKernel<QType::Q8_0>, d, stream, a, rowBytes);
    case QType::Q5_0:
      return detail::launchEarly(embedKernel<QType::Q5_0>, d, stream, a, rowBytes);
    case QType::Q5_1:
      return detail::launchEarly(embedKernel<QType::Q5_1>, d, stream, a, rowBytes);
    case QType::Q4_0:
      return detail::launchEarly(embedKernel<QType::Q4_0>, d, stream, a, rowBytes);
    case QType::Q4_K:
      return detail::launchEarly(embedKernel<QType::Q4_K>, d, stream, a, rowBytes);
    case QType::Q5_K:
      return detail::launchEarly(embedKernel<QType::Q5_K>, d, stream, a, rowBytes);
    case QType::Q6_K:
      return detail::launchEarly(embedKernel<QType::Q6_K>, d, stream, a, rowBytes);
    default:
      return cudaErrorInvalidValue;
  }
}

}  // namespace reel::kernels
