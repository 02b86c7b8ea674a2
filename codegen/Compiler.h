#pragma once
/// \file
/// The whole compile in one call, for the CLI, the runtime and the tests: a model config is
/// built into IR, the pass pipeline runs (bucket specialisation, decisions, memory plan) and
/// every bucket is lowered into a Plan.

#include "codegen/Plan.h"
#include "ir/Graph.h"
#include "models/ModelConfig.h"
#include "passes/Pass.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace reel::codegen {

struct CompileRequest {
  models::ModelConfig config;
  models::QuantScheme scheme = models::QuantScheme::Q4_K_M;
  passes::GpuProfile profile;
  std::string pipeline;  ///< empty: the default pipeline
  std::vector<int64_t> buckets{1, 2, 4, 8, 16, 32, 64};
  int64_t prefillTokens = 256;  ///< M of the prefill specialisation
  int64_t maxContext = 0;       ///< KV positions per sequence; 0: min(model context, 4096)
  std::optional<int64_t> memoryBudget;
};

struct CompileResult {
  std::unique_ptr<ir::Module> module;  ///< the optimized IR
  passes::PassContext context;         ///< decisions and report
  Plan plan;
};

/// Builds, optimizes and lowers. Throws reel::Error (or passes::PassError) on failure.
CompileResult compileModel(const CompileRequest& request);

/// Optimizes an existing module in place with `request`'s pipeline, buckets and profile, then
/// lowers it (request.config is ignored; the module's attributes describe the model).
CompileResult compileModule(std::unique_ptr<ir::Module> module, const CompileRequest& request);

}  // namespace reel::codegen
