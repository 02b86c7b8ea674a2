#pragma once
/// \file
/// The pass API. A pass has a name, a summary and typed options (declared in its
/// PassInfo, which drives registration, `reel passes` and docs/passes.md), runs on a
/// module and reports whether it changed the IR. Most passes work graph by graph; the
/// module holds one graph per bucket once `specialize-buckets` has run.

#include "ir/Graph.h"
#include "ir/OpRegistry.h"
#include "passes/GpuProfile.h"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace reel::passes {

/// The type of one pass option.
enum class OptionKind { Int, Float, Bool, String, IntList, Enum };

/// The declaration of one option: `fuse-gate-up{max-m=8}`. Values in pipeline syntax:
/// Int `8`, Float `0.5`, Bool `true`/`false`, String `word` (no `,{}[]=` or spaces),
/// IntList `[1,2,4]`, Enum one of its `choices`.
///
///   {"alignment", OptionKind::Int, "256", "byte alignment"}          an int
///   OptionSpec{"max-splits", OptionKind::Int, "32", "..."}.atLeast(1)  an int >= 1
///   enumOption("mode", "cost", {"cost", "always", "never"}, "...")     an enum
struct OptionSpec {
  std::string name;
  OptionKind kind = OptionKind::Int;
  std::string defaultValue;  ///< in pipeline syntax; "" = taken from the GPU profile / context
  std::string help;
  std::vector<std::string> choices = {};  ///< the values of an Enum option, in the order getChoice numbers them
  std::optional<int64_t> least = {};      ///< the smallest value of an Int option (each element of an IntList)

  /// This declaration with values below `value` refused.
  [[nodiscard]] OptionSpec atLeast(int64_t value) const {
    OptionSpec spec = *this;
    spec.least = value;
    return spec;
  }
};

/// An Enum option.
OptionSpec enumOption(std::string name, std::string defaultValue, std::vector<std::string> choices, std::string help);

/// Why `value` is not a valid value of `spec` ("option 'x' expects an integer, got 'y'"), or nullopt.
std::optional<std::string> optionValueError(const OptionSpec& spec, const std::string& value);
/// Why `spec` is not a valid declaration (an Enum without choices, choices or a least value
/// on a kind that has none, a default that is not a value), or nullopt.
std::optional<std::string> optionDeclarationError(const OptionSpec& spec);
/// The type as `reel passes` and docs/passes.md show it: "int", "int >= 1", "cost|always|never".
std::string optionTypeText(const OptionSpec& spec);

/// Option values of one pass instance, typed by the pass's OptionSpecs.
class PassOptions {
 public:
  PassOptions() = default;
  /// Throws reel::Error for an undeclared option or a value of the wrong kind.
  PassOptions(std::vector<OptionSpec> specs, std::map<std::string, std::string> given);
  /// As above, keeping the order the options were written in (for printing pipelines back).
  static PassOptions inGivenOrder(std::vector<OptionSpec> specs,
                                  const std::vector<std::pair<std::string, std::string>>& given);

  /// True if the option was given in the pipeline (not defaulted).
  [[nodiscard]] bool given(const std::string& name) const;
  [[nodiscard]] int64_t getInt(const std::string& name) const;
  [[nodiscard]] double getFloat(const std::string& name) const;
  [[nodiscard]] bool getBool(const std::string& name) const;
  [[nodiscard]] std::string getString(const std::string& name) const;
  [[nodiscard]] std::vector<int64_t> getIntList(const std::string& name) const;
  /// The index of an Enum option's value in its choices (declare them in the order of the
  /// C++ enum they map to: `static_cast<Mode>(options().getChoice("mode"))`).
  [[nodiscard]] size_t getChoice(const std::string& name) const;
  /// Int option if given, else `fallback` (e.g. the profile's threshold).
  [[nodiscard]] int64_t getIntOr(const std::string& name, int64_t fallback) const;

  /// The given options as written in the pipeline: "max-m=8,min-m=2", in the order they
  /// were given (inGivenOrder) or else in declaration order. Defaults are not printed.
  [[nodiscard]] std::string str() const;
  [[nodiscard]] const std::vector<OptionSpec>& specs() const { return specs_; }

 private:
  [[nodiscard]] const std::string& raw(const std::string& name) const;
  [[nodiscard]] const OptionSpec& spec(const std::string& name) const;
  std::vector<OptionSpec> specs_;
  std::map<std::string, std::string> given_;
  std::vector<std::string> givenOrder_;
};

/// One decision a pass made, for `--explain`: what, the alternatives with their cost-model
/// figures, and the choice.
struct Decision {
  std::string pass;     ///< "select-precision"
  std::string graph;    ///< "decode.m4"
  std::string subject;  ///< "%l3.gate" or "layer 3"
  std::string choice;   ///< "dp4a"
  std::string reason;   ///< one line: the figures that decided it
};

/// M of the @prefill graph where neither the compile nor the GPU profile's measurements say.
inline constexpr int64_t kDefaultPrefillTokens = 256;

/// What a compile knows besides the IR: the target, the compile options and a log of
/// decisions for --explain.
struct PassContext {
  GpuProfile profile;
  std::vector<int64_t> buckets{1, 2, 4, 8, 16, 32, 64};
  /// M of the prefill specialisation (0: none). Unset: specialize-buckets takes the profile's
  /// measured prefill_tokens, else kDefaultPrefillTokens, and sets it to what it built.
  std::optional<int64_t> prefillTokens;
  /// M of smaller prefill graphs beside @prefill (@prefill.m64, ...), increasing, each below
  /// the prefill chunk: a step of fewer prompt rows runs the smallest that holds them rather
  /// than the whole padded chunk. Empty: @prefill alone.
  std::vector<int64_t> prefillBuckets;
  std::optional<int64_t> memoryBudget;  ///< bytes of GPU memory for weights; nullopt = the profile's memory
  std::vector<Decision> decisions;
  /// Totals reported at the end of a compile ("weight bytes on the GPU: ...").
  std::map<std::string, std::string> report;

  void decide(Decision decision) { decisions.push_back(std::move(decision)); }
};

/// A compiler pass.
class Pass {
 public:
  virtual ~Pass() = default;
  /// Runs on the whole module; the default runs runOnGraph on each graph.
  /// Returns whether the IR changed.
  virtual bool runOnModule(ir::Module& module, PassContext& context);
  /// Runs on one graph; returns whether it changed.
  virtual bool runOnGraph(ir::Graph& graph, PassContext& context);

  [[nodiscard]] const PassOptions& options() const { return options_; }
  void setOptions(PassOptions options) { options_ = std::move(options); }

 private:
  PassOptions options_;
};

/// The registration record of a pass: one row of the declarative pass table.
struct PassInfo {
  std::string name;     ///< "fuse-gate-up"
  std::string summary;  ///< one line
  std::string phase;    ///< "cleanup", "fusion", "precision", "attention", "memory", "specialize"
  std::vector<OptionSpec> options;
  std::function<std::unique_ptr<Pass>()> create;
  /// Ops this pass creates (fused, lowered); registered with ir::registerOp when the pass
  /// is registered, and listed in docs/passes.md.
  std::vector<ir::OpDef> ops = {};
  /// Where the pass joins the default pipeline (PassRegistry::defaultPipeline): right after,
  /// or right before, the first run of the named pass. Empty (both): it runs only where a
  /// pipeline names it. At most one of the two is set.
  std::string insertAfter = {};
  std::string insertBefore = {};
};

}  // namespace reel::passes
