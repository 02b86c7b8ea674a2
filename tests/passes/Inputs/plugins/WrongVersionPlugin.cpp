// A test plugin built for another plugin API version.
#include "passes/PluginApi.h"

extern "C" REEL_PLUGIN_EXPORT reel_plugin_info reelGetPassPluginInfo(void) {
  return {REEL_PLUGIN_API_VERSION + 998, "from-the-future", "9.9", nullptr};
}
