// f16 tensor-core matmul on Q4_K weights (`mma_f16_<qtype>`, MmaF16.h; tiling in MmaF16Shape.h).
//
// Block z of a cluster walks its range of 256-element units; per unit a cp.async pipeline stages
// the 64 rows' 144-byte super-blocks and the tile's 256 f16 activations per token in shared
// memory. Warp w multiplies rows 16w .. 16w + 15 with `mma.sync.m16n8k16` (f16 in, f32
// accumulators); lane (g, t) = (lane / 4, lane % 4) holds rows g and g + 8 of the A fragment and
// token g of each B fragment.
//
// K order inside a k16 step: a dot product does not depend on which fragment slot holds which
// element as long as weights and activations agree. Lane t takes the four consecutive elements
// 4t .. 4t + 3 of a 16-element run: for activations one 8-byte load, for weights one byte each
// of a 32-bit word of Q4_K nibbles (the low nibbles of bytes 4t .. 4t + 3 of a 32-byte chunk are
// elements 4t .. 4t + 3 of one sub-block; their high nibbles the same elements of the next).
// The fragment's k slots 2t, 2t + 1 hold elements 4t, 4t + 1 and slots 2t + 8, 2t + 9 hold
// 4t + 2, 4t + 3.
//
// Dequantization, two elements per instruction: a byte permute puts each nibble q under the f16
// exponent byte 0x64 (1024 + q), a subtraction gives q exactly, and one fused multiply-add
// q * f16(d * scale) + f16(-dmin * min) rounds once to the f16 weight
// quant::dequantizeRowMmaF16 computes. Lane t works out the scales of sub-blocks 2t and 2t + 1
// of its two rows once per unit; the lanes of a row group fetch each chunk's pair by shuffle.

#include "kernels/CudaCommon.cuh"
#include "kernels/MmaF16.h"
#include "kernels/MmaF16Shape.h"

#include <cooperative_groups.h>
#include <cuda_fp16.h>

namespace reel::kernels {
namespace {

namespace cg = cooperative_groups;

constexpr int kUnitBytes = 144;  // one Q4_K super-block: d, dmin, 12 scale bytes, 128 nibble bytes
constexpr int kUnitElems = 256;
constexpr int kPartialPitch = kMmaF16Rows + 4;  // floats per token row of the partial sums

struct MmaF16Params {
  const uint8_t* weights;
  const __half* act;
  float* out;
  int64_t n, k, m;
  int64_t rowBytes;  ///< bytes of a weight row
};

__device__ __forceinline__ void copyAsync16(void* smem, const void* global, bool valid) {
  const auto address = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  const int bytes = valid ? 16 : 0;  // 0: the 16 bytes are zero-filled, nothing is read
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(address), "l"(global), "r"(bytes) : "memory");
}
__device__ __forceinline__ void commitCopies() {
  asm volatile("cp.async.commit_group;" ::: "memory");
}
template <int Pending>
__device__ __forceinline__ void waitCopies() {
  asm volatile("cp.async.wait_group %0;" ::"n"(Pending) : "memory");
}

/// The (f16(d * scale), f16(-dmin * min)) pair of sub-block s of the Q4_K super-block at `unit`,
/// packed low half first.
__device__ __forceinline__ uint32_t scalePair(const uint8_t* unit, int s) {
  const uint8_t* sc = unit + 4;
  int scale, min;
  if (s < 4) {
    scale = sc[s] & 63;
    min = sc[s + 4] & 63;
  } else {
    scale = (sc[s + 4] & 0xF) | ((sc[s - 4] >> 6) << 4);
    min = (sc[s + 4] >> 4) | ((sc[s] >> 6) << 4);
  }
  const uint32_t dd = *reinterpret_cast<const uint32_t*>(unit);
  const float d = detail::halfBitsToFloat(static_cast<uint16_t>(dd & 0xFFFF));
  const float dmin = detail::halfBitsToFloat(static_cast<uint16_t>(dd >> 16));
  // Both products are exact in f32 (11-bit mantissas times 6-bit integers): one rounding each.
  const __half s16 = __float2half_rn(d * static_cast<float>(scale));
  const __half m16 = __float2half_rn(-(dmin * static_cast<float>(min)));
  return static_cast<uint32_t>(__half_as_ushort(s16)) | (static_cast<uint32_t>(__half_as_ushort(m16)) << 16);
}

/// Two f16 weights from the nibbles in bytes `selector` picks of `nibbles` (each byte 0..15).
__device__ __forceinline__ uint32_t dequantPair(uint32_t nibbles, uint32_t selector, __half2 scale, __half2 negMin) {
  const uint32_t biased = __byte_perm(nibbles, 0x64646464u, selector);  // 1024 + q in each half
  const __half2 q = __hsub2(*reinterpret_cast<const __half2*>(&biased), __half2half2(__ushort_as_half(0x6400)));
  const __half2 w = __hfma2(q, scale, negMin);
  return *reinterpret_cast<const uint32_t*>(&w);
}

/// c += A (16 x 16, the lane's four fragment registers) * B (16 x 8, its two).
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint2 b) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b.x), "r"(b.y));
}

