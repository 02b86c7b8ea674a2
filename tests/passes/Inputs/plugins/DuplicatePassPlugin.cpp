// A test plugin that registers a pass whose name is taken (dce).
#include "passes/PluginApi.h"

namespace {

void registerPasses(reel::passes::PassRegistrar& registrar) {
  registrar.addPass({"dce", "a second dce", "cleanup", {}, [] { return std::unique_ptr<reel::passes::Pass>(); }});
}

}  // namespace

extern "C" REEL_PLUGIN_EXPORT reel_plugin_info reelGetPassPluginInfo(void) {
  return {REEL_PLUGIN_API_VERSION, "duplicate", "0.1", registerPasses};
}
