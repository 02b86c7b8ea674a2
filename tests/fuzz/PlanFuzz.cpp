// libFuzzer target of the plan-file reader. Any input must either parse (and validate) or
// throw reel::Error. A plan that parses goes on as the runtime would take it: its module IR is
// parsed and verified (which may refuse it, with reel::Error), every step must pass the footprint
// check against the buffers the plan declares (the reader ran it: a step it lets through that the
// checker refuses is a bug), and the plan must round-trip: planToJson(plan) parses back to an
// equal plan. Anything else aborts, which libFuzzer reports as a crash.
// REEL_FUZZ_VERBOSE=1 in the environment prints why an input was rejected.

#include "codegen/PlanCheck.h"
#include "codegen/PlanFile.h"
#include "ir/Parser.h"
#include "ir/Verifier.h"
#include "passes/PassTable.h"
#include "support/Diagnostics.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

namespace {

using namespace reel;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "PlanFuzz: %s\n", what);
  std::abort();
}

void rejected(const Error& error) {
  if (std::getenv("REEL_FUZZ_VERBOSE")) std::fprintf(stderr, "rejected: %s\n", error.what());
}

/// The plan's IR, parsed and verified; reel::Error is a refusal like any other.
void verifyModuleIr(const codegen::Plan& plan) {
  try {
    const std::unique_ptr<ir::Module> module = ir::parseModule(plan.moduleIr, "fuzz.plan:ir");
    ir::verifyModule(*module);
  } catch (const Error& error) {
    rejected(error);
  }
}

/// Every step of every bucket against the buffers the plan declares.
void checkFootprints(const codegen::Plan& plan) {
  for (const codegen::BucketPlan& bucket : plan.buckets) {
    const codegen::BufferSizes sizes = codegen::declaredSizes(plan, bucket);
    for (size_t i = 0; i < bucket.steps.size(); ++i) {
      const std::string why = codegen::checkStep(plan, bucket, i, sizes);
      if (why.empty()) continue;
      std::fprintf(stderr, "%s: %s\n", codegen::describeStep(bucket, i).c_str(), why.c_str());
      die("the reader accepted a step the footprint check refuses");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool registered = (passes::registerBuiltinPasses(), true);
  (void)registered;
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::optional<codegen::Plan> plan;
  try {
    plan.emplace(codegen::planFromJson(text, "fuzz.plan"));
  } catch (const Error& error) {
    rejected(error);
    return 0;
  }
  verifyModuleIr(*plan);
  checkFootprints(*plan);
  const std::string json = codegen::planToJson(*plan);
  std::optional<codegen::Plan> reread;
  try {
    reread.emplace(codegen::planFromJson(json, "written.plan"));
  } catch (const Error& error) {
    std::fprintf(stderr, "%s\n", error.what());
    die("the reader rejects what planToJson wrote");
  }
  if (!(*reread == *plan)) die("planToJson -> planFromJson does not give the same plan");
  if (codegen::planToJson(*reread) != json) die("planToJson is not stable across a round trip");
  return 0;
}
