#include "runtime/gpu/BoundSchedule.h"

#include "codegen/PlanCheck.h"
#include "runtime/gpu/CudaCheck.h"
#include "support/Diagnostics.h"

#include <fmt/format.h>

#include <algorithm>

namespace reel::gpu {

BoundSchedule bindSchedule(const codegen::BucketPlan& bucket, const BindingTargets& targets) {
  BoundSchedule schedule;
  schedule.graph = bucket.graph;
  const codegen::BufferSizes sizes = targets.buffers->sizesFor(bucket, *targets.weights);
  // Every step against the buffers as allocated before anything is bound: its kernel, argument
  // counts and ranges, dims, and each pointer's footprint inside its buffer.
  codegen::checkBucket(targets.buffers->plan(), bucket, sizes, "plan of " + targets.buffers->plan().model);
  for (const codegen::Step& step : bucket.steps) {
    BoundStep bound;
    bound.step = &step;
    bound.launcher = kernels::findLauncher(step.kernel);
    if (!bound.launcher || !bound.launcher.info)
      failPlain("plan bucket @{}: kernel '{}' is not in this build's kernel registry", bucket.graph, step.kernel);
    bound.dims = step.dims;
    for (size_t i = 0; i < step.ptrs.size(); ++i)
      bound.args.ptrs[i] = targets.buffers->resolve(step.ptrs[i], bucket.m, *targets.weights);
    std::copy(step.ints.begin(), step.ints.end(), bound.args.ints.begin());
    std::copy(step.floats.begin(), step.floats.end(), bound.args.floats.begin());
    if (bound.launcher.info->kind == kernels::KernelKind::Library) bound.args.library = targets.blas;
    schedule.steps.push_back(bound);
  }
  return schedule;
}

cudaError_t launchStep(const BoundSchedule& schedule, size_t index, cudaStream_t stream) {
  const BoundStep& bound = schedule.steps[index];
  return bound.launcher(bound.dims, bound.args, stream);
}

void runEager(const BoundSchedule& schedule, cudaStream_t stream) {
  for (size_t i = 0; i < schedule.steps.size(); ++i) {
    const cudaError_t status = launchStep(schedule, i, stream);
    if (status == cudaSuccess) continue;
    const auto* blas = static_cast<const kernels::BlasContext*>(schedule.steps[i].args.library);
    const std::string library =
        blas && blas->lastBlasStatus != 0 ? fmt::format(" (cuBLAS status {})", blas->lastBlasStatus) : "";
    checkCuda(status, "launching " + describeStep(schedule, i) + library);
  }
}

std::string describeStep(const BoundSchedule& schedule, size_t index) {
  const codegen::Step& step = *schedule.steps[index].step;
  return fmt::format("step {} of @{} ({} for {})", index, schedule.graph, step.kernel, step.op);
}

}  // namespace reel::gpu
