#pragma once
/// \file
/// Device helpers shared by the kernel files (not a public header).

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/KernelCatalog.h"

#include <cstdint>

namespace reel::kernels::detail {

/// f16 bits -> float.
__device__ __forceinline__ float halfBitsToFloat(uint16_t bits) {
  return __half2float(__ushort_as_half(bits));
}

__device__ __forceinline__ float warpSum(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

__device__ __forceinline__ float warpMax(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

/// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
/// `scratch` holds 33 floats. The warps' sums meet in shared memory and warp 0 adds them with
/// shuffles: a serial loop over 32 shared-memory partials would put ~1000 cycles of dependent
/// loads on the critical path of every RMSNorm. Returns after a barrier, so scratch[0..31] can
/// be reused at once (scratch[32] is written again only after the next call's first barrier).
__device__ __forceinline__ float blockSum(float v, float* scratch) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  v = warpSum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  if (warp == 0) {
    const float total = warpSum(lane < warps ? scratch[lane] : 0.0f);
    if (lane == 0) scratch[32] = total;
  }
  __syncthreads();
  return scratch[32];
}

__device__ __forceinline__ float siluMul(float gate, float up) {
  return gate / (1.0f + expf(-gate)) * up;
}

/// Programmatic dependent launch (Hopper): blocks until the grids this one depends on have
/// completed and their writes are visible. A no-op when the launch did not allow an early start.
__device__ __forceinline__ void waitForPrerequisites() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

/// Lets the next grid in the stream (if launched with an early start) be scheduled now; its
/// waitForPrerequisites still waits for this grid to complete.
__device__ __forceinline__ void allowDependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" :::);
#endif
}

/// The prologue of a kernel launched with an early start that has nothing to prefetch: waits for
/// the previous grid, then lets the next one be scheduled (it waits for this one in turn). The
/// gain is the launch latency of the next kernel, hidden behind this one's run.
__device__ __forceinline__ void startAfterPrerequisites() {
  waitForPrerequisites();
  allowDependents();
}

/// The prologue of the small kernels between two GEMVs (RMSNorm, SwiGLU, decode attention): lets
/// the next grid be scheduled before waiting for the previous one, so the next GEMV's blocks take
/// the SM slots the previous GEMV's tail leaves idle and stream their weights meanwhile. Safe
/// because what any kernel reads before its own wait is immutable (weights, norm weights) or a
/// step input copied in before the graph's first kernel. GEMVs do not use it: the waiting blocks
/// of later GEMVs would take the SM slots the critical path's small kernels need, which costs
/// more than the overlap gains (docs/performance-log.md).
__device__ __forceinline__ void letNextStartThenWait() {
  allowDependents();
  waitForPrerequisites();
}

/// Grid, block and dynamic shared memory of one launch.
struct LaunchShape {
  dim3 grid;
  dim3 block;
  size_t smemBytes = 0;
};

/// Launches `kernel` with `shape`; see launchKernelEx.
template <typename... Params, typename... Args>
cudaError_t launchKernelExSmem(void (*kernel)(Params...), const LaunchShape& shape, cudaStream_t stream,
                               bool earlyStart, Args... args) {
  cudaLaunchConfig_t config{};
  config.gridDim = shape.grid;
  config.blockDim = shape.block;
  config.dynamicSmemBytes = shape.smemBytes;
  config.stream = stream;
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  config.attrs = earlyStart ? &attribute : nullptr;
  config.numAttrs = earlyStart ? 1 : 0;
  const cudaError_t status = cudaLaunchKernelEx(&config, kernel, args...);
  const cudaError_t last = cudaGetLastError();
  return status != cudaSuccess ? status : last;
}

/// Launches `kernel` with the catalog's dims and an early start. The kernel must begin with
/// startAfterPrerequisites() (or waitForPrerequisites() before its first memory access).
template <typename... Params, typename... Args>
cudaError_t launchEarly(void (*kernel)(Params...), const LaunchDims& d, cudaStream_t stream, Args... args) {
  const LaunchShape shape{dim3(d.grid[0], d.grid[1], d.grid[2]), dim3(d.block[0], d.block[1], d.block[2]), d.smemBytes};
  return launchKernelExSmem(kernel, shape, stream, true, args...);
}

/// Launches `kernel`; with `earlyStart` it may begin before the previous work in the stream ends
/// (programmatic stream serialization), so it must call waitForPrerequisites() before touching
/// anything that work writes or reads.
template <typename... Params, typename... Args>
cudaError_t launchKernelEx(void (*kernel)(Params...), dim3 grid, dim3 block, cudaStream_t stream, bool earlyStart,
                           Args... args) {
  return launchKernelExSmem(kernel, {grid, block, 0}, stream, earlyStart, args...);
}

/// Status of the launch just made (clears a non-sticky error so the next check is clean).
inline cudaError_t launchStatus() {
  return cudaGetLastError();
}

}  // namespace reel::kernels::detail