template <int Tokens>
struct Stage {
  static constexpr int kWeightBytes = kMmaF16Rows * kUnitBytes;
  uint8_t* weights;
  __half* act;
  __device__ Stage(uint8_t* smem, int index)
      : weights(smem + index * mmaF16StageBytes(Tokens)),
        act(reinterpret_cast<__half*>(smem + index * mmaF16StageBytes(Tokens) + kWeightBytes)) {}
};

template <int Tokens>
__device__ __forceinline__ void loadWeights(const MmaF16Params& p, Stage<Tokens> s, int64_t rowBase, int64_t unit) {
  constexpr int kChunks = kUnitBytes / 16;
  for (int i = static_cast<int>(threadIdx.x); i < kMmaF16Rows * kChunks; i += kMmaF16Threads) {
    const int r = i / kChunks, c = i % kChunks;
    const int64_t row = rowBase + r;
    const bool valid = row < p.n;
    copyAsync16(s.weights + r * kUnitBytes + c * 16,
                p.weights + (valid ? row : 0) * p.rowBytes + unit * kUnitBytes + c * 16, valid);
  }
}

template <int Tokens>
__device__ __forceinline__ void loadActivations(const MmaF16Params& p, Stage<Tokens> s, int64_t tokenBase,
                                                int64_t unit) {
  constexpr int kChunks = kUnitElems / 8;
  for (int i = static_cast<int>(threadIdx.x); i < Tokens * kChunks; i += kMmaF16Threads) {
    const int t = i / kChunks, c = i % kChunks;
    const int64_t token = tokenBase + t;
    const bool valid = token < p.m;
    copyAsync16(s.act + t * kMmaF16ActPitch + c * 8, p.act + (valid ? token : 0) * p.k + unit * kUnitElems + c * 8,
                valid);
  }
}

