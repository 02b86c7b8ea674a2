// CPU test of the launch registry: its ids are the catalog's, each bound to a launcher of the
// entry's typed signature. Looking launchers up touches no device.
#include "kernels/KernelCatalog.h"
#include "kernels/KernelRegistry.h"

#include <catch2/catch.hpp>

#include <set>
#include <string>

using namespace reel::kernels;

TEST_CASE("the registry binds a launcher of the entry's signature to every catalog id, and nothing else",
          "[registry]") {
  std::set<std::string> catalogIds;
  for (const KernelInfo& k : kernelCatalog()) {
    INFO(k.id);
    catalogIds.insert(k.id);
    const Launcher launcher = findLauncher(k.id);
    CHECK(launcher);
    CHECK(launcher.info == &k);
  }
  const std::vector<std::string> registered = registeredKernelIds();
  CHECK(std::set<std::string>(registered.begin(), registered.end()) == catalogIds);
  CHECK(registered.size() == catalogIds.size());
  CHECK_FALSE(findLauncher("nope"));
  // Not in the catalog: no plan launches the GEMV's SwiGLU epilogue.
  CHECK_FALSE(findLauncher("gemv_dp4a_swiglu_q4_k"));
}
