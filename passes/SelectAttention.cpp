/// select-attention: the attention strategy of each bucket graph.
///
/// The rule (docs/design.md, "Decision rules"): flash-decoding when the longest KV length
/// exceeds a threshold (1024 by default), decode attention otherwise, and the fused
/// prefill kernel when prefilling. Decided per bucket graph:
///   - prefill graphs: `strategy = "flash-prefill"` where the tensor-core kernel has the head
///     dim (kernels/AttentionPrefillShape.h: 32, 64, 128) and the option `flash-prefill` is on
///     (the default): tiles of 64 query rows against tiles of the cache, each K and V row read
///     once per tile instead of once per row; else `strategy = "prefill"` (the decode kernel
///     with per-row lengths). Either way each row of the chunk attends causally to its
///     sequence's cache, the chunk's own keys included;
///   - decode graphs: `strategy = "decode"` (one kernel for any M: each row attends to its
///     own sequence's cache up to its KV length);
///   - the long-context class: where the model can attend to more than
///     `flash-min-context` keys, `long_context_strategy = "flash-decoding"`, `splits = S`
///     and `context_threshold = T`, with S the cost model's best split count at a
///     reference context of 4 x T (capped by the model's context and `max-splits`). The
///     runtime captures the bucket twice and replays the long-context graph when the
///     step's longest KV length exceeds T (docs/architecture.md, "Context classes").
///     When one split is already best (the batched grid fills the GPU) the long class is
///     left out.
/// The graph gets `context_threshold` too when it has a long-context class.

#include "ir/DecisionAttrs.h"
#include "kernels/AttentionPrefillShape.h"
#include "passes/CostModel.h"
#include "passes/DecisionPasses.h"
#include "passes/DecisionSupport.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

