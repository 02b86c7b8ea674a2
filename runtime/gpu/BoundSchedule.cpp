#include "runtime/gpu/BoundSchedule.h"

#include "ir/Diagnostics.h"
#include "runtime/gpu/CudaCheck.h"

#include <fmt/format.h>

#include <algorithm>

namespace reel::gpu {

BoundSchedule bindSchedule(const codegen::BucketPlan& bucket, const BindingTargets& targets) {
  BoundSchedule schedule;
  schedule.graph = bucket.graph;
  for (const codegen::Step& step : bucket.steps) {
    BoundStep bound;
    bound.step = &step;
    bound.launcher = kernels::findLauncher(step.kernel);
    if (!bound.launcher || !bound.launcher.info)
      failPlain("plan bucket @{}: kernel '{}' is not in this build's kernel registry", bucket.graph, step.kernel);
    if (step.ptrs.size() > bound.args.ptrs.size() || step.ints.size() > bound.args.ints.size() ||
        step.floats.size() > bound.args.floats.size())
      failPlain("plan bucket @{}: step '{}' has more arguments than a launch takes", bucket.graph, step.kernel);
    bound.dims = step.dims;
    for (size_t i = 0; i < step.ptrs.size(); ++i)
      bound.args.ptrs[i] = targets.buffers->resolve(step.ptrs[i], bucket.m, *targets.weights);
    std::copy(step.ints.begin(), step.ints.end(), bound.args.ints.begin());
    std::copy(step.floats.begin(), step.floats.end(), bound.args.floats.begin());
    if (bound.launcher.info->kind == kernels::KernelKind::Library) bound.args.library = targets.blas;
    if (std::string why = bound.launcher.info->check(bound.args.ints.data()); !why.empty())
      failPlain("plan bucket @{}: step '{}' cannot launch: {}", bucket.graph, step.kernel, why);
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