/// One staged unit: 16 k16 steps of the warp's 16 rows against every token tile.
template <int Tokens>
__device__ __forceinline__ void multiplyUnit(Stage<Tokens> s, int warp, int lane, float (&acc)[Tokens / 8][4]) {
  const int g = lane >> 2, t = lane & 3;
  const uint8_t* rowA = s.weights + (16 * warp + g) * kUnitBytes;
  const uint8_t* rowB = rowA + 8 * kUnitBytes;
  // Lane t's share of the scales: sub-blocks 2t and 2t + 1 of rows g and g + 8.
  const uint32_t share[4] = {scalePair(rowA, 2 * t), scalePair(rowA, 2 * t + 1), scalePair(rowB, 2 * t),
                             scalePair(rowB, 2 * t + 1)};
  const __half* tokenRow = s.act + g * kMmaF16ActPitch + 4 * t;
#pragma unroll
  for (int c = 0; c < 4; ++c) {
    const int owner = (lane & ~3) | c;
    __half2 scale[2][2], negMin[2][2];  // [row A/B][low/high nibbles]
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint32_t pair = __shfl_sync(0xffffffffu, share[i], owner);
      const uint32_t sPair = __byte_perm(pair, 0, 0x1010), mPair = __byte_perm(pair, 0, 0x3232);
      scale[i >> 1][i & 1] = *reinterpret_cast<const __half2*>(&sPair);
      negMin[i >> 1][i & 1] = *reinterpret_cast<const __half2*>(&mPair);
    }
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int byte = 16 + 32 * c + 16 * h + 4 * t;
      const uint32_t wordA = *reinterpret_cast<const uint32_t*>(rowA + byte);
      const uint32_t wordB = *reinterpret_cast<const uint32_t*>(rowB + byte);
#pragma unroll
      for (int high = 0; high < 2; ++high) {
        const uint32_t nibA = (high ? wordA >> 4 : wordA) & 0x0F0F0F0Fu;
        const uint32_t nibB = (high ? wordB >> 4 : wordB) & 0x0F0F0F0Fu;
        const uint32_t a[4] = {dequantPair(nibA, 0x4140, scale[0][high], negMin[0][high]),
                               dequantPair(nibB, 0x4140, scale[1][high], negMin[1][high]),
                               dequantPair(nibA, 0x4342, scale[0][high], negMin[0][high]),
                               dequantPair(nibB, 0x4342, scale[1][high], negMin[1][high])};
        const int k = 64 * c + 32 * high + 16 * h;
#pragma unroll
        for (int j = 0; j < Tokens / 8; ++j) {
          mma16816(acc[j], a, *reinterpret_cast<const uint2*>(tokenRow + 8 * j * kMmaF16ActPitch + k));
        }
      }
    }
  }
}

template <int Tokens>
__global__ void __launch_bounds__(kMmaF16Threads) mmaF16Q4KKernel(MmaF16Params p) {
  constexpr int kStages = mmaF16Stages(Tokens);
  constexpr int kTiles = Tokens / 8;
  extern __shared__ __align__(16) uint8_t smem[];
  cg::cluster_group cluster = cg::this_cluster();
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int split = static_cast<int>(cluster.block_rank());
  const int64_t rowBase = static_cast<int64_t>(blockIdx.y) * kMmaF16Rows;
  const int64_t tokenBase = static_cast<int64_t>(blockIdx.z) * Tokens;
  const int64_t units = p.k / kUnitElems;
  const int64_t first = units * split / kMmaF16KSplit, count = units * (split + 1) / kMmaF16KSplit - first;

  // Weights never change while kernels run: the first stages' stream in before the wait.
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s)
    if (s < count) loadWeights<Tokens>(p, Stage<Tokens>(smem, s), rowBase, first + s);
  detail::waitForPrerequisites();  // the activations are the previous kernel's output
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < count) loadActivations<Tokens>(p, Stage<Tokens>(smem, s), tokenBase, first + s);
    commitCopies();
  }

  float acc[kTiles][4];
#pragma unroll
  for (int j = 0; j < kTiles; ++j)
#pragma unroll
    for (int i = 0; i < 4; ++i) acc[j][i] = 0.0f;
  for (int64_t u = 0; u < count; ++u) {
    waitCopies<kStages - 2>();
    __syncthreads();  // unit u is in place, and every warp is done with the buffer refilled next
    const int64_t next = u + kStages - 1;
    if (next < count) {
      const Stage<Tokens> s(smem, static_cast<int>(next % kStages));
      loadWeights<Tokens>(p, s, rowBase, first + next);
      loadActivations<Tokens>(p, s, tokenBase, first + next);
    }
    commitCopies();
    multiplyUnit<Tokens>(Stage<Tokens>(smem, static_cast<int>(u % kStages)), warp, lane, acc);
  }
  detail::allowDependents();
  waitCopies<0>();
  __syncthreads();  // the pipeline's buffers become the partial sums

  auto* partial = reinterpret_cast<float*>(smem);  // [Tokens][kPartialPitch]
  const int g = lane >> 2, t = lane & 3;
#pragma unroll
  for (int j = 0; j < kTiles; ++j)
