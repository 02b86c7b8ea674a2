/// select-launch-config: the launch decisions of each bucket graph that the kernel family
/// alone does not fix, recorded as attributes so that codegen only translates them:
///
///   on a dp4a matmul, matmul_qkv or matmul_gate_up
///     row_chunk = R    activation rows per launch; a bucket of M > R rows runs ceil(M / R)
///                      launches, each over all the weights (the GEMV's largest M is 8)
///     stacks = [S...]  matmul, matmul_qkv: consecutive weights per launch (q, k, v of one
///                      qtype: [3]; Q4_K q, k with a Q6_K v: [3] as a mixed stack)
///     row_sets = [N...] weight rows each lane streams, one per launch of the op's weights
///   on an fp8 or dequant-hgemm matmul, and an attention with a flash-decoding variant
///     workspace = B    bytes its launches use for the op alone (E4M3 activations and their
///                      scale; the weight dequantized to f16; the splits' partial results),
///                      placed by plan-memory
///   on a weight
///     layout = "gguf" | "row-planar" | "fp8-per-row" | "f16"
///                      how the GPU holds the tensor for the kernel that reads it; a tensor
///                      read in two layouts gets a weight op per layout
///
/// The policy (LaunchPolicy.h) is the cost model's too; the kernel table says what the
/// kernels support, and lowering refuses a recorded choice they do not.

#include "ir/DecisionAttrs.h"
#include "passes/DecisionPasses.h"
#include "passes/DecisionSupport.h"
#include "passes/FusedOps.h"
#include "passes/LaunchPolicy.h"
#include "support/FormatBytes.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace reel::passes {
namespace {

constexpr const char* kPassName = "select-launch-config";

using ir::WeightLayout;

std::string listText(const std::vector<int64_t>& values) {
  std::string text;
  for (int64_t v : values) text += (text.empty() ? "" : ", ") + std::to_string(v);
  return "[" + text + "]";
}

bool isMatmulLike(const ir::Op& op) {
  const llvm::StringRef name = op.name();
  return name == "matmul" || name == fused_ops::kMatmulQkv || name == fused_ops::kMatmulGateUp;
}

/// The layout the kernel family of `op` reads its weight operand `index` in (the schema's rule,
/// which the verifier holds weight ops to).
WeightLayout layoutRead(const ir::Op& op, unsigned index) {
  const std::optional<ir::MatmulKernel> kernel = ir::parseMatmulKernel(op.attrs().getString("kernel").value_or(""));
  if (!kernel || index == 0) return WeightLayout::Gguf;
  return ir::matmulWeightLayout(*kernel, op.operand(index)->type().elem);
}

std::string layoutReason(const ir::Op& reader, WeightLayout layout, ir::ElemType type) {
  const std::string typeName = ir::elemTypeName(type).str();
  switch (layout) {
    case WeightLayout::RowPlanar:
      return fmt::format("{} reads {} rows repacked into field planes (aligned loads of each field)",
                         reader.attrs().getString("kernel").value_or(""), typeName);
    case WeightLayout::F16:
      return fmt::format("hgemm reads an f16 copy of the {} weight", typeName);
    case WeightLayout::Fp8PerRow:
      return fmt::format("fp8 reads an E4M3 copy of the {} weight with a scale per row", typeName);
    case WeightLayout::Gguf:
    case WeightLayout::F32:
      break;
  }
  return fmt::format("{} reads {} blocks as the file stores them", reader.name().str(), typeName);
}

class SelectLaunchConfigPass : public Pass {
 public:
  bool runOnGraph(ir::Graph& graph, PassContext& context) override {
    const std::optional<BucketShape> bucket = bucketShape(graph);
    if (!bucket) return false;
    DecisionGroups decisions(kPassName, graph.name());
    bool changed = false;
    std::map<std::pair<ir::Op*, WeightLayout>, ir::Op*> copies;
    for (ir::Op* op : graph.opsSnapshot()) {
      for (unsigned i = 0; i < op->numOperands(); ++i) changed |= placeWeight(graph, *op, i, copies, decisions);
      if (isMatmulLike(*op) && op->attrs().getString("kernel") == std::optional<std::string>("dp4a"))
        changed |= configureGemv(*op, *bucket, context.profile.measured, decisions);
      changed |= sizeWorkspace(*op, *bucket, decisions);
    }
    decisions.flush(context);
    return changed;
  }

 private:
  /// Gives the weight read as operand `index` of `reader` the layout its kernel reads; a
  /// weight op already laid out otherwise for another reader is copied.
  static bool placeWeight(ir::Graph& graph, ir::Op& reader, unsigned index,
                          std::map<std::pair<ir::Op*, WeightLayout>, ir::Op*>& copies, DecisionGroups& decisions) {
    ir::Value* value = reader.operand(index);
    ir::Op* weight = value->producer();
    if (weight->name() != "weight") return false;
    const WeightLayout layout = layoutRead(reader, index);
    const std::string layoutName = ir::weightLayoutName(layout);
    const std::optional<std::string> current = weight->attrs().getString("layout");
    if (current == layoutName) return false;
    if (!current) {
      weight->attrs().set("layout", layoutName);
      decisions.add(value->name(), layoutName, layoutReason(reader, layout, value->type().elem));
      return true;
    }
    auto [it, inserted] = copies.try_emplace({weight, layout}, nullptr);
    if (inserted) {
      ir::OpSpec spec;
      spec.name = "weight";
      std::string suffix = layoutName;
      std::replace(suffix.begin(), suffix.end(), '-', '_');
      spec.resultNames = {value->name() + "." + suffix};
      spec.resultTypes = {value->type()};
      spec.attrs = weight->attrs();
      spec.attrs.set("layout", layoutName);
      spec.layer = weight->layer();
      spec.loc = weight->loc();
      it->second = graph.create(spec, &reader);
      decisions.add(value->name(), layoutName + " copy",
                    layoutReason(reader, layout, value->type().elem) +
                        fmt::format("; %{} is also read as {}", value->name(), *current));
    }
    reader.setOperand(index, it->second->result());
    return true;
  }

