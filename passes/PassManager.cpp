#include "passes/PassManager.h"

#include "ir/Printer.h"
#include "ir/Verifier.h"

#include <fmt/format.h>

namespace reel::passes {
namespace {

/// The first verifier error of any graph in `module`, or nullopt.
std::optional<std::string> findModuleVerifyError(const ir::Module& module) {
  for (const std::unique_ptr<ir::Graph>& graph : module.graphs)
    if (std::optional<std::string> error = ir::findVerifyError(*graph)) return error;
  return std::nullopt;
}

}  // namespace

std::unique_ptr<ir::Module> cloneModule(const ir::Module& module) {
  auto copy = std::make_unique<ir::Module>();
  copy->name = module.name;
  copy->attrs = module.attrs;
  copy->graphs.reserve(module.graphs.size());
  for (const std::unique_ptr<ir::Graph>& graph : module.graphs) copy->graphs.push_back(graph->clone(graph->name()));
  return copy;
}

PassManager::PassManager(Pipeline pipeline, PassManagerOptions options)
    : pipeline_(std::move(pipeline)), options_(options) {}

void PassManager::addInstrumentation(std::unique_ptr<PassInstrumentation> instrumentation) {
  instrumentations_.push_back(std::move(instrumentation));
}

bool PassManager::run(ir::Module& module, PassContext& context) {
  if (options_.verifyInput) ir::verifyModule(module);
  // The input and the context as they were, to rebuild the IR before a failed pass.
  std::unique_ptr<ir::Module> input = cloneModule(module);
  const PassContext inputContext = context;

  for (auto& hooks : instrumentations_) hooks->beforePipeline(pipeline_, module);
  bool anyChanged = false;
  for (size_t index = 0; index < pipeline_.size(); ++index) {
    PassRun run{pipeline_, index};
    for (auto& hooks : instrumentations_) hooks->beforePass(run, module);
    bool changed = false;
    try {
      changed = pipeline_.entries()[index].instantiate()->runOnModule(module, context);
    } catch (const std::exception& error) {
      reportFailure(run, fmt::format("pass '{}' failed: {}", run.name(), error.what()), *input, inputContext);
    }
    for (auto& hooks : instrumentations_) hooks->afterPass(run, module, changed);
    if (changed && options_.verifyEach) {
      for (auto& hooks : instrumentations_) hooks->beforeVerify(run);
      std::optional<std::string> error = findModuleVerifyError(module);
      for (auto& hooks : instrumentations_) hooks->afterVerify(run);
      if (error)
        reportFailure(run, fmt::format("pass '{}' produced invalid IR: {}", run.name(), *error), *input, inputContext);
    }
    anyChanged |= changed;
  }
  for (auto& hooks : instrumentations_) hooks->afterPipeline(pipeline_, module);
  return anyChanged;
}

void PassManager::reportFailure(const PassRun& run, const std::string& message, const ir::Module& input,
                                const PassContext& inputContext) {
  std::vector<std::string> notes;
  PassFailure failure{run, message, [&] { return rebuildIrBefore(run.index, input, inputContext); }, &notes};
  for (auto& hooks : instrumentations_) hooks->onPassFailure(failure);
  throw PassError(message, run.name(), std::move(notes));
}

IrBeforeFailure PassManager::rebuildIrBefore(size_t index, const ir::Module& input,
                                             const PassContext& inputContext) const {
  std::unique_ptr<ir::Module> module = cloneModule(input);
  PassContext context = inputContext;
  try {
    for (size_t i = 0; i < index; ++i) pipeline_.entries()[i].instantiate()->runOnModule(*module, context);
  } catch (const std::exception&) {
    // An earlier pass behaves differently the second time: fall back to the input.
    return {ir::printModule(input), 0};
  }
  return {ir::printModule(*module), index};
}

}  // namespace reel::passes
