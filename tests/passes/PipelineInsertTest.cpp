// Passes that join the default pipeline next to a named pass (PassInfo::insertAfter,
// insertBefore), without restating it.
#include "passes/PassTable.h"
#include "passes/Pipeline.h"

#include <catch2/catch.hpp>

using namespace reel::passes;

namespace {

/// A registry holding the built-in table, as PassRegistry::global() does.
void addBuiltins(PassRegistry& registry) {
  for (const PassInfo& info : builtinPassTable()) registry.add(info);
}

class NoOpPass : public Pass {
 public:
  bool runOnGraph(reel::ir::Graph& /*graph*/, PassContext& /*context*/) override { return false; }
};

PassInfo joining(const std::string& name, const std::string& after, const std::string& before) {
  PassInfo info{name, "a test pass", "fusion", {}, [] { return std::make_unique<NoOpPass>(); }};
  info.insertAfter = after;
  info.insertBefore = before;
  return info;
}

std::string addError(PassRegistry& registry, PassInfo info) {
  try {
    registry.add(std::move(info), "plugin test");
  } catch (const reel::Error& error) {
    return error.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("the default pipeline is the built-in one until a pass joins it", "[passes][pipeline]") {
  PassRegistry registry;
  addBuiltins(registry);
  CHECK(registry.defaultPipeline() == kDefaultPipeline);
  registry.add(joining("test-unanchored", "", ""));
  CHECK(registry.defaultPipeline() == kDefaultPipeline);
}

TEST_CASE("passes join the default pipeline after or before a named pass", "[passes][pipeline]") {
  PassRegistry registry;
  addBuiltins(registry);
  registry.add(joining("test-after-qkv", "fuse-qkv", ""));
  registry.add(joining("test-before-plan", "", "plan-memory"));
  // dce runs twice: the pass joins at its first run.
  registry.add(joining("test-after-dce", "dce", ""));
  // A pass may anchor on one that joined before it.
  registry.add(joining("test-chained", "test-after-qkv", ""));
  const std::string expected =
      "specialize-buckets,canonicalize,cse,dce,test-after-dce,select-precision,fuse-qkv,test-after-qkv,test-chained,"
      "fuse-gate-up,fuse-residual-norm,select-attention,fuse-rope-attention,share-activation-quant,dce,"
      "fold-quantize,select-launch-config,test-before-plan,plan-memory";
  CHECK(registry.defaultPipeline() == expected);
  CHECK(Pipeline::parse(registry.defaultPipeline(), registry).str() == expected);
}

TEST_CASE("a pass that cannot join the default pipeline is refused naming it", "[passes][pipeline]") {
  PassRegistry registry;
  addBuiltins(registry);
  CHECK(addError(registry, joining("test-lost", "fuse-qkvv", "")) ==
        "plugin test: pass 'test-lost': insert-after 'fuse-qkvv' is not a pass of the default pipeline");
  CHECK(addError(registry, joining("test-lost", "", "nope")) ==
        "plugin test: pass 'test-lost': insert-before 'nope' is not a pass of the default pipeline");
  CHECK(addError(registry, joining("test-both", "dce", "cse")) ==
        "plugin test: pass 'test-both' sets both insertAfter and insertBefore");
  CHECK(registry.find("test-lost") == nullptr);
  CHECK(registry.defaultPipeline() == kDefaultPipeline);
}
