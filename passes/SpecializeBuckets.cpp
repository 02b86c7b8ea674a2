// specialize-buckets: the generic step (graph @step, generic in M) becomes one graph per
// decode bucket, @decode.m1, @decode.m2, ..., plus @prefill (the prefill chunk) and any
// smaller prefill buckets, @prefill.m64, ..., with M replaced by the bucket in every type and
// the graph attributes {phase = "decode" | "prefill", bucket = N}.
// A module without @step (already specialised, or hand-written bucket graphs) is left as is.
#include "passes/PassTable.h"
#include "support/Diagnostics.h"

#include <fmt/format.h>

#include <algorithm>

namespace reel::passes {
namespace {

/// What to specialise @step into.
struct Specialisation {
  std::vector<int64_t> buckets;
  int64_t prefillTokens = 0;  ///< 0: no prefill graph
  std::vector<int64_t> prefillBuckets;  ///< smaller prefill graphs, increasing
};

void checkBuckets(const std::vector<int64_t>& buckets) {
  if (buckets.empty()) failPlain("no buckets to specialise for");
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (buckets[i] <= 0) failPlain("bucket sizes must be positive, got {}", buckets[i]);
    if (i > 0 && buckets[i] <= buckets[i - 1])
      failPlain("bucket sizes must be increasing, got {} after {}", buckets[i], buckets[i - 1]);
  }
}

/// Smaller prefill graphs need a chunk above them and increase: a step of fewer prompt rows
/// takes the smallest that holds them.
void checkPrefillBuckets(const std::vector<int64_t>& buckets, int64_t prefillTokens) {
  if (buckets.empty()) return;
  if (prefillTokens <= 0) failPlain("prefill buckets {} need a prefill graph (prefill-tokens > 0)", buckets.front());
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (buckets[i] <= 0) failPlain("prefill bucket sizes must be positive, got {}", buckets[i]);
    if (i > 0 && buckets[i] <= buckets[i - 1])
      failPlain("prefill bucket sizes must be increasing, got {} after {}", buckets[i], buckets[i - 1]);
    if (buckets[i] >= prefillTokens)
      failPlain("prefill bucket {} is not below the prefill chunk of {} rows (prefill-tokens)", buckets[i],
                prefillTokens);
  }
}

/// A copy of `step` named `name` with M = `m` and the phase/bucket attributes first.
std::unique_ptr<ir::Graph> specialise(const ir::Graph& step, const std::string& name, const char* phase, int64_t m) {
  std::unique_ptr<ir::Graph> graph = step.clone(name);
  for (const std::unique_ptr<ir::Op>& op : graph->ops())
    for (unsigned i = 0; i < op->numResults(); ++i) op->result(i)->setType(op->result(i)->type().withM(m));
  ir::AttrDict attrs;
  attrs.set("phase", std::string(phase));
  attrs.set("bucket", m);
  for (const ir::AttrDict::Entry& entry : step.attrs().entries())
    if (entry.first != "phase" && entry.first != "bucket") attrs.set(entry.first, entry.second);
  graph->attrs() = std::move(attrs);
  return graph;
}

class SpecializeBucketsPass : public Pass {
 public:
  bool runOnModule(ir::Module& module, PassContext& context) override {
    auto stepIt = std::find_if(module.graphs.begin(), module.graphs.end(),
                               [](const std::unique_ptr<ir::Graph>& graph) { return graph->name() == "step"; });
    if (stepIt == module.graphs.end()) return false;
    Specialisation plan = planFor(context);

    std::vector<std::unique_ptr<ir::Graph>> graphs;
    for (int64_t bucket : plan.buckets)
      graphs.push_back(specialise(**stepIt, fmt::format("decode.m{}", bucket), "decode", bucket));
    for (int64_t rows : plan.prefillBuckets)
      graphs.push_back(specialise(**stepIt, fmt::format("prefill.m{}", rows), "prefill", rows));
    if (plan.prefillTokens > 0) graphs.push_back(specialise(**stepIt, "prefill", "prefill", plan.prefillTokens));
    for (const std::unique_ptr<ir::Graph>& graph : graphs)
      if (module.findGraph(graph->name())) failPlain("graph @{} already exists next to @step", graph->name());

    size_t position = static_cast<size_t>(stepIt - module.graphs.begin());
    module.graphs.erase(stepIt);
    module.graphs.insert(module.graphs.begin() + static_cast<std::ptrdiff_t>(position),
                         std::make_move_iterator(graphs.begin()), std::make_move_iterator(graphs.end()));
    return true;
  }

 private:
  /// The buckets and prefill size: the options when given, else the compile context's; the
  /// prefill size falls back to the chunk `reel tune` measured fastest (the profile's [measured]
  /// prefill_tokens), then to kDefaultPrefillTokens. The context is updated so that later passes
  /// and reports see what was built.
  Specialisation planFor(PassContext& context) const {
    Specialisation plan;
    plan.buckets = options().given("buckets") ? options().getIntList("buckets") : context.buckets;
    checkBuckets(plan.buckets);
    std::string why;
    if (options().given("prefill-tokens")) {
      plan.prefillTokens = options().getIntOr("prefill-tokens", 0);
      why = "the option prefill-tokens";
    } else if (context.prefillTokens) {
      plan.prefillTokens = *context.prefillTokens;
      why = "the compile's --prefill-tokens";
    } else if (const int64_t measured = context.profile.measured.prefillTokens; measured > 0) {
      plan.prefillTokens = measured;
      why = fmt::format("the fastest chunk reel tune measured (profile {}, [measured] prefill_tokens)",
                        context.profile.name);
    } else {
      plan.prefillTokens = kDefaultPrefillTokens;
      why = "the default (no measured prefill_tokens in the profile)";
    }
    if (plan.prefillTokens < 0)
      failPlain("prefill-tokens must be 0 (no prefill graph) or positive, got {}", plan.prefillTokens);
    if (plan.prefillTokens > 0)
      context.decide({"specialize-buckets", "prefill", "prefill chunk", fmt::format("M={}", plan.prefillTokens), why});
    plan.prefillBuckets =
        options().given("prefill-buckets") ? options().getIntList("prefill-buckets") : context.prefillBuckets;
    checkPrefillBuckets(plan.prefillBuckets, plan.prefillTokens);
    if (!plan.prefillBuckets.empty())
      context.decide(
          {"specialize-buckets", "prefill", "smaller prefill buckets",
           fmt::format("M={}", fmt::join(plan.prefillBuckets, ",")),
           options().given("prefill-buckets") ? "the option prefill-buckets" : "the compile's --prefill-buckets"});
    context.buckets = plan.buckets;
    context.prefillTokens = plan.prefillTokens;
    context.prefillBuckets = plan.prefillBuckets;
    return plan;
  }
};

}  // namespace

std::unique_ptr<Pass> createSpecializeBucketsPass() {
  return std::make_unique<SpecializeBucketsPass>();
}

}  // namespace reel::passes
