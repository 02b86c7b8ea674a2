#include "ir/OpRegistry.h"

#include "ir/CoreOps.h"
#include "support/Diagnostics.h"

#include <llvm/ADT/StringMap.h>

#include <algorithm>
#include <memory>
#include <mutex>

namespace reel::ir {
namespace {

struct Registry {
  std::mutex mutex;
  llvm::StringMap<std::unique_ptr<OpDef>> defs;
};

Registry& registry() {
  static Registry* instance = [] {
    auto* created = new Registry;
    for (const OpDef& def : coreOpDefs()) created->defs[def.name] = std::make_unique<OpDef>(def);
    return created;
  }();
  return *instance;
}

}  // namespace

void registerOp(const OpDef& def) {
  Registry& reg = registry();
  std::lock_guard lock(reg.mutex);
  auto it = reg.defs.find(def.name);
  if (it != reg.defs.end()) {
    const OpDef& old = *it->second;
    if (old.verify != def.verify || old.minOperands != def.minOperands || old.maxOperands != def.maxOperands ||
        old.numResults != def.numResults)
      failPlain("op '{}' is registered twice with different definitions", def.name);
    return;
  }
  reg.defs[def.name] = std::make_unique<OpDef>(def);
}

const OpDef* lookupOp(llvm::StringRef name) {
  Registry& reg = registry();
  std::lock_guard lock(reg.mutex);
  auto it = reg.defs.find(name);
  return it == reg.defs.end() ? nullptr : it->second.get();
}

std::vector<const OpDef*> registeredOps() {
  Registry& reg = registry();
  std::lock_guard lock(reg.mutex);
  std::vector<const OpDef*> all;
  for (const auto& entry : reg.defs) all.push_back(entry.second.get());
  std::sort(all.begin(), all.end(), [](const OpDef* a, const OpDef* b) { return a->name < b->name; });
  return all;
}

}  // namespace reel::ir