#pragma unroll
    for (int i = 0; i < 4; ++i)
      partial[(8 * j + 2 * t + (i & 1)) * kPartialPitch + 16 * warp + g + 8 * (i >> 1)] = acc[j][i];
  cluster.sync();  // every block's partial sums are written
  // Block z adds rows 16z .. 16z + 15 of the four blocks, in block order.
  constexpr int kRowsEach = kMmaF16Rows / kMmaF16KSplit;
  for (int o = static_cast<int>(threadIdx.x); o < kRowsEach * Tokens; o += kMmaF16Threads) {
    const int r = kRowsEach * split + o % kRowsEach, token = o / kRowsEach;
    const int64_t outRow = rowBase + r, outToken = tokenBase + token;
    if (outRow >= p.n || outToken >= p.m) continue;
    float total = 0.0f;
#pragma unroll
    for (int z = 0; z < kMmaF16KSplit; ++z) total += cluster.map_shared_rank(partial, z)[token * kPartialPitch + r];
    p.out[outToken * p.n + outRow] = total;
  }
  cluster.sync();  // no block leaves while another reads its shared memory
}

/// Allows the instantiation its shared memory (over the 48 KB default), once per process. The
/// first launch may come while the runtime captures a CUDA graph: the attribute is set in relaxed
/// capture mode, which admits calls that are not stream work.
template <int Tokens>
cudaError_t allowSharedMemory() {
  static const cudaError_t status = [] {
    cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
    cudaThreadExchangeStreamCaptureMode(&mode);
    const cudaError_t set = cudaFuncSetAttribute(mmaF16Q4KKernel<Tokens>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                 mmaF16SmemBytes(Tokens));
    cudaThreadExchangeStreamCaptureMode(&mode);
    return set;
  }();
  return status;
}

template <int Tokens>
cudaError_t launchTile(const MmaF16Args& a, const MmaF16Params& p, cudaStream_t stream) {
  constexpr int kSmem = mmaF16SmemBytes(Tokens);
  if (const cudaError_t configured = allowSharedMemory<Tokens>(); configured != cudaSuccess) return configured;
  const MmaF16Grid grid = mmaF16Grid(a.n, a.m);
  cudaLaunchConfig_t config{};
  config.gridDim = dim3(static_cast<unsigned>(grid.x), static_cast<unsigned>(grid.y), static_cast<unsigned>(grid.z));
  config.blockDim = dim3(kMmaF16Threads);
  config.dynamicSmemBytes = kSmem;
  config.stream = stream;
  cudaLaunchAttribute attributes[2]{};
  attributes[0].id = cudaLaunchAttributeClusterDimension;
  attributes[0].val.clusterDim.x = kMmaF16KSplit;
  attributes[0].val.clusterDim.y = 1;
  attributes[0].val.clusterDim.z = 1;
  attributes[1].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attributes[1].val.programmaticStreamSerializationAllowed = 1;
  config.attrs = attributes;
  config.numAttrs = a.earlyStart ? 2 : 1;
  const cudaError_t status = cudaLaunchKernelEx(&config, mmaF16Q4KKernel<Tokens>, p);
  const cudaError_t last = cudaGetLastError();
  return status != cudaSuccess ? status : last;
}

}  // namespace

cudaError_t launchMmaF16(const MmaF16Args& a, cudaStream_t stream) {
  if (!mmaF16Supports(a.type) || a.n < 1 || a.m < 1 || a.k < kUnitElems || a.k % kUnitElems != 0 ||
      a.weights == nullptr || a.act == nullptr || a.out == nullptr || mmaF16Grid(a.n, a.m).y > 65535 ||
      mmaF16Grid(a.n, a.m).z > 65535)
    return cudaErrorInvalidValue;
  const MmaF16Params p{static_cast<const uint8_t*>(a.weights), static_cast<const __half*>(a.act), a.out, a.n, a.k, a.m,
                       a.k / kUnitElems * kUnitBytes};
  switch (mmaF16TileTokens(a.m)) {
    case 16:
      return launchTile<16>(a, p, stream);
    case 32:
      return launchTile<32>(a, p, stream);
    default:
      return launchTile<64>(a, p, stream);
  }
}

}  // namespace reel::kernels
