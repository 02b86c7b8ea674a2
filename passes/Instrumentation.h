#pragma once
/// \file
/// Pass instrumentation: hooks the PassManager calls around each pass, and the standard
/// instrumentations behind the CLI flags (--print-ir-*, --time-passes, --dump-dir and the
/// crash reproducer). The manager itself prints nothing; everything a user sees about a
/// pipeline run comes from an instrumentation.

#include "ir/Graph.h"
#include "passes/Pipeline.h"

#include <chrono>
#include <functional>
#include <iosfwd>
#include <set>
#include <string>
#include <vector>

namespace reel::passes {

/// The pass being run: its pipeline entry and its place in the pipeline.
struct PassRun {
  const Pipeline& pipeline;
  size_t index = 0;  ///< 0-based position in the pipeline

  [[nodiscard]] const PipelineEntry& entry() const { return pipeline.entries()[index]; }
  [[nodiscard]] const std::string& name() const { return entry().name(); }
};

/// The IR just before a failed pass, rebuilt on demand (see PassManager::run).
struct IrBeforeFailure {
  std::string text;           ///< the module as printed
  size_t firstPassIndex = 0;  ///< where the pipeline restarts: the failed pass, or 0 if the
                              ///< IR could not be rebuilt and `text` is the pipeline's input
};

/// A pass that threw or produced IR the verifier rejects.
struct PassFailure {
  const PassRun& run;
  std::string message;  ///< the one-line error: "pass 'x' produced invalid IR: ..."
  /// Rebuilds the IR the failed pass started from (runs the earlier passes again on a copy
  /// of the pipeline's input; passes must be deterministic).
  std::function<IrBeforeFailure()> irBefore;
  /// Lines the CLI prints after the error ("reproducer written to ...").
  std::vector<std::string>* notes = nullptr;
};

/// Hooks around a pipeline run. All do nothing by default.
class PassInstrumentation {
 public:
  virtual ~PassInstrumentation() = default;
  virtual void beforePipeline(const Pipeline& /*pipeline*/, const ir::Module& /*module*/) {}
  virtual void beforePass(const PassRun& /*run*/, const ir::Module& /*module*/) {}
  /// After the pass returned, before the verifier checks its output.
  virtual void afterPass(const PassRun& /*run*/, const ir::Module& /*module*/, bool /*changed*/) {}
  /// Around the verifier, which runs after each pass that reported a change.
  virtual void beforeVerify(const PassRun& /*run*/) {}
  virtual void afterVerify(const PassRun& /*run*/) {}
  /// The pass threw or broke the IR; the manager throws a PassError after these hooks.
  virtual void onPassFailure(const PassFailure& /*failure*/) {}
  virtual void afterPipeline(const Pipeline& /*pipeline*/, const ir::Module& /*module*/) {}
};

/// Which IR dumps to print (--print-ir-*).
struct PrintIrOptions {
  bool afterAll = false;
  bool afterChange = false;      ///< after each pass that reported a change
  std::set<std::string> before;  ///< pass names
  std::set<std::string> after;   ///< pass names

  [[nodiscard]] bool any() const { return afterAll || afterChange || !before.empty() || !after.empty(); }
};

/// Prints the module before/after the chosen passes, each dump headed by a comment line
/// `// ----- IR after fuse-gate-up (pass 7 of 12) -----`, so a dump parses as IR.
class PrintIrInstrumentation : public PassInstrumentation {
 public:
  PrintIrInstrumentation(PrintIrOptions options, std::ostream& out) : options_(std::move(options)), out_(out) {}
  void beforePass(const PassRun& run, const ir::Module& module) override;
  void afterPass(const PassRun& run, const ir::Module& module, bool changed) override;

 private:
  void dump(const char* when, const PassRun& run, const ir::Module& module);
  PrintIrOptions options_;
  std::ostream& out_;
};

/// --time-passes: wall time of each pass in pipeline order, the verifier and the total,
/// printed as a table when the pipeline ends.
class TimingInstrumentation : public PassInstrumentation {
 public:
  explicit TimingInstrumentation(std::ostream& out) : out_(out) {}
  void beforePipeline(const Pipeline& pipeline, const ir::Module& module) override;
  void beforePass(const PassRun& run, const ir::Module& module) override;
  void afterPass(const PassRun& run, const ir::Module& module, bool changed) override;
  void beforeVerify(const PassRun& run) override;
  void afterVerify(const PassRun& run) override;
  void afterPipeline(const Pipeline& pipeline, const ir::Module& module) override;

  /// The table printed at the end (exposed for tests).
  [[nodiscard]] std::string table(const Pipeline& pipeline) const;

 private:
  using Clock = std::chrono::steady_clock;
  std::ostream& out_;
  std::vector<double> passSeconds_;
  std::vector<bool> changed_;
  double verifySeconds_ = 0;
  double totalSeconds_ = 0;
  Clock::time_point pipelineStart_;
  Clock::time_point start_;
};

/// --dump-dir DIR: `000-input.ir`, then `NNN-<pass>.ir` after each pass (NNN = its
/// 1-based position in the pipeline).
class DumpDirInstrumentation : public PassInstrumentation {
 public:
  /// Creates `dir` if needed; throws reel::Error if it cannot.
  explicit DumpDirInstrumentation(std::string dir);
  void beforePipeline(const Pipeline& pipeline, const ir::Module& module) override;
  void afterPass(const PassRun& run, const ir::Module& module, bool changed) override;

 private:
  void write(const std::string& fileName, const ir::Module& module) const;
  std::string dir_;
};

/// Where and how the crash reproducer is written.
struct ReproducerOptions {
  std::string dir = ".";  ///< the dump dir when given, else the current dir
  /// Flags besides --passes that the rerun needs ("--gpu=h100 --buckets=1,2"), written into
  /// the header so `reel opt --run-reproducer` restores the compile context.
  std::string contextFlags;
};

/// On a failure writes `reel-reproducer-<pass>.ir`: a header line
/// `// reel-reproducer: --passes='<the pipeline from the failed pass on>' <context flags>`
/// then the IR before the failed pass. Adds a note with its path.
class ReproducerInstrumentation : public PassInstrumentation {
 public:
  explicit ReproducerInstrumentation(ReproducerOptions options) : options_(std::move(options)) {}
  void onPassFailure(const PassFailure& failure) override;

  /// The header keyword `reel opt --run-reproducer` looks for.
  static constexpr const char* kHeader = "// reel-reproducer:";

 private:
  ReproducerOptions options_;
};

/// The flags of a reproducer header in `irText` (the rest of the first line that starts
/// with the keyword), or "" when there is none.
std::string reproducerFlags(std::string_view irText);

}  // namespace reel::passes