  /// row_chunk, stacks and row_sets of a DP4A matmul.
  static bool configureGemv(ir::Op& op, const BucketShape& bucket, const Measurements& measured,
                            DecisionGroups& decisions) {
    const bool gateUp = op.name() == fused_ops::kMatmulGateUp;
    const int64_t chunk = gemvRowChunk(bucket.m);
    const int64_t launches = (bucket.m + chunk - 1) / chunk;
    const std::string subject = op.result()->name();
    bool changed = setAttr(op.attrs(), "row_chunk", chunk);
    decisions.add(subject, fmt::format("row_chunk {}", chunk),
                  launches == 1 ? fmt::format("the GEMV takes all {} rows in one pass over the weights", bucket.m)
                                : fmt::format("M={} is over the GEMV's {} rows: {} passes over the weights", bucket.m,
                                              kernels::kGemvMaxM, launches));
    std::vector<StackWeight> weights;
    for (unsigned i = 1; i < op.numOperands(); ++i)
      weights.push_back({ir::toQType(op.operand(i)->type().elem), op.operand(i)->type().shape[0]});
    const std::vector<int64_t> stacks = gateUp ? std::vector<int64_t>{1} : gemvStacks(weights);
    if (!gateUp) {
      changed |= setAttr(op.attrs(), "stacks", stacks);
      if (weights.size() > 1) decisions.add(subject, "stacks " + listText(stacks), stackReason(weights, stacks));
    }
    std::vector<int64_t> rowSets;
    size_t first = 0;
    for (int64_t count : stacks) {
      int64_t rows = 0;
      for (size_t i = first; i < first + static_cast<size_t>(count); ++i) rows += weights[i].rows;
      const std::vector<StackWeight> run(weights.begin() + static_cast<std::ptrdiff_t>(first),
                                         weights.begin() + static_cast<std::ptrdiff_t>(first + count));
      const GemvKey key{gemvLaunchKernel(run, gateUp), rows, op.operand(0)->type().shape[1], chunk};
      const RowSetsChoice sets = chooseGemvRowSets(measured, key);
      rowSets.push_back(sets.rowSets);
      decisions.add(subject, fmt::format("row_sets {}", sets.rowSets), sets.reason);
      first += static_cast<size_t>(count);
    }
    changed |= setAttr(op.attrs(), "row_sets", rowSets);
    return changed;
  }

  /// The bytes the launches of an FP8 or dequant-hgemm matmul or a flash-decoding attention use
  /// for the op alone (`workspace`), which plan-memory places in the arena like an activation.
  static bool sizeWorkspace(ir::Op& op, const BucketShape& bucket, DecisionGroups& decisions) {
    const ir::AttrDict& a = op.attrs();
    int64_t bytes = 0;
    std::string what;
    if (isMatmulLike(op) && a.getString("kernel") == std::optional<std::string>("fp8")) {
      const int64_t k = op.operand(0)->type().shape[1];
      bytes = fp8Workspace(bucket.m, k);
      what = fmt::format("the activations as E4M3 ({} x {} bytes) and their scale", bucket.m, k);
    } else if (op.name() == "matmul" && a.getString("kernel") == std::optional<std::string>("dequant-hgemm")) {
      const ir::TensorType& w = op.operand(1)->type();
      if (w.rank() == 2 && w.isStatic()) bytes = dequantHgemmWorkspace(w.shape[0], w.shape[1]);
      what = fmt::format("the {}x{} {} weight dequantized to f16 for the HGEMM", w.shape[0], w.shape[1],
                         ir::elemTypeName(w.elem).str());
    } else if (op.name() == "attention" && a.getInt("splits")) {
      const int64_t heads = a.getInt("n_heads").value_or(0);
      const int64_t splits = *a.getInt("splits");
      bytes = splitAttentionWorkspace(bucket.m, heads, splits, a.getInt("head_dim").value_or(0));
      what = fmt::format("flash-decoding's partial rows and (max, sum) pairs of {} heads x {} splits", heads, splits);
    }
    if (bytes <= 0) return false;
    decisions.add(op.result()->name(), fmt::format("workspace {}", support::formatBytes(static_cast<double>(bytes))),
                  what);
    return setAttr(op.attrs(), "workspace", bytes);
  }

  static std::string stackReason(const std::vector<StackWeight>& weights, const std::vector<int64_t>& stacks) {
    if (stacks.size() == 1)
      return weights.front().type == weights.back().type
                 ? fmt::format("{} weights of one qtype: one ramp-up and tail instead of {}", weights.size(),
                               weights.size())
                 : fmt::format("the last weight ({}) joins the {} stack as a mixed stack",
                               quant::qtypeName(weights.back().type), quant::qtypeName(weights.front().type));
    return fmt::format("{} launches: no stack kernel joins {} and {} here", stacks.size(),
                       quant::qtypeName(weights.front().type), quant::qtypeName(weights.back().type));
  }
};

}  // namespace

PassInfo selectLaunchConfigPassInfo() {
  return {kPassName,
          "record each DP4A GEMV's row chunk, weight stacks and row sets, and each weight's GPU layout",
          "launch",
          {},
          [] { return std::make_unique<SelectLaunchConfigPass>(); }};
}

}  // namespace reel::passes
