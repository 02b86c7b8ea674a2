#include "passes/Plugin.h"

#include "passes/PluginApi.h"
#include "support/Diagnostics.h"

#include <dlfcn.h>

#include <filesystem>
#include <map>
#include <utility>

namespace reel::passes {
namespace {

/// Adds the plugin's passes to a registry, remembering their names.
class RecordingRegistrar : public PassRegistrar {
 public:
  RecordingRegistrar(PassRegistry& registry, std::string origin) : registry_(registry), origin_(std::move(origin)) {}
  void addPass(PassInfo info) override {
    std::string name = info.name;
    registry_.add(std::move(info), origin_);
    added_.push_back(std::move(name));
  }
  [[nodiscard]] const std::vector<std::string>& added() const { return added_; }

 private:
  PassRegistry& registry_;
  std::string origin_;
  std::vector<std::string> added_;
};

/// Plugins loaded so far, by (registry, canonical path).
std::map<std::pair<const PassRegistry*, std::string>, LoadedPlugin>& loadedPlugins() {
  static std::map<std::pair<const PassRegistry*, std::string>, LoadedPlugin> loaded;
  return loaded;
}

std::string canonicalPath(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) failPlain("--load-pass-plugin {}: no such file", path);
  std::filesystem::path canonical = std::filesystem::canonical(path, error);
  return error ? path : canonical.string();
}

using EntryPoint = reel_plugin_info (*)();

EntryPoint openPlugin(const std::string& path, const std::string& canonical) {
  void* handle = dlopen(canonical.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    failPlain("--load-pass-plugin {}: cannot load the plugin: {}", path, why ? why : "unknown dlopen error");
  }
  dlerror();
  void* symbol = dlsym(handle, kPluginEntryPoint);
  if (!symbol) {
    dlclose(handle);
    failPlain("--load-pass-plugin {}: not a reel pass plugin: it does not export '{}'", path, kPluginEntryPoint);
  }
  // The handle is kept open for good: the plugin's passes run after this returns.
  return reinterpret_cast<EntryPoint>(symbol);
}

}  // namespace

LoadedPlugin loadPassPlugin(const std::string& path, PassRegistry& registry) {
  std::string canonical = canonicalPath(path);
  auto key = std::make_pair(&registry, canonical);
  if (auto it = loadedPlugins().find(key); it != loadedPlugins().end()) return it->second;

  reel_plugin_info info = openPlugin(path, canonical)();
  std::string name = info.plugin_name ? info.plugin_name : "<unnamed>";
  if (info.api_version != REEL_PLUGIN_API_VERSION)
    failPlain(
        "--load-pass-plugin {}: plugin '{}' was built for reel plugin API version {}, but this reel has version {}; "
        "rebuild the plugin against this reel",
        path, name, info.api_version, REEL_PLUGIN_API_VERSION);
  if (!info.register_passes) failPlain("--load-pass-plugin {}: plugin '{}' has no registration callback", path, name);

  RecordingRegistrar registrar(registry, "plugin " + name + " (" + path + ")");
  try {
    info.register_passes(registrar);
  } catch (const std::exception& error) {
    failPlain("--load-pass-plugin {}: plugin '{}' failed to register: {}", path, name, error.what());
  }
  LoadedPlugin loaded{path, name, info.plugin_version ? info.plugin_version : "", registrar.added()};
  loadedPlugins().emplace(key, loaded);
  return loaded;
}

}  // namespace reel::passes
