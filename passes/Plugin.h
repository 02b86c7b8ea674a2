#pragma once
/// \file
/// Loading pass plugins (see PluginApi.h for what a plugin exports).

#include "passes/PassTable.h"

#include <string>
#include <vector>

namespace reel::passes {

/// A plugin that was loaded and registered.
struct LoadedPlugin {
  std::string path;
  std::string name;
  std::string version;
  std::vector<std::string> passes;  ///< names of the passes it added
};

/// The symbol every plugin exports.
inline constexpr const char* kPluginEntryPoint = "reelGetPassPluginInfo";

/// Opens the shared library at `path`, checks its API version and registers its passes in
/// `registry`. The library stays loaded for the life of the process. Loading the same file
/// twice registers it once. Throws reel::Error naming the file: cannot be opened, has no
/// entry point, was built for another API version (both versions named), or adds a pass
/// whose name is taken.
LoadedPlugin loadPassPlugin(const std::string& path, PassRegistry& registry = PassRegistry::global());

}  // namespace reel::passes
