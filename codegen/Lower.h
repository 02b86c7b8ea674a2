#pragma once
/// \file
/// Lowering: each optimized bucket graph becomes a schedule of kernel launches (ids from
/// kernels/KernelCatalog.h, dims computed here, arguments bound to arena offsets, weight
/// slots, KV-cache layers, per-step inputs and scratch) and the whole module a Plan. The
/// decisions were made by the passes (matmul `kernel`, attention `strategy`, fused ops,
/// arena `offsets`); lowering only follows them, and refuses IR it cannot lower with an
/// error naming the op.

#include "codegen/Plan.h"
#include "ir/Graph.h"
#include "passes/GpuProfile.h"

#include <string>

namespace reel::codegen {

struct LowerOptions {
  passes::GpuProfile profile;
  std::string pipeline;       ///< recorded in the plan
  int64_t maxContext = 4096;  ///< KV positions per sequence slot
};

/// Lowers every graph of `module` (after the pipeline, with `offsets` and `arena_bytes`).
Plan lowerModule(const ir::Module& module, const LowerOptions& options);

/// The canonical text of the model config a module was built from (its attributes); the
/// plan stores its hash to refuse weights of another model.
std::string canonicalConfigText(const ir::Module& module);

}  // namespace reel::codegen
