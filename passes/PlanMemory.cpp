/// plan-memory: static memory planning of each bucket graph's activations.
///
/// Every activation (a result of any op but `weight`, `kv_cache` and `input`: weights,
/// the KV cache and the step inputs live in buffers of their own) gets a live interval
/// [its producer, its last user] in op order, and an offset in one arena such that no two
/// values live at the same time overlap. Placement is greedy by size: the largest values
/// first, each at the lowest aligned offset that clears every already placed value whose
/// interval overlaps its own.
///
/// In-place kernels (rope, bias_add) write their result over their input when that input
/// dies at them: the two share one slot, whose life runs from the input's producer to the
/// result's last user (the result's `offsets` entry repeats the input's).
///
/// An op with a `workspace` (select-launch-config) gets arena bytes of its own while it runs,
/// at `workspace_offset`.
///
/// Sets, on each op with arena results, `offsets` (one per result; -1 for a result that
/// lives outside the arena), and on the graph `arena_bytes`. Reports the arena size and
/// the peak of simultaneously live activation bytes per bucket.

#include "passes/CostModel.h"
#include "passes/DecisionPasses.h"
#include "passes/DecisionSupport.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <numeric>

namespace reel::passes {
namespace {

constexpr const char* kPassName = "plan-memory";

/// One activation, or one op's workspace, and where it lives.
struct LiveValue {
  ir::Value* value = nullptr;  ///< null for a workspace
  ir::Op* workspaceOf = nullptr;
  size_t start = 0;   ///< position of the producer
  size_t end = 0;     ///< position of the last user (the producer if unused)
  int64_t bytes = 0;  ///< aligned size
  int64_t offset = -1;
  /// Results of in-place ops (rope, bias_add) that share this value's storage.
  std::vector<ir::Value*> aliases;
};

/// Ops whose kernels work in place: their result may take the storage of operand 0.
bool runsInPlace(const ir::Op& op) {
  return op.name() == "rope" || op.name() == "bias_add";
}

bool livesInArena(const ir::Op& producer) {
  llvm::StringRef name = producer.name();
  return name != "weight" && name != "kv_cache" && name != "input";
}

int64_t alignUp(int64_t bytes, int64_t alignment) {
  return (bytes + alignment - 1) / alignment * alignment;
}

/// The live intervals of a graph's activations, in op order; nullopt (with `problem` set)
/// if a size is unknown.
std::optional<std::vector<LiveValue>> liveValues(const ir::Graph& graph, int64_t m, int64_t alignment,
                                                 std::string& problem) {
  OpOrder order(graph);
  std::vector<LiveValue> values;
  std::map<const ir::Value*, size_t> indexOf;
  size_t position = 0;
  for (const std::unique_ptr<ir::Op>& op : graph.ops()) {
    // An in-place op whose input dies here writes its result over the input: one value
    // whose life runs from the input's producer to the result's last user.
    auto input = op->numOperands() ? indexOf.find(op->operand(0)) : indexOf.end();
    if (runsInPlace(*op) && input != indexOf.end() && op->operand(0)->uses().size() == 1 &&
        op->operand(0)->type() == op->result()->type()) {
      LiveValue& live = values[input->second];
      for (const ir::Use& use : op->result()->uses()) live.end = std::max(live.end, order.of(use.user));
      live.end = std::max(live.end, position);
      live.aliases.push_back(op->result());
      indexOf[op->result()] = input->second;
      ++position;
      continue;
    }
    if (livesInArena(*op)) {
      for (unsigned i = 0; i < op->numResults(); ++i) {
        ir::Value* value = op->result(i);
        std::optional<int64_t> bytes = value->type().isStatic() ? value->type().numBytes(m, 0) : std::nullopt;
        if (!bytes) {
          problem = fmt::format("%{} has no static size ({})", value->name(), value->type().str());
          return std::nullopt;
        }
        LiveValue live{value, nullptr, position, position, alignUp(std::max<int64_t>(*bytes, 1), alignment), -1, {}};
        for (const ir::Use& use : value->uses()) live.end = std::max(live.end, order.of(use.user));
        indexOf[value] = values.size();
        values.push_back(live);
      }
    }
    // A workspace lives while its op runs.
    if (std::optional<int64_t> workspace = op->attrs().getInt("workspace"); workspace && *workspace > 0)
      values.push_back({nullptr, op.get(), position, position, alignUp(*workspace, alignment), -1, {}});
    ++position;
  }
  return values;
}

/// Greedy-by-size placement. Overlap queries look only at values alive when the new one
/// starts and values starting during its life, so the work follows the intervals'
/// lengths, not the square of the graph.
class ArenaPlacer {
 public:
  explicit ArenaPlacer(size_t numPositions) : liveAt_(numPositions), startsAt_(numPositions) {}

  void place(std::vector<LiveValue>& values) {
    std::vector<size_t> bySize(values.size());
    std::iota(bySize.begin(), bySize.end(), 0);
    // Activations first, then the workspaces: a workspace serves one op (in a decode graph,
    // only the long-context variant's attention uses it), so the activations every step reads
    // keep the low offsets they have without one.
    std::stable_sort(bySize.begin(), bySize.end(), [&](size_t a, size_t b) {
      const bool aWorkspace = values[a].workspaceOf != nullptr, bWorkspace = values[b].workspaceOf != nullptr;
      if (aWorkspace != bWorkspace) return bWorkspace;
      return values[a].bytes > values[b].bytes;
    });
    for (size_t index : bySize) placeOne(values, index);
  }

