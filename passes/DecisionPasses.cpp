#include "passes/DecisionPasses.h"

#include "passes/PassTable.h"
#include "support/Diagnostics.h"

namespace reel::passes {

std::vector<PassInfo> decisionPassInfos() {
  return {selectPrecisionPassInfo(),      fuseQkvPassInfo(),         fuseGateUpPassInfo(),
          fuseResidualNormPassInfo(),     selectAttentionPassInfo(), fuseRopeAttentionPassInfo(),
          shareActivationQuantPassInfo(), foldQuantizePassInfo(),    selectLaunchConfigPassInfo(),
          planMemoryPassInfo()};
}

std::unique_ptr<Pass> createDecisionPass(const std::string& name, const std::map<std::string, std::string>& given) {
  registerBuiltinPasses();  // the ops the pass creates or reads, from the pass table
  for (const PassInfo& info : decisionPassInfos()) {
    if (info.name != name) continue;
    std::unique_ptr<Pass> pass = info.create();
    pass->setOptions(PassOptions(info.options, given));
    return pass;
  }
  failPlain("unknown decision pass '{}'", name);
}

}  // namespace reel::passes
