// libFuzzer target of the IR text parser and verifier. Any input must either parse or
// throw reel::Error; a parsed module must survive the verifier, print, and re-parse to a
// module that prints the same text (print -> parse -> print is a fixed point). Anything
// else aborts, which libFuzzer reports as a crash.
// REEL_FUZZ_VERBOSE=1 in the environment prints why an input was rejected.

#include "ir/Parser.h"
#include "ir/Verifier.h"
#include "passes/PassTable.h"
#include "support/Diagnostics.h"
#include "tests/fuzz/FuzzSupport.h"
#include "tests/fuzz/IrChecks.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace {

using namespace reel;

[[noreturn]] void die(const char* what) {
  fuzz::die("IrParserFuzz", what);
}

/// Runs the verifier on every graph; it reports problems as text, so it must not throw.
void verifyAll(const ir::Module& module) {
  for (const std::unique_ptr<ir::Graph>& graph : module.graphs) {
    try {
      (void)ir::findVerifyError(*graph);
    } catch (const Error& error) {
      std::fprintf(stderr, "%s\n", error.what());
      die("findVerifyError threw instead of returning the problem");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool registered = (passes::registerBuiltinPasses(), true);
  (void)registered;
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::unique_ptr<ir::Module> module;
  try {
    module = ir::parseModule(text, "fuzz.ir");
  } catch (const Error& error) {
    reel::fuzz::noteRejected(error);
    return 0;
  }
  if (!module) die("parseModule returned null without throwing");
  verifyAll(*module);
  fuzz::checkPrintParseRoundTrip(*module, "IrParserFuzz");
  return 0;
}