 private:
  void placeOne(std::vector<LiveValue>& values, size_t index) {
    LiveValue& value = values[index];
    std::vector<std::pair<int64_t, int64_t>> taken;  // [offset, offset + bytes) of overlapping values
    for (size_t other : liveAt_[value.start])
      taken.emplace_back(values[other].offset, values[other].offset + values[other].bytes);
    for (size_t t = value.start + 1; t <= value.end; ++t)
      for (size_t other : startsAt_[t])
        taken.emplace_back(values[other].offset, values[other].offset + values[other].bytes);
    std::sort(taken.begin(), taken.end());
    int64_t offset = 0;
    for (const auto& [begin, end] : taken) {
      if (begin >= offset + value.bytes) break;
      offset = std::max(offset, end);
    }
    value.offset = offset;
    startsAt_[value.start].push_back(index);
    for (size_t t = value.start; t <= value.end; ++t) liveAt_[t].push_back(index);
  }

  std::vector<std::vector<size_t>> liveAt_;
  std::vector<std::vector<size_t>> startsAt_;
};

/// The largest total of bytes alive at one position.
int64_t peakLiveBytes(const std::vector<LiveValue>& values, size_t numPositions) {
  std::vector<int64_t> delta(numPositions + 1, 0);
  for (const LiveValue& value : values) {
    delta[value.start] += value.bytes;
    delta[value.end + 1] -= value.bytes;
  }
  int64_t live = 0;
  int64_t peak = 0;
  for (int64_t change : delta) peak = std::max(peak, live += change);
  return peak;
}

bool writeOffsets(const std::vector<LiveValue>& values) {
  bool changed = false;
  std::map<ir::Op*, std::vector<int64_t>> offsetsByOp;
  for (const LiveValue& value : values) {
    if (value.workspaceOf) {
      changed |= setAttr(value.workspaceOf->attrs(), "workspace_offset", value.offset);
      continue;
    }
    std::vector<ir::Value*> stored = value.aliases;
    stored.push_back(value.value);
    for (ir::Value* result : stored) {
      ir::Op* producer = result->producer();
      std::vector<int64_t>& offsets = offsetsByOp[producer];
      if (offsets.empty()) offsets.assign(producer->numResults(), -1);
      offsets[result->resultIndex()] = value.offset;
    }
  }
  for (auto& [op, offsets] : offsetsByOp) changed |= setAttr(op->attrs(), "offsets", offsets);
  return changed;
}

class PlanMemoryPass : public Pass {
 public:
  bool runOnGraph(ir::Graph& graph, PassContext& context) override {
    std::optional<BucketShape> bucket = bucketShape(graph);
    if (!bucket) return false;
    const int64_t alignment = options().getInt("alignment");
    std::string problem;
    std::optional<std::vector<LiveValue>> values = liveValues(graph, bucket->m, alignment, problem);
    if (!values) failPlain("{}: graph @{}: {}", kPassName, graph.name(), problem);
    ArenaPlacer(graph.size()).place(*values);
    ArenaSummary summary;
    for (const LiveValue& value : *values) {
      summary.arena = std::max(summary.arena, value.offset + value.bytes);
      summary.unshared += value.bytes;
      if (value.workspaceOf && value.bytes > summary.largestWorkspace) {
        summary.largestWorkspace = value.bytes;
        summary.largestWorkspaceOf = value.workspaceOf;
      }
    }
    summary.peak = peakLiveBytes(*values, graph.size());
    summary.values = values->size();
    bool changed = writeOffsets(*values);
    changed |= setAttr(graph.attrs(), "arena_bytes", summary.arena);
    explain(graph, context, summary);
    return changed;
  }

 private:
  struct ArenaSummary {
    int64_t arena = 0;
    int64_t peak = 0;
    int64_t unshared = 0;
    size_t values = 0;
    int64_t largestWorkspace = 0;  ///< an op's workspace (a dequant-hgemm's f16 weight can dominate)
    const ir::Op* largestWorkspaceOf = nullptr;
  };

  static void explain(const ir::Graph& graph, PassContext& context, const ArenaSummary& summary) {
    std::string workspace;
    if (summary.largestWorkspaceOf)
      workspace =
          fmt::format("; largest workspace {} (%{})", formatBytes(static_cast<double>(summary.largestWorkspace)),
                      summary.largestWorkspaceOf->result()->name());
    context.report[fmt::format("peak activation bytes @{}", graph.name())] =
        fmt::format("{} (arena {}, {} values, {} without reuse{})", summary.peak, summary.arena, summary.values,
                    summary.unshared, workspace);
    context.decide({kPassName, graph.name(), "arena", formatBytes(static_cast<double>(summary.arena)),
                    fmt::format("peak live {} over {} activations; {} without reuse{}",
                                formatBytes(static_cast<double>(summary.peak)), summary.values,
                                formatBytes(static_cast<double>(summary.unshared)), workspace)});
  }
};

}  // namespace

PassInfo planMemoryPassInfo() {
  return {kPassName,
          "liveness of each bucket's activations and arena offsets with reuse (offsets, arena_bytes)",
          "memory",
          {OptionSpec{"alignment", OptionKind::Int, "256", "byte alignment of every arena offset"}.atLeast(1)},
          [] { return std::make_unique<PlanMemoryPass>(); }};
}

}  // namespace reel::passes
