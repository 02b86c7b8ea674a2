// A plan compiled with sampling ends each bucket in the `sample` kernel, bound to the step's
// sampling, recent-token, position and next-token inputs; the plan checker knows those inputs'
// sizes, and the plan file carries them.

#include "codegen/Compiler.h"
#include "codegen/PlanFile.h"
#include "models/ModelLoader.h"

#include <catch2/catch.hpp>

#include <functional>

using namespace reel;
using namespace reel::codegen;

namespace {

CompileRequest samplingRequest() {
  CompileRequest request;
  request.config = models::loadModelConfig("tiny");
  request.profile = passes::bundledGpuProfile("h100");
  request.buckets = {1, 4};
  request.prefillTokens = 16;
  request.maxContext = 256;
  request.sampling = true;
  return request;
}

BufferRef stepInput(StepInput input) {
  return {BufferKind::StepInput, static_cast<int64_t>(input), 0};
}

/// The error of loading `plan` back from its JSON after `edit` of @decode.m1's last step.
std::string editedError(Plan plan, const std::function<void(Step&)>& edit) {
  for (BucketPlan& bucket : plan.buckets)
    if (bucket.graph == "decode.m1") edit(bucket.steps.back());
  try {
    (void)planFromJson(planToJson(plan), "model.plan");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a sampling plan ends each bucket in sample over its step inputs", "[codegen][sampling]") {
  const CompileResult result = compileModel(samplingRequest());
  const Plan& plan = result.plan;
  const int64_t vocab = result.module->attrs.getInt("vocab").value_or(-1);
  REQUIRE(vocab > 0);
  for (const BucketPlan& bucket : plan.buckets) {
    INFO(bucket.graph);
    const Step& last = bucket.steps.back();
    CHECK(last.kernel == "sample");
    CHECK(last.ints == std::vector<int64_t>{bucket.m, vocab});
    REQUIRE(last.ptrs.size() == 5);
    CHECK(last.ptrs[0] == BufferRef{BufferKind::Arena, 0, bucket.logitsOffset});
    CHECK(last.ptrs[1] == stepInput(StepInput::Sampling));
    CHECK(last.ptrs[2] == stepInput(StepInput::RecentTokens));
    CHECK(last.ptrs[3] == stepInput(StepInput::Positions));
    CHECK(last.ptrs[4] == stepInput(StepInput::NextTokens));
  }
  CHECK(planFromJson(planToJson(plan), "model.plan") == plan);
  // Without sampling the same model ends in argmax.
  CompileRequest greedy = samplingRequest();
  greedy.sampling = false;
  CHECK(compileModel(greedy).plan.buckets.front().steps.back().kernel == "argmax");
}

TEST_CASE("the plan checker knows the sampling inputs' sizes", "[codegen][sampling][plan-check]") {
  const Plan plan = compileModel(samplingRequest()).plan;
  CHECK_THAT(editedError(plan, [](Step& s) { s.ptrs[2].offset = 16; }),
             Catch::Contains("argument 'recent' needs 1024 bytes at offset 16 but step input 6 (recent_tokens) "
                             "holds 1024"));
  CHECK_THAT(editedError(plan, [](Step& s) { s.ptrs[1].offset = 16; }),
             Catch::Contains("argument 'sampling' needs 40 bytes at offset 16 but step input 5 (sampling) holds 40"));
  CHECK_THAT(editedError(plan, [](Step& s) { s.ptrs[4] = stepInput(StepInput::Sampling); }),
             Catch::Contains("argument 'out' is written, so it may not point to step input 5 (sampling)"));
  CHECK_THAT(editedError(plan, [](Step& s) { s.ptrs[2].index = 7; }),
             Catch::Contains("points to step input 7, but there are 7"));
}
