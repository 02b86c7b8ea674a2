#pragma once
/// \file
/// The compile driver: the one path from a model to a plan, for the CLI (`compile`, `run`,
/// `bench`, through tools/PassFlags' compileWithFlags), the runtime and the tests. A model
/// config is built into IR, the pass pipeline runs (bucket specialisation, decisions,
/// memory plan) and every bucket is lowered into a Plan.

#include "codegen/Plan.h"
#include "ir/Graph.h"
#include "models/ModelConfig.h"
#include "passes/Pass.h"
#include "passes/PassManager.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace reel::codegen {

/// KV positions per sequence a plan is lowered for when nothing says otherwise (at most the
/// model's context).
constexpr int64_t kDefaultMaxContext = 4096;

/// The model's context (its `context` attribute; kDefaultMaxContext when absent).
int64_t moduleContext(const ir::Module& module);

struct CompileRequest {
  models::ModelConfig config;
  models::QuantScheme scheme = models::QuantScheme::Q4_K_M;
  passes::GpuProfile profile;
  std::optional<std::string> pipeline;  ///< the pass pipeline; nullopt: the default pipeline
  std::vector<int64_t> buckets{1, 2, 4, 8, 16, 32, 64};
  std::optional<int64_t> prefillTokens;  ///< M of the prefill specialisation (PassContext::prefillTokens)
  std::vector<int64_t> prefillBuckets;   ///< smaller prefill graphs (PassContext::prefillBuckets)
  int64_t maxContext = 0;                ///< KV positions per sequence; 0: min(model context, kDefaultMaxContext)
  std::optional<int64_t> memoryBudget;
  /// Verify the input and the IR after each changing pass (false: `--no-verify`).
  bool verify = true;
  /// Adds instrumentation to the pass manager before it runs (print-after, timing,
  /// reproducers: the CLI's pass flags).
  std::function<void(passes::PassManager&)> instrument;
  /// Build the step to end in `sample` rather than `argmax` (models::BuildOptions::sampling):
  /// the plan then honours each row's sampling parameters; greedy rows get argmax's tokens.
  bool sampling = false;
  /// Lower to a plan; false stops after the passes (CompileResult::plan stays empty).
  bool lower = true;
};

struct CompileResult {
  std::unique_ptr<ir::Module> module;  ///< the optimized IR
  passes::PassContext context;         ///< decisions and report
  Plan plan;                           ///< empty unless CompileRequest::lower
};

/// Builds, optimizes and lowers. Throws reel::Error (or passes::PassError) on failure.
CompileResult compileModel(const CompileRequest& request);

/// Optimizes an existing module in place with `request`'s pipeline, buckets and profile, then
/// lowers it (request.config, request.scheme and request.sampling are ignored; the module's
/// attributes and ops describe the model). The plan's context is request.maxContext, else min(the module's context,
/// 4096).
CompileResult compileModule(std::unique_ptr<ir::Module> module, const CompileRequest& request);

}  // namespace reel::codegen
