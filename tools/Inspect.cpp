// reel inspect model.plan: what a plan will do, per bucket.
#include "codegen/PlanCheck.h"
#include "codegen/PlanFile.h"
#include "tools/Args.h"
#include "tools/Commands.h"

#include <fmt/format.h>

#include <map>

namespace reel::tools {
namespace {

std::string bytesText(double bytes) {
  if (bytes >= 1e9) return fmt::format("{:.2f} GB", bytes / 1e9);
  if (bytes >= 1e6) return fmt::format("{:.1f} MB", bytes / 1e6);
  return fmt::format("{:.1f} KB", bytes / 1e3);
}

std::string bucketReport(const codegen::BucketPlan& bucket) {
  std::map<std::string, int> launches;
  int64_t weightBytes = 0;
  double predictedUs = 0;
  for (const codegen::Step& step : bucket.steps) {
    ++launches[step.kernel];
    weightBytes += step.weightBytes;
    predictedUs += step.predictedUs;
  }
  std::string text = fmt::format(
      "bucket {} ({}, M={}{}): {} launches, arena {}, weights read {}/step, predicted {:.1f} us/step", bucket.graph,
      bucket.phase, bucket.m, bucket.minContext ? fmt::format(", KV length > {}", bucket.minContext) : "",
      bucket.steps.size(), bytesText(static_cast<double>(bucket.arenaBytes)),
      bytesText(static_cast<double>(weightBytes)), predictedUs);
  if (bucket.phase == "decode" && predictedUs > 0)
    text += fmt::format(" ({:.0f} tok/s per sequence)", 1e6 / predictedUs);
  text += "\n";
  for (const auto& [kernel, count] : launches) text += fmt::format("    {:>5} x {}\n", count, kernel);
  return text;
}

}  // namespace

int runInspect(int argc, char** argv) {
  Args args("reel inspect",
            "Print what a plan does per bucket: launches by kernel, arena and weight bytes, predicted step time.");
  args.positional("PLAN", "a plan file written by `reel compile -o FILE.plan`");
  if (!args.parse(argc, argv, 2)) return 0;

  codegen::Plan plan = codegen::readPlanFile(*args.get("PLAN"));
  std::string text = fmt::format(
      "plan for {} (config {:016x}), GPU profile {} ({:.0f} GB/s), max context {}\npipeline: {}\n"
      "weights on the GPU in {} slots: {}; scratch {}\n\n",
      plan.model, plan.configHash, plan.gpuProfile, plan.bandwidthGBs, plan.maxContext, plan.pipeline,
      plan.weights.size(), codegen::planWeightBytes(plan).str(), bytesText(static_cast<double>(plan.scratchBytes)));
  for (const codegen::BucketPlan& bucket : plan.buckets) text += bucketReport(bucket);
  writeOutput("", text);
  return 0;
}

}  // namespace reel::tools
