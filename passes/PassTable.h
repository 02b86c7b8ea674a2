#pragma once
/// \file
/// The one declarative table of passes, and the registry built from it.
///
/// Each row of the table (PassTable.cpp) is a PassInfo: name, summary, phase, typed
/// options and a factory. The table alone drives registration, pipeline parsing,
/// `reel passes`, `reel passes --markdown` (docs/passes.md) and the option checks of
/// `--passes`. Plugins add rows to the same registry at start-up (see PluginApi.h).

#include "passes/Pass.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace reel::passes {

/// The built-in default pipeline; PassRegistry::defaultPipeline adds the plugin passes
/// that ask to join it (PassInfo::insertAfter, insertBefore). Precision is chosen before
/// the fusions because fuse-gate-up's conditions depend on the chosen kernel. fold-quantize
/// runs after share-activation-quant (it folds the quantizes that pass leaves) and before
/// plan-memory (it changes value types and sizes); it makes Llama-2-7B decode faster at
/// M = 1..8 (docs/performance-log.md).
inline constexpr const char* kDefaultPipeline =
    "specialize-buckets,canonicalize,cse,dce,select-precision,fuse-qkv,fuse-gate-up,"
    "fuse-residual-norm,select-attention,fuse-rope-attention,share-activation-quant,dce,fold-quantize,"
    "select-launch-config,plan-memory";

/// The phases of the pipeline, in order, for listings: "shard", "specialize", "cleanup",
/// "precision", "fusion", "attention", "launch", "memory".
const std::vector<std::string>& passPhases();

/// The built-in passes: the rows of the table, in table order.
const std::vector<PassInfo>& builtinPassTable();

/// One registered pass and where it came from.
struct RegisteredPass {
  PassInfo info;
  std::string origin;  ///< "built-in", or the path of the plugin that added it
};

/// The passes a pipeline may name: the built-in table plus plugin passes.
class PassRegistry {
 public:
  PassRegistry() = default;
  PassRegistry(const PassRegistry&) = delete;
  PassRegistry& operator=(const PassRegistry&) = delete;

  /// The process-wide registry; holds the built-in table from the first call on.
  static PassRegistry& global();

  /// Adds a pass and registers the ops it declares. Throws reel::Error when the name is
  /// taken or is not lower-case words joined by '-', or an option is declared twice.
  void add(PassInfo info, const std::string& origin = "built-in");
  /// The pass called `name`, or nullptr.
  [[nodiscard]] const RegisteredPass* find(std::string_view name) const;
  /// All passes in registration order (the table first, then plugins).
  [[nodiscard]] std::vector<const RegisteredPass*> all() const;
  /// A registered name within two edits of `name` (for "did you mean"), or "".
  [[nodiscard]] std::string nearest(std::string_view name) const;
  /// The default pipeline, as `reel passes --default` prints it: kDefaultPipeline with each
  /// pass that has an insertAfter or insertBefore put next to the first run of its anchor,
  /// in registration order (a pass may anchor on one inserted before it).
  [[nodiscard]] std::string defaultPipeline() const;

 private:
  std::vector<std::unique_ptr<RegisteredPass>> passes_;
};

/// Registers the built-in passes, and with them the ops their rows declare (PassInfo::ops:
/// the fused ops of FusedOps.h), in the global registry. Idempotent and thread-safe. Every
/// binary that reads IR calls it before parsing, so that fused ops parse.
void registerBuiltinPasses();

/// The infrastructure passes (one file each, named after the pass).
std::unique_ptr<Pass> createShardPass();
std::unique_ptr<Pass> createSpecializeBucketsPass();
std::unique_ptr<Pass> createCanonicalizePass();
std::unique_ptr<Pass> createCsePass();
std::unique_ptr<Pass> createDcePass();

}  // namespace reel::passes
