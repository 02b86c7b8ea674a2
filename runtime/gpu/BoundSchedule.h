#pragma once
/// \file
/// A bucket's schedule bound to device addresses: each step's launcher (resolved once from its
/// catalog id), launch dims and KernelArgs with real pointers. Running it eagerly is one checked
/// launch per step; CudaGraph.h captures the same launches.

#include "codegen/Plan.h"
#include "kernels/Blas.h"
#include "kernels/KernelRegistry.h"
#include "runtime/gpu/RuntimeBuffers.h"
#include "runtime/gpu/WeightUpload.h"

#include <cuda_runtime_api.h>

#include <string>
#include <vector>

namespace reel::gpu {

struct BoundStep {
  kernels::Launcher launcher;
  kernels::LaunchDims dims;
  kernels::KernelArgs args;
  const codegen::Step* step = nullptr;  ///< for messages
};

/// What a schedule is bound against.
struct BindingTargets {
  const RuntimeBuffers* buffers = nullptr;
  const DeviceWeights* weights = nullptr;
  kernels::BlasContext* blas = nullptr;  ///< for the library steps
};

/// The bound steps of one bucket.
struct BoundSchedule {
  std::string graph;  ///< "decode.m4"
  std::vector<BoundStep> steps;
};

/// Binds every step of `bucket` (a bucket of targets.buffers->plan()). Throws, naming the step
/// and the argument, for a step codegen::checkStep refuses against the buffers as allocated
/// (an argument whose footprint leaves its buffer, ints the kernel cannot take, ...) and for a
/// kernel id this build cannot launch.
BoundSchedule bindSchedule(const codegen::BucketPlan& bucket, const BindingTargets& targets);

/// Launches step `index` of `schedule` on `stream`; returns the launch's status.
cudaError_t launchStep(const BoundSchedule& schedule, size_t index, cudaStream_t stream);

/// Launches every step in order, each launch checked (a failure names the step).
void runEager(const BoundSchedule& schedule, cudaStream_t stream);

/// "step 12 of @decode.m1 (gemv_dp4a_q4_k for %l0.q)".
std::string describeStep(const BoundSchedule& schedule, size_t index);

}  // namespace reel::gpu
