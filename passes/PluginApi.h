#pragma once
/// \file
/// The pass plugin API. A plugin is a shared library that exports one C entry point:
///
///   static void registerPasses(reel::passes::PassRegistrar& registrar) {
///     registrar.addPass({"count-ops", "annotate each graph with its op count", "cleanup", {},
///                        [] { return std::make_unique<CountOpsPass>(); }});
///   }
///   extern "C" REEL_PLUGIN_EXPORT reel_plugin_info reelGetPassPluginInfo(void) {
///     return {REEL_PLUGIN_API_VERSION, "count-ops", "1.0", registerPasses};
///   }
///
/// `reel compile|opt --load-pass-plugin=PATH` opens it (dlopen), refuses it unless its
/// api_version equals this header's REEL_PLUGIN_API_VERSION, then calls register_passes.
/// Added passes join the registry: pipelines, `reel passes` and the instrumentation see
/// them like built-in ones. A pass with PassInfo::insertAfter or insertBefore (the name of
/// a pass of the default pipeline) also joins the default pipeline there. Ops a plugin adds
/// lower to catalog kernels through codegen::registerOpLowering (codegen/OpLowering.h) and
/// run on the CPU reference through reference::registerOpExecution
/// (runtime/reference/OpExecution.h), both called from the registration callback. Ops a pass creates go in its
/// PassInfo::ops (or are registered with ir::registerOp from the callback).
///
/// A plugin compiles against reel's headers and links none of reel's libraries: what it
/// uses of reel (ir::Graph, passes::Pass, ...) resolves against the reel executable, which
/// exports its symbols (-rdynamic). CMake: `find_package(reel)` and link `reel::headers`.
/// The version covers every type a plugin sees (Pass, PassInfo, PassContext, ir::*):
/// it is bumped whenever one of them changes.

#include "passes/Pass.h"

#include <cstdint>

/// The plugin API version this header describes.
#define REEL_PLUGIN_API_VERSION 3u

/// Marks the entry point as exported even when a plugin builds with hidden visibility.
#define REEL_PLUGIN_EXPORT __attribute__((visibility("default")))

namespace reel::passes {

/// What a plugin's registration callback receives: adds passes to reel's registry.
class PassRegistrar {
 public:
  virtual ~PassRegistrar() = default;
  /// Registers a pass (and its PassInfo::ops). Throws reel::Error if the name is taken.
  virtual void addPass(PassInfo info) = 0;
};

}  // namespace reel::passes

extern "C" {

/// What the entry point returns.
struct reel_plugin_info {
  uint32_t api_version;        ///< REEL_PLUGIN_API_VERSION of the headers the plugin was built with
  const char* plugin_name;     ///< for messages and `reel passes`
  const char* plugin_version;  ///< the plugin's own version, free-form
  void (*register_passes)(reel::passes::PassRegistrar& registrar);
};

/// The entry point every plugin defines (the name reel looks up with dlsym).
REEL_PLUGIN_EXPORT reel_plugin_info reelGetPassPluginInfo(void);
}
