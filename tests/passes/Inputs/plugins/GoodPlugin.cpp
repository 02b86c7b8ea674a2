// A test plugin: one pass (test-plugin-pass, sets the graph attribute `plugin_ran`) and one
// op (test_plugin_op) declared in its PassInfo.
#include "passes/PluginApi.h"

namespace {

class TestPluginPass : public reel::passes::Pass {
 public:
  bool runOnGraph(reel::ir::Graph& graph, reel::passes::PassContext& /*context*/) override {
    graph.attrs().set("plugin_ran", true);
    return true;
  }
};

void registerPasses(reel::passes::PassRegistrar& registrar) {
  reel::passes::PassInfo info{"test-plugin-pass", "a pass from a test plugin", "cleanup", {}, [] {
                                return std::make_unique<TestPluginPass>();
                              }};
  info.ops.push_back({"test_plugin_op", "an op from a test plugin", 1, 1, 1, false, nullptr});
  registrar.addPass(std::move(info));
}

}  // namespace

extern "C" REEL_PLUGIN_EXPORT reel_plugin_info reelGetPassPluginInfo(void) {
  return {REEL_PLUGIN_API_VERSION, "good", "0.1", registerPasses};
}