namespace reel::passes {
namespace {

constexpr const char* kPassName = "select-attention";
constexpr int64_t kReferenceContextFactor = 4;

/// What decides one graph's attention: the bucket and the limits on the context.
struct AttentionPlanInput {
  BucketShape bucket;
  int64_t threshold = 0;  ///< flash-min-context, or the measured threshold
  std::string thresholdReason;
  int64_t maxSplits = 1;
  int64_t modelContext = 0;  ///< the module's `context`, 0 if unknown
  bool flashPrefill = true;  ///< the tensor-core prefill kernel where it has the head dim
};

/// The strategies chosen for one attention op.
struct AttentionChoice {
  std::string strategy;
  std::string strategyReason;
  int64_t splits = 1;  ///< > 1: flash-decoding for the long-context class
  std::string longReason;
};

AttentionShape shapeOf(const ir::Op& attention, int64_t rows) {
  AttentionShape shape;
  shape.rows = rows;
  shape.heads = attention.attrs().getInt("n_heads").value_or(1);
  shape.kvHeads = attention.attrs().getInt("n_kv_heads").value_or(1);
  shape.headDim = attention.attrs().getInt("head_dim").value_or(1);
  return shape;
}

std::string headsText(const AttentionShape& shape) {
  return fmt::format("{} heads, {} kv heads x {}", shape.heads, shape.kvHeads, shape.headDim);
}

/// The longest context this attention can read: the model's, or its sliding window.
int64_t longestContext(const ir::Op& attention, int64_t modelContext) {
  int64_t longest = modelContext > 0 ? modelContext : INT64_MAX;
  if (std::optional<int64_t> window = attention.attrs().getInt("window")) longest = std::min(longest, *window);
  return longest;
}

/// The prefill kernel reads, for each row, its causal prefix of the cache: on average half
/// the chunk (a prompt's first chunk; later chunks read more). The tensor-core kernel reads
/// each K and V row once per tile of 64 rows of a query head, and replaces it wherever it has
/// the head dim (unless turned off): the decode kernel's figure is what it replaces.
void choosePrefill(const CostModel& model, AttentionShape shape, bool flashPrefill, AttentionChoice& choice) {
  shape.context = std::max<int64_t>(shape.rows / 2, 1);
  const Estimate estimate = model.decodeAttention(shape, 1);
  const std::string figures = fmt::format("prefill {} (M={}, mean causal context {}, {})", estimate.str(), shape.rows,
                                          shape.context, headsText(shape));
  const bool hasKernel = kernels::flashPrefillSupportsHeadDim(shape.headDim);
  if (flashPrefill && hasKernel) {
    choice.strategy = ir::attentionStrategyName(ir::AttentionStrategy::FlashPrefill);
    choice.strategyReason = fmt::format("tensor-core tiles of {} query rows, K and V read once per tile; replaces {}",
                                        kernels::kFlashPrefillRows, figures);
    return;
  }
  choice.strategy = ir::attentionStrategyName(ir::AttentionStrategy::Prefill);
  choice.strategyReason = fmt::format(
      "{}{}", figures,
      !flashPrefill ? "; flash-prefill off"
                    : fmt::format("; no flash-prefill kernel for head_dim {} (32, 64, 128)", shape.headDim));
}

void chooseDecode(const CostModel& model, AttentionShape shape, int64_t threshold, AttentionChoice& choice) {
  shape.context = threshold;
  Estimate estimate = model.decodeAttention(shape, 1);
  choice.strategy = ir::attentionStrategyName(ir::AttentionStrategy::Decode);
  choice.strategyReason =
      fmt::format("decode {} at ctx {} (M={}; {})", estimate.detail(), threshold, shape.rows, headsText(shape));
}

void chooseLongContext(const CostModel& model, AttentionShape shape, const AttentionPlanInput& input, int64_t longest,
                       AttentionChoice& choice) {
  if (longest <= input.threshold) {
    choice.longReason = fmt::format("no long-context class: context <= {} keys ({})", longest, input.thresholdReason);
    return;
  }
  shape.context = std::min(longest, kReferenceContextFactor * input.threshold);
  std::vector<std::pair<int64_t, Estimate>> tried;
  for (int64_t splits = 1; splits <= input.maxSplits; splits *= 2)
    tried.emplace_back(splits, model.decodeAttention(shape, splits));
  auto best = std::min_element(tried.begin(), tried.end(),
                               [](const auto& a, const auto& b) { return a.second.us < b.second.us; });
  choice.splits = best->first;
  std::string figures;
  for (const auto& [splits, estimate] : tried)
    figures += fmt::format("{}{} {}", figures.empty() ? "" : " vs ",
                           splits == 1 ? std::string("decode") : fmt::format("splits={}", splits), estimate.str());
  const bool measured = std::all_of(tried.begin(), tried.end(), [](const auto& t) { return t.second.measured; });
  choice.longReason =
      fmt::format("above {} keys ({}), at ctx {}{}: {} (M={}, {})", input.threshold, input.thresholdReason,
                  shape.context, measured ? " (measured)" : "", figures, shape.rows, headsText(shape));
}

AttentionChoice chooseFor(const ir::Op& attention, const CostModel& model, const AttentionPlanInput& input) {
  AttentionChoice choice;
  AttentionShape shape = shapeOf(attention, input.bucket.m);
  if (input.bucket.prefill) {
    choosePrefill(model, shape, input.flashPrefill, choice);
    return choice;
  }
  chooseDecode(model, shape, input.threshold, choice);
  if (input.maxSplits > 1)
    chooseLongContext(model, shape, input, longestContext(attention, input.modelContext), choice);
  else
    choice.longReason = "flash-decoding off (max-splits=1)";
  return choice;
}

/// The threshold the profile's measurements give the graph's decode attention (its first
/// attention op's shape), if they cover it.
std::optional<MeasuredThreshold> measuredThreshold(const ir::Graph& graph, const BucketShape& bucket,
                                                   const GpuProfile& profile) {
  if (bucket.prefill) return std::nullopt;
  for (const std::unique_ptr<ir::Op>& op : graph.ops()) {
    if (op->name() != "attention") continue;
    const AttentionShape shape = shapeOf(*op, bucket.m);
    return profile.measured.flashDecodingThreshold({shape.rows, shape.heads, shape.kvHeads, shape.headDim, 0});
  }
  return std::nullopt;
}

bool applyChoice(ir::Op& attention, const AttentionChoice& choice, int64_t threshold) {
  ir::AttrDict& attrs = attention.attrs();
  bool changed = setAttr(attrs, "strategy", choice.strategy);
  if (choice.splits > 1) {
    changed |= setAttr(attrs, "long_context_strategy", std::string("flash-decoding"));
    changed |= setAttr(attrs, "splits", choice.splits);
    changed |= setAttr(attrs, "context_threshold", threshold);
    return changed;
  }
  for (const char* name : {"long_context_strategy", "splits", "context_threshold"}) changed |= attrs.erase(name);
  return changed;
}

class SelectAttentionPass : public Pass {
 public:
  bool runOnModule(ir::Module& module, PassContext& context) override {
    CostModel model(context.profile);
    bool changed = false;
    for (const std::unique_ptr<ir::Graph>& graph : module.graphs) {
      std::optional<BucketShape> bucket = bucketShape(*graph);
      if (!bucket) continue;
      AttentionPlanInput input;
      input.bucket = *bucket;
      input.threshold = context.profile.flashDecodingMinContext;
      input.thresholdReason = fmt::format("flash-min-context {}", input.threshold);
      if (options().given("flash-min-context")) {
        input.threshold = options().getInt("flash-min-context");
        input.thresholdReason = fmt::format("flash-min-context {}", input.threshold);
      } else if (std::optional<MeasuredThreshold> measured = measuredThreshold(*graph, *bucket, context.profile)) {
        input.threshold = measured->context;
        input.thresholdReason = measured->reason;
      }
      input.maxSplits = options().getInt("max-splits");
      input.modelContext = module.attrs.getInt("context").value_or(0);
      input.flashPrefill = options().getBool("flash-prefill");
      changed |= runOnBucket(*graph, model, input, context);
    }
    return changed;
  }

