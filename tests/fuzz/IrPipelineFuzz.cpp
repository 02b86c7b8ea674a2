// libFuzzer target of the pass pipeline: IR text -> parse -> verify -> the default pipeline
// -> print -> parse -> print. Text the parser or the verifier rejects, and a module a pass
// rejects with a reel::Error, are expected outcomes. A pass that crashes, throws anything
// else or leaves IR the verifier rejects is a finding (see IrChecks.h), as is
// optimized IR that does not print and parse back to the same text.
//
// The compile context (GPU profile, buckets, prefill rows, memory budget) is the default
// one unless the first line of the input chooses another:
//   // fuzz-context: gpu=a100 buckets=1,2,8 prefill=16 budget=1000000
// Values out of range (more than 6 buckets, a bucket or prefill above 512, ...) are ignored,
// so every input runs in a context `reel compile` could be given.
// REEL_FUZZ_VERBOSE=1 in the environment prints why an input was rejected.

#include "ir/Parser.h"
#include "ir/Verifier.h"
#include "passes/GpuProfile.h"
#include "passes/PassManager.h"
#include "passes/PassTable.h"
#include "support/Diagnostics.h"
#include "tests/fuzz/FuzzSupport.h"
#include "tests/fuzz/IrChecks.h"

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace reel;

constexpr const char* kTarget = "IrPipelineFuzz";
constexpr std::string_view kContextHeader = "// fuzz-context:";
constexpr size_t kMaxBuckets = 6;
constexpr int64_t kMaxRows = 512;

/// A bundled GPU profile by name (parsed once per name).
const passes::GpuProfile* bundledProfile(const std::string& name) {
  static const std::map<std::string, passes::GpuProfile> profiles = [] {
    std::map<std::string, passes::GpuProfile> all;
    for (const std::string& profile : passes::bundledGpuProfileNames())
      all.emplace(profile, passes::bundledGpuProfile(profile));
    return all;
  }();
  auto found = profiles.find(name);
  return found == profiles.end() ? nullptr : &found->second;
}

std::optional<int64_t> parseInt(std::string_view text, int64_t low, int64_t high) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < low || value > high)
    return std::nullopt;
  return value;
}

/// "1,2,8": at most kMaxBuckets increasing sizes in [1, kMaxRows]; nullopt otherwise.
std::optional<std::vector<int64_t>> parseBuckets(std::string_view text) {
  std::vector<int64_t> buckets;
  while (!text.empty() || buckets.empty()) {
    const size_t comma = std::min(text.find(','), text.size());
    std::optional<int64_t> size = parseInt(text.substr(0, comma), 1, kMaxRows);
    if (!size || (!buckets.empty() && *size <= buckets.back()) || buckets.size() == kMaxBuckets) return std::nullopt;
    buckets.push_back(*size);
    text.remove_prefix(std::min(comma + 1, text.size()));
  }
  return buckets;
}

/// Applies one "key=value" of the context header; unknown keys and bad values are ignored.
void applyContextWord(std::string_view word, passes::PassContext& context) {
  const size_t equals = word.find('=');
  if (equals == std::string_view::npos) return;
  const std::string_view key = word.substr(0, equals);
  const std::string_view value = word.substr(equals + 1);
  if (key == "gpu") {
    if (const passes::GpuProfile* profile = bundledProfile(std::string(value))) context.profile = *profile;
  } else if (key == "buckets") {
    if (std::optional<std::vector<int64_t>> buckets = parseBuckets(value)) context.buckets = std::move(*buckets);
  } else if (key == "prefill") {
    if (std::optional<int64_t> rows = parseInt(value, 0, kMaxRows)) context.prefillTokens = *rows;
  } else if (key == "budget") {
    if (std::optional<int64_t> bytes = parseInt(value, 1, INT64_MAX)) context.memoryBudget = *bytes;
  }
}

/// The compile context: h100, buckets 1,2,4,8, prefill 64, unless the header says otherwise.
passes::PassContext contextFor(std::string_view text) {
  passes::PassContext context;
  context.profile = *bundledProfile("h100");
  context.buckets = {1, 2, 4, 8};
  context.prefillTokens = 64;
  if (text.substr(0, kContextHeader.size()) != kContextHeader) return context;
  std::string_view line = text.substr(kContextHeader.size(), text.find('\n') - kContextHeader.size());
  while (!line.empty()) {
    const size_t space = std::min(line.find(' '), line.size());
    applyContextWord(line.substr(0, space), context);
    line.remove_prefix(std::min(space + 1, line.size()));
  }
  return context;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool registered = (passes::registerBuiltinPasses(), true);
  (void)registered;
  const std::string text(reinterpret_cast<const char*>(data), size);
  passes::PassContext context = contextFor(text);
  std::unique_ptr<ir::Module> module;
  try {
    module = ir::parseModule(text, "fuzz.ir");
    if (!module) fuzz::die(kTarget, "parseModule returned null without throwing");
    ir::verifyModule(*module);
  } catch (const Error& error) {
    fuzz::noteRejected(error);
    return 0;
  }
  try {
    fuzz::runCheckedPipeline(*module, context);
  } catch (const passes::PassError& error) {
    fuzz::noteRejected(error);
    return 0;
  }
  fuzz::checkPrintParseRoundTrip(*module, kTarget);
  return 0;
}
