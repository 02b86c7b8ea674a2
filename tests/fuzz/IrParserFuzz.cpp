// libFuzzer target of the IR text parser and verifier. Any input must either parse or
// throw reel::Error; a parsed module must survive the verifier, print, and re-parse to a
// module that prints the same text (print -> parse -> print is a fixed point). Anything
// else aborts, which libFuzzer reports as a crash.
// REEL_FUZZ_VERBOSE=1 in the environment prints why an input was rejected.

#include "ir/Diagnostics.h"
#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"
#include "passes/FusedOps.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

namespace {

using namespace reel;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "IrParserFuzz: %s\n", what);
  std::abort();
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
  static const bool registered = (passes::registerFusedOps(), true);
  (void)registered;
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::unique_ptr<ir::Module> module;
  try {
    module = ir::parseModule(text, "fuzz.ir");
  } catch (const Error& error) {
    if (std::getenv("REEL_FUZZ_VERBOSE")) std::fprintf(stderr, "rejected: %s\n", error.what());
    return 0;
  }
  if (!module) die("parseModule returned null without throwing");
  verifyAll(*module);
  const std::string once = ir::printModule(*module);
  std::unique_ptr<ir::Module> reparsed;
  try {
    reparsed = ir::parseModule(once, "printed.ir");
  } catch (const Error& error) {
    std::fprintf(stderr, "%s\n--- printed module ---\n%s\n", error.what(), once.c_str());
    die("the parser rejects what the printer wrote");
  }
  if (!reparsed) die("parseModule returned null without throwing");
  const std::string twice = ir::printModule(*reparsed);
  if (twice != once) {
    std::fprintf(stderr, "--- first print ---\n%s\n--- second print ---\n%s\n", once.c_str(), twice.c_str());
    die("print -> parse -> print is not stable");
  }
  return 0;
}
