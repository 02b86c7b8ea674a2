// A shared library that is not a reel pass plugin: it lacks reelGetPassPluginInfo.
extern "C" __attribute__((visibility("default"))) int notAReelPlugin(void) {
  return 42;
}
