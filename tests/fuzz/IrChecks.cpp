#include "tests/fuzz/IrChecks.h"

#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"
#include "passes/PassManager.h"
#include "passes/PassTable.h"
#include "passes/Pipeline.h"
#include "tests/fuzz/FuzzSupport.h"

#include <fmt/format.h>

#include <memory>
#include <string>

namespace reel::fuzz {

namespace {

/// A built-in pass with the checks of a fuzz run around it.
class CheckedPass final : public passes::Pass {
 public:
  CheckedPass(std::string name, std::unique_ptr<passes::Pass> inner)
      : name_(std::move(name)), inner_(std::move(inner)) {}

  bool runOnModule(ir::Module& module, passes::PassContext& context) override {
    inner_->setOptions(options());
    bool changed = false;
    try {
      changed = inner_->runOnModule(module, context);
    } catch (const Error&) {
      throw;  // a rejection: the manager reports it as a PassError
    } catch (const std::exception& error) {
      die("IrChecks", fmt::format("pass '{}' threw a non-reel exception: {}", name_, error.what()));
    } catch (...) {
      die("IrChecks", fmt::format("pass '{}' threw something that is not a std::exception", name_));
    }
    for (const std::unique_ptr<ir::Graph>& graph : module.graphs) {
      std::optional<std::string> problem;
      try {
        problem = ir::findVerifyError(*graph);
      } catch (const Error& error) {
        die("IrChecks", fmt::format("the verifier threw after pass '{}': {}", name_, error.what()));
      }
      if (problem)
        die("IrChecks", fmt::format("pass '{}' (reporting {}) left IR the verifier rejects: {}", name_,
                                    changed ? "a change" : "no change", *problem));
    }
    return changed;
  }

 private:
  std::string name_;
  std::unique_ptr<passes::Pass> inner_;
};

/// The registered passes, each wrapped in a CheckedPass.
const passes::PassRegistry& checkedRegistry() {
  static passes::PassRegistry registry;
  static const bool filled = [] {
    for (const passes::RegisteredPass* pass : passes::PassRegistry::global().all()) {
      passes::PassInfo info = pass->info;
      info.create = [name = info.name, create = info.create] { return std::make_unique<CheckedPass>(name, create()); };
      registry.add(std::move(info), pass->origin);
    }
    return true;
  }();
  (void)filled;
  return registry;
}

}  // namespace

void runCheckedPipeline(ir::Module& module, passes::PassContext& context) {
  static const passes::Pipeline pipeline =
      passes::Pipeline::parse(passes::kDefaultPipeline, checkedRegistry(), "kDefaultPipeline");
  passes::PassManager manager(pipeline);
  manager.run(module, context);
}

void checkPrintParseRoundTrip(const ir::Module& module, const char* target) {
  const std::string once = ir::printModule(module);
  std::unique_ptr<ir::Module> reparsed;
  try {
    reparsed = ir::parseModule(once, "printed.ir");
  } catch (const Error& error) {
    std::fprintf(stderr, "--- printed module ---\n%s\n", once.c_str());
    die(target, fmt::format("the parser rejects what the printer wrote: {}", error.what()));
  }
  if (!reparsed) die(target, "parseModule returned null without throwing");
  const std::string twice = ir::printModule(*reparsed);
  if (twice != once) {
    std::fprintf(stderr, "--- first print ---\n%s\n--- second print ---\n%s\n", once.c_str(), twice.c_str());
    die(target, "print -> parse -> print is not stable");
  }
}

}  // namespace reel::fuzz
