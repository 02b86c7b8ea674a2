#pragma once
/// \file
/// The PassManager runs a pipeline over a module:
///
///   for each pass:  instrumentation.beforePass
///                   changed = pass.runOnModule(module, context)
///                   instrumentation.afterPass
///                   if changed: verify (a failure names the pass that broke the IR)
///
/// A pass that throws, or whose output the verifier rejects, stops the run with a
/// PassError; before that the instrumentations' onPassFailure hooks see it (the
/// reproducer writer is one). A pass that reports no change is trusted: its output is not
/// verified again.

#include "ir/Graph.h"
#include "passes/Instrumentation.h"
#include "passes/Pass.h"
#include "passes/Pipeline.h"
#include "support/Diagnostics.h"

#include <memory>
#include <string>
#include <vector>

namespace reel::passes {

/// A failed pass: what() is the one-line error, notes() what the instrumentations added.
class PassError : public Error {
 public:
  PassError(const std::string& message, std::string passName, std::vector<std::string> notes)
      : Error(message), passName_(std::move(passName)), notes_(std::move(notes)) {}
  [[nodiscard]] const std::string& passName() const { return passName_; }
  [[nodiscard]] const std::vector<std::string>& notes() const { return notes_; }

 private:
  std::string passName_;
  std::vector<std::string> notes_;
};

struct PassManagerOptions {
  bool verifyInput = true;  ///< verify the module before the first pass
  bool verifyEach = true;   ///< verify after each pass that reported a change
};

class PassManager {
 public:
  explicit PassManager(Pipeline pipeline, PassManagerOptions options = {});

  /// Adds an instrumentation; hooks run in the order they were added.
  void addInstrumentation(std::unique_ptr<PassInstrumentation> instrumentation);

  /// Runs the pipeline; returns whether any pass changed the module. Throws PassError
  /// when a pass fails, reel::Error when the input does not verify.
  bool run(ir::Module& module, PassContext& context);

  [[nodiscard]] const Pipeline& pipeline() const { return pipeline_; }

 private:
  [[noreturn]] void reportFailure(const PassRun& run, const std::string& message, const ir::Module& input,
                                  const PassContext& inputContext);
  [[nodiscard]] IrBeforeFailure rebuildIrBefore(size_t index, const ir::Module& input,
                                                const PassContext& inputContext) const;

  Pipeline pipeline_;
  PassManagerOptions options_;
  std::vector<std::unique_ptr<PassInstrumentation>> instrumentations_;
};

/// A deep copy of a module (graphs, attributes).
std::unique_ptr<ir::Module> cloneModule(const ir::Module& module);

}  // namespace reel::passes
