#pragma once
/// \file
/// The pass-pipeline flags the commands share: the pipeline, the target (--gpu, --buckets,
/// ...), plugins, instrumentation and --explain; compileWithFlags, the one compile of the
/// CLI (`compile`, `run`, `bench`: codegen::compileModule with the flags), and runPasses for
/// `reel opt`.

#include "codegen/Compiler.h"
#include "ir/Graph.h"
#include "models/ModelConfig.h"
#include "passes/Pass.h"
#include "passes/Pipeline.h"
#include "tools/Args.h"

#include <optional>
#include <string>
#include <vector>

namespace reel::tools {

/// The flags that define a compile's context; a reproducer header records them.
struct ContextFlags {
  std::optional<std::string> passes;
  std::optional<std::string> gpu;
  std::optional<std::string> gpuProfile;
  std::optional<std::string> buckets;
  std::optional<std::string> prefillTokens;
  std::optional<std::string> prefillBuckets;
  std::optional<std::string> memoryBudget;
  std::optional<std::string> tp;  ///< --tp: the pipeline starts with shard{tp=N}
  std::vector<std::string> plugins;

  /// Each flag of `this`, or of `fallback` where this one lacks it.
  [[nodiscard]] ContextFlags orElse(const ContextFlags& fallback) const;
};

/// Declares the shared flags on `args`.
void declarePassFlags(Args& args);
/// Reads the context flags from parsed `args`.
ContextFlags readContextFlags(const Args& args);
/// Parses the flags of a reproducer header ("--passes='a,b' --gpu=h100").
ContextFlags parseReproducerFlags(const std::string& headerFlags);

/// Everything needed to run a pipeline, resolved from the flags.
struct PassSetup {
  passes::Pipeline pipeline;
  passes::PassContext context;
  std::string reproducerFlags;  ///< the context flags, as a reproducer header writes them
};

/// What runs when --passes is absent: the default pipeline (with the plugin passes that join
/// it), or no pass.
enum class PipelineDefault { Full, Empty };

/// Loads plugins, resolves the GPU profile (notes about --gpu auto go to stderr), parses
/// buckets, memory budget and the pipeline (`fallback` when --passes is absent), with
/// shard{tp=N} in front where --tp N > 1.
PassSetup resolvePassSetup(const ContextFlags& flags, PipelineDefault fallback);

/// Runs `setup.pipeline` on `module` with the instrumentation the flags ask for.
/// Returns false when a pass failed (the error and its notes are already on stderr).
bool runPasses(ir::Module& module, PassSetup& setup, const Args& args);

/// --quant: the weight quantization scheme the builder gives the model (`fallback` when the
/// flag is absent); a one-line error naming the flag for an unknown one.
models::QuantScheme quantSchemeFlag(const Args& args, const std::string& fallback = "q4_k_m");

/// What a command compiles for where the flags do not say.
struct CompileDefaults {
  std::string buckets;                               ///< --buckets ("": the pass context's default)
  std::string prefillTokens;                         ///< --prefill-tokens ("": the pass context's default)
  std::string prefillBuckets;                        ///< --prefill-buckets ("": none), with the default chunk only
  int64_t maxContext = codegen::kDefaultMaxContext;  ///< --ctx: at most this, and the model's context
  bool lower = true;                                 ///< lower to a plan (false: the passes only)
  bool sampling = false;                             ///< build the steps to sample without a sampling flag (reel serve)
};

/// The CLI's compile: `module` through the flags' pipeline (--passes, the context flags,
/// plugins, --no-verify, the instrumentation flags) and, with defaults.lower, lowered for
/// --ctx positions (default: the smaller of the model's context and defaults.maxContext).
/// nullopt when a pass failed (its error and notes are already on stderr).
std::optional<codegen::CompileResult> compileWithFlags(const Args& args, std::unique_ptr<ir::Module> module,
                                                       const CompileDefaults& defaults);

/// The ranks a pipeline shards for: the `tp` of its shard pass, 1 without one.
int64_t pipelineRanks(const passes::Pipeline& pipeline);

/// The decisions of a compile for --explain, grouped by graph, as IR comments ("// ...")
/// so that IR followed by them still parses.
std::string explainDecisions(const ir::Module& module, const passes::PassContext& context);

/// Prints the context's report entries to stderr ("reel: weight bytes on the GPU: ...").
void printReport(const passes::PassContext& context);

/// The bytes of a size flag as parseByteSize reads them ("24GB", "1.5GiB"); a one-line
/// reel::Error naming the flag for anything else.
int64_t byteSizeFlag(const std::string& text, const std::string& flag);

}  // namespace reel::tools