 private:
  bool runOnBucket(ir::Graph& graph, const CostModel& model, const AttentionPlanInput& input, PassContext& context) {
    DecisionGroups decisions(kPassName, graph.name());
    bool changed = false;
    bool anyLongClass = false;
    for (const std::unique_ptr<ir::Op>& op : graph.ops()) {
      if (op->name() != "attention") continue;
      AttentionChoice choice = chooseFor(*op, model, input);
      changed |= applyChoice(*op, choice, input.threshold);
      anyLongClass |= choice.splits > 1;
      decisions.add(op->result()->name(), choice.strategy, choice.strategyReason);
      if (!input.bucket.prefill)
        decisions.add(op->result()->name(),
                      choice.splits > 1 ? fmt::format("flash-decoding splits={}", choice.splits) : "no flash-decoding",
                      choice.longReason);
    }
    if (anyLongClass)
      changed |= setAttr(graph.attrs(), "context_threshold", input.threshold);
    else
      changed |= graph.attrs().erase("context_threshold");
    decisions.flush(context);
    return changed;
  }
};

}  // namespace

PassInfo selectAttentionPassInfo() {
  OptionSpec maxSplits{"max-splits", OptionKind::Int, "32", "most KV splits flash-decoding may use; 1 turns it off"};
  maxSplits.least = 1;
  return {kPassName,
          "attention strategy per bucket: decode, flash-decoding above a context threshold, "
          "flash-prefill (tensor cores) or prefill",
          "attention",
          {{"flash-min-context", OptionKind::Int, "",
            "flash-decoding when the longest KV length exceeds this (default: the GPU profile's, 1024)"},
           maxSplits,
           {"flash-prefill", OptionKind::Bool, "true",
            "prefill attention on tensor cores where the kernel has the head dim (32, 64, 128); false: the "
            "decode kernel with per-row lengths"}},
          [] { return std::make_unique<SelectAttentionPass>(); }};
}

}  // namespace reel::passes
