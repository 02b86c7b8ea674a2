#include "passes/Plugin.h"

#include "ir/OpRegistry.h"
#include "passes/PluginApi.h"

#include <catch2/catch.hpp>

using namespace reel::passes;

namespace {

std::string loadError(const std::string& path, PassRegistry& registry) {
  try {
    loadPassPlugin(path, registry);
  } catch (const reel::Error& error) {
    return error.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("a plugin registers its passes and ops", "[passes][plugin]") {
  PassRegistry registry;
  LoadedPlugin plugin = loadPassPlugin(REEL_TEST_PLUGIN_GOOD, registry);
  CHECK(plugin.name == "good");
  CHECK(plugin.version == "0.1");
  CHECK(plugin.passes == std::vector<std::string>{"test-plugin-pass"});
  const RegisteredPass* pass = registry.find("test-plugin-pass");
  REQUIRE(pass);
  CHECK(pass->origin == std::string("plugin good (") + REEL_TEST_PLUGIN_GOOD + ")");
  CHECK(reel::ir::lookupOp("test_plugin_op") != nullptr);
  // Loading the same file again changes nothing.
  CHECK(loadPassPlugin(REEL_TEST_PLUGIN_GOOD, registry).passes == plugin.passes);
  CHECK(registry.all().size() == 1);
}

TEST_CASE("plugin errors name the file", "[passes][plugin]") {
  PassRegistry registry;
  std::string wrong = REEL_TEST_PLUGIN_WRONG_VERSION;
  CHECK(loadError(wrong, registry) ==
        "--load-pass-plugin " + wrong + ": plugin 'from-the-future' was built for reel plugin API version " +
            std::to_string(REEL_PLUGIN_API_VERSION + 998) + ", but this reel has version " +
            std::to_string(REEL_PLUGIN_API_VERSION) + "; rebuild the plugin against this reel");
  std::string noEntry = REEL_TEST_PLUGIN_NO_ENTRY_POINT;
  CHECK(loadError(noEntry, registry) ==
        "--load-pass-plugin " + noEntry + ": not a reel pass plugin: it does not export 'reelGetPassPluginInfo'");
  CHECK(loadError("/nonexistent/plugin.so", registry) == "--load-pass-plugin /nonexistent/plugin.so: no such file");
  std::string notElf = REEL_SOURCE_DIR "/tests/passes/CMakeLists.txt";
  CHECK(loadError(notElf, registry).rfind("--load-pass-plugin " + notElf + ": cannot load the plugin: ", 0) == 0);

  PassRegistry withDce;
  withDce.add({"dce", "", "cleanup", {}, [] { return std::unique_ptr<Pass>(); }});
  std::string duplicate = REEL_TEST_PLUGIN_DUPLICATE;
  CHECK(loadError(duplicate, withDce) == "--load-pass-plugin " + duplicate +
                                             ": plugin 'duplicate' failed to register: plugin duplicate (" + duplicate +
                                             "): pass 'dce' is already registered (by built-in)");
}
