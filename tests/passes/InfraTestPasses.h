#pragma once
// Small passes and IR for the pass-manager tests (not part of reel).
#include "ir/Parser.h"
#include "passes/PassTable.h"

#include <memory>

namespace reel::passes::testing {

/// A two-op module: an input and an output of it.
inline std::unique_ptr<ir::Module> tinyModule() {
  return ir::parseModule(
      "module @t\n"
      "\n"
      "graph @g {\n"
      "  %x = input {name = \"x\"} : i32[M]\n"
      "  output %x {name = \"y\"}\n"
      "}\n",
      "tiny.ir");
}

/// Sets the graph attribute `marked = <value option>`; a change only the first time.
class MarkPass : public Pass {
 public:
  bool runOnGraph(ir::Graph& graph, PassContext& /*context*/) override {
    int64_t value = options().getInt("value");
    if (graph.attrs().getInt("marked") == value) return false;
    graph.attrs().set("marked", value);
    return true;
  }
};

/// Removes the `name` of every output: the verifier rejects the result.
class BreakPass : public Pass {
 public:
  explicit BreakPass(bool reportChange) : reportChange_(reportChange) {}
  bool runOnGraph(ir::Graph& graph, PassContext& /*context*/) override {
    for (const std::unique_ptr<ir::Op>& op : graph.ops())
      if (op->name() == "output") op->attrs().erase("name");
    return reportChange_;
  }

 private:
  bool reportChange_;
};

class ThrowPass : public Pass {
 public:
  bool runOnModule(ir::Module& /*module*/, PassContext& /*context*/) override { throw Error("boom"); }
};

/// A registry with: mark{value=INT}, break, break-quietly (reports no change), throw,
/// fuse-gate-up{max-m=INT,min-m=INT,fp8=BOOL,kernel=STRING,buckets=LIST,scale=FLOAT}.
inline void addTestPasses(PassRegistry& registry) {
  registry.add({"mark", "set marked = value", "cleanup", {{"value", OptionKind::Int, "1", "the mark"}}, [] {
                  return std::make_unique<MarkPass>();
                }});
  registry.add({"break", "drop output names", "cleanup", {}, [] { return std::make_unique<BreakPass>(true); }});
  registry.add({"break-quietly", "drop output names, report no change", "cleanup", {}, [] {
                  return std::make_unique<BreakPass>(false);
                }});
  registry.add({"throw", "throw", "cleanup", {}, [] { return std::make_unique<ThrowPass>(); }});
  registry.add({"fuse-gate-up",
                "options of every kind",
                "fusion",
                {{"max-m", OptionKind::Int, "", "from the profile"},
                 {"min-m", OptionKind::Int, "2", ""},
                 {"fp8", OptionKind::Bool, "false", ""},
                 {"kernel", OptionKind::String, "dp4a", ""},
                 {"buckets", OptionKind::IntList, "[1,2]", ""},
                 {"scale", OptionKind::Float, "0.5", ""}},
                [] { return std::make_unique<MarkPass>(); }});
}

}  // namespace reel::passes::testing
