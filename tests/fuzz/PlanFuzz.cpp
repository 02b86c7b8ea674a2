// libFuzzer target of the plan-file reader. Any input must either parse (and validate) or
// throw reel::Error; a plan that parses must round-trip: planToJson(plan) parses back to an
// equal plan. Anything else aborts, which libFuzzer reports as a crash.
// REEL_FUZZ_VERBOSE=1 in the environment prints why an input was rejected.

#include "codegen/PlanFile.h"
#include "ir/Diagnostics.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "PlanFuzz: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace reel;
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::optional<codegen::Plan> plan;
  try {
    plan.emplace(codegen::planFromJson(text, "fuzz.plan"));
  } catch (const Error& error) {
    if (std::getenv("REEL_FUZZ_VERBOSE")) std::fprintf(stderr, "rejected: %s\n", error.what());
    return 0;
  }
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
