#include "ir/DecisionAttrs.h"

#include "quant/QuantRef.h"
#include "support/Diagnostics.h"

#include <fmt/format.h>

namespace reel::ir {

const char* matmulKernelName(MatmulKernel kernel) {
  switch (kernel) {
    case MatmulKernel::Dp4a:
      return "dp4a";
    case MatmulKernel::Mma:
      return "mma";
    case MatmulKernel::Hgemm:
      return "hgemm";
    case MatmulKernel::Fp8:
      return "fp8";
    case MatmulKernel::DequantHgemm:
      return "dequant-hgemm";
    case MatmulKernel::MmaF16:
      return "mma-f16";
  }
  return "?";
}

std::optional<MatmulKernel> parseMatmulKernel(llvm::StringRef name) {
  for (MatmulKernel kernel : kMatmulKernels)
    if (name == matmulKernelName(kernel)) return kernel;
  return std::nullopt;
}

const char* attentionStrategyName(AttentionStrategy strategy) {
  switch (strategy) {
    case AttentionStrategy::Decode:
      return "decode";
    case AttentionStrategy::Prefill:
      return "prefill";
    case AttentionStrategy::FlashPrefill:
      return "flash-prefill";
  }
  return "?";
}

std::optional<AttentionStrategy> parseAttentionStrategy(llvm::StringRef name) {
  for (AttentionStrategy strategy : kAttentionStrategies)
    if (name == attentionStrategyName(strategy)) return strategy;
  return std::nullopt;
}

const char* weightLayoutName(WeightLayout layout) {
  switch (layout) {
    case WeightLayout::Gguf:
      return "gguf";
    case WeightLayout::RowPlanar:
      return "row-planar";
    case WeightLayout::Fp8PerRow:
      return "fp8-per-row";
    case WeightLayout::F16:
      return "f16";
    case WeightLayout::F32:
      return "f32";
  }
  return "?";
}

std::optional<WeightLayout> parseWeightLayout(llvm::StringRef name) {
  for (WeightLayout layout : kWeightLayouts)
    if (name == weightLayoutName(layout)) return layout;
  return std::nullopt;
}

WeightLayout matmulWeightLayout(MatmulKernel kernel, ElemType type) {
  switch (kernel) {
    case MatmulKernel::Dp4a:
    case MatmulKernel::Mma:
    case MatmulKernel::DequantHgemm:
    case MatmulKernel::MmaF16:
      return type != ElemType::I32 && quant::needsRowPlanar(toQType(type)) ? WeightLayout::RowPlanar
                                                                           : WeightLayout::Gguf;
    case MatmulKernel::Hgemm:
      return type == ElemType::F16 ? WeightLayout::Gguf : WeightLayout::F16;
    case MatmulKernel::Fp8:
      return WeightLayout::Fp8PerRow;
  }
  return WeightLayout::Gguf;
}

namespace {

using Result = std::optional<std::string>;

/// `name` is absent or a string; writes it to `out`.
Result optionalString(const AttrDict& attrs, llvm::StringRef name, std::optional<std::string>& out) {
  if (!attrs.has(name)) return std::nullopt;
  out = attrs.getString(name);
  if (!out) return fmt::format("attribute '{}' must be a string", name.str());
  return std::nullopt;
}

/// `name` is absent or an integer of at least `least`; writes it to `out`.
Result optionalIntAtLeast(const AttrDict& attrs, llvm::StringRef name, int64_t least, std::optional<int64_t>& out) {
  if (!attrs.has(name)) return std::nullopt;
  out = attrs.getInt(name);
  if (!out) return fmt::format("attribute '{}' must be an integer", name.str());
  if (*out < least) return fmt::format("attribute '{}' must be at least {}, got {}", name.str(), least, *out);
  return std::nullopt;
}

Result checkKernel(const Op& op) {
  std::optional<std::string> kernel;
  if (Result r = optionalString(op.attrs(), "kernel", kernel)) return r;
  if (!kernel) return std::nullopt;
  const std::optional<MatmulKernel> parsed = parseMatmulKernel(*kernel);
  if (!parsed)
    return fmt::format("attribute 'kernel' must be one of dp4a, mma, hgemm, fp8, dequant-hgemm, mma-f16, got {}",
                       quoteForMessage(*kernel));
  if (op.numOperands() > 0 && op.operand(0)->type().elem == ElemType::Q8_1 && *parsed != MatmulKernel::Dp4a &&
      *parsed != MatmulKernel::Mma)
    return fmt::format("q8_1 activations need kernel \"dp4a\" or \"mma\", got \"{}\"", *kernel);
  if (op.numOperands() > 0 && op.operand(0)->type().elem == ElemType::F16 && *parsed != MatmulKernel::Hgemm &&
      *parsed != MatmulKernel::DequantHgemm && *parsed != MatmulKernel::MmaF16)
    return fmt::format("f16 activations need kernel \"hgemm\", \"dequant-hgemm\" or \"mma-f16\", got \"{}\"", *kernel);
  return std::nullopt;
}

Result checkAttentionDecisions(const Op& op) {
  const AttrDict& attrs = op.attrs();
  std::optional<std::string> strategy;
  std::optional<std::string> longStrategy;
  std::optional<int64_t> splits;
  std::optional<int64_t> threshold;
  if (Result r = optionalString(attrs, "strategy", strategy)) return r;
  if (Result r = optionalString(attrs, "long_context_strategy", longStrategy)) return r;
  if (Result r = optionalIntAtLeast(attrs, "splits", 2, splits)) return r;
  if (Result r = optionalIntAtLeast(attrs, "context_threshold", 1, threshold)) return r;
  const bool isAttention = op.name() == "attention";
  if (strategy) {
    if (!isAttention) return std::string("attribute 'strategy' belongs on attention ops only");
    if (!parseAttentionStrategy(*strategy))
      return fmt::format("attribute 'strategy' must be one of decode, prefill, flash-prefill, got {}",
                         quoteForMessage(*strategy));
  }
  if (!longStrategy) {
    if (splits || threshold)
      return std::string("attributes 'splits' and 'context_threshold' need 'long_context_strategy'");
    return std::nullopt;
  }
  if (!isAttention) return std::string("attribute 'long_context_strategy' belongs on attention ops only");
  if (*longStrategy != "flash-decoding")
    return fmt::format("attribute 'long_context_strategy' must be flash-decoding, got {}",
                       quoteForMessage(*longStrategy));
  if (!splits || !threshold)
    return std::string("attribute 'long_context_strategy' needs 'splits' and 'context_threshold'");
  if (strategy && *strategy != "decode") return fmt::format("strategy {} has no long-context variant", *strategy);
  return std::nullopt;
}

/// `name` is absent or an array of integers of at least `least`; writes it to `out`.
Result optionalIntsAtLeast(const AttrDict& attrs, llvm::StringRef name, int64_t least,
                           const std::vector<int64_t>*& out) {
  out = nullptr;
  if (!attrs.has(name)) return std::nullopt;
  out = attrs.getInts(name);
  if (!out) return fmt::format("attribute '{}' must be an integer array", name.str());
  for (size_t i = 0; i < out->size(); ++i)
    if ((*out)[i] < least) return fmt::format("{}[{}] must be at least {}, got {}", name.str(), i, least, (*out)[i]);
  return std::nullopt;
}

/// row_chunk, stacks and row_sets: on dp4a matmuls only; the stacks cover the weights, and
/// there is one row_sets entry per launch of them (one for matmul_gate_up, which has no stacks).
Result checkLaunchConfig(const Op& op) {
  const AttrDict& attrs = op.attrs();
  std::optional<int64_t> chunk;
  const std::vector<int64_t>* stacks = nullptr;
  const std::vector<int64_t>* rowSets = nullptr;
  if (Result r = optionalIntAtLeast(attrs, "row_chunk", 1, chunk)) return r;
  if (Result r = optionalIntsAtLeast(attrs, "stacks", 1, stacks)) return r;
  if (Result r = optionalIntsAtLeast(attrs, "row_sets", 1, rowSets)) return r;
  if (!chunk && !stacks && !rowSets) return std::nullopt;
  if (attrs.getString("kernel") != std::optional<std::string>("dp4a"))
    return std::string("attributes 'row_chunk', 'stacks' and 'row_sets' belong on dp4a matmuls only");
  const int64_t weights = static_cast<int64_t>(op.numOperands()) - 1;
  int64_t launches = 1;
  if (stacks) {
    if (op.name() == "matmul_gate_up")
      return std::string("matmul_gate_up runs its two weights in one launch: no 'stacks'");
    int64_t covered = 0;
    for (int64_t count : *stacks) covered += count;
    if (covered != weights) return fmt::format("attribute 'stacks' covers {} weights, the op has {}", covered, weights);
    launches = static_cast<int64_t>(stacks->size());
  }
  if (rowSets && static_cast<int64_t>(rowSets->size()) != launches)
    return fmt::format("attribute 'row_sets' has {} entries for {} launches", rowSets->size(), launches);
  return std::nullopt;
}

Result checkLayout(const Op& op) {
  std::optional<std::string> layout;
  if (Result r = optionalString(op.attrs(), "layout", layout)) return r;
  if (!layout) return std::nullopt;
  if (op.name() != "weight") return std::string("attribute 'layout' belongs on weight ops only");
  if (!parseWeightLayout(*layout))
    return fmt::format("attribute 'layout' must be one of gguf, row-planar, fp8-per-row, f16, f32, got {}",
                       quoteForMessage(*layout));
  return std::nullopt;
}

/// The weights `op` reads have the layout its kernel reads them in, where one is recorded.
Result checkWeightLayouts(const Op& op) {
  const std::optional<MatmulKernel> kernel = parseMatmulKernel(op.attrs().getString("kernel").value_or(""));
  for (unsigned i = 0; i < op.numOperands(); ++i) {
    const Value* value = op.operand(i);
    const Op* producer = value->producer();
    if (producer->name() != "weight") continue;
    const std::optional<std::string> recorded = producer->attrs().getString("layout");
    const std::optional<WeightLayout> layout = recorded ? parseWeightLayout(*recorded) : std::nullopt;
    if (!layout) continue;  // none yet, or the weight op's own check refuses it
    const bool readsMatmulWeight = op.attrs().has("kernel") && i > 0;
    if (readsMatmulWeight && !kernel) continue;
    const WeightLayout expected =
        readsMatmulWeight ? matmulWeightLayout(*kernel, value->type().elem) : WeightLayout::Gguf;
    if (*layout != expected)
      return fmt::format("%{} is laid out {}, but this op{} reads it {}", value->name(), *recorded,
                         readsMatmulWeight ? fmt::format(" (kernel {})", matmulKernelName(*kernel)) : "",
                         weightLayoutName(expected));
  }
  return std::nullopt;
}

Result checkWorkspace(const Op& op) {
  std::optional<int64_t> bytes;
  std::optional<int64_t> offset;
  if (Result r = optionalIntAtLeast(op.attrs(), "workspace", 1, bytes)) return r;
  if (Result r = optionalIntAtLeast(op.attrs(), "workspace_offset", 0, offset)) return r;
  if (offset && !bytes) return std::string("attribute 'workspace_offset' needs 'workspace'");
  return std::nullopt;
}

Result checkOffsets(const Op& op) {
  if (!op.attrs().has("offsets")) return std::nullopt;
  const std::vector<int64_t>* offsets = op.attrs().getInts("offsets");
  if (!offsets) return std::string("attribute 'offsets' must be an integer array");
  if (offsets->size() != op.numResults())
    return fmt::format("attribute 'offsets' has {} entries for {} results", offsets->size(), op.numResults());
  for (size_t i = 0; i < offsets->size(); ++i)
    if ((*offsets)[i] < -1) return fmt::format("offsets[{}] is {} (an arena offset >= 0, or -1)", i, (*offsets)[i]);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> checkDecisionAttrs(const Op& op) {
  if (Result r = checkKernel(op)) return r;
  if (Result r = checkAttentionDecisions(op)) return r;
  if (Result r = checkLaunchConfig(op)) return r;
  if (Result r = checkLayout(op)) return r;
  if (Result r = checkWeightLayouts(op)) return r;
  if (Result r = checkWorkspace(op)) return r;
  return checkOffsets(op);
}

std::optional<std::string> checkGraphDecisionAttrs(const Graph& graph) {
  std::optional<int64_t> threshold;
  if (Result r = optionalIntAtLeast(graph.attrs(), "context_threshold", 1, threshold))
    return fmt::format("graph @{}: {}", graph.name(), *r);
  // One long-context variant per graph: every op that has one switches at the graph's threshold.
  for (const std::unique_ptr<Op>& op : graph.ops()) {
    const std::optional<int64_t> opThreshold = op->attrs().getInt("context_threshold");
    if (!opThreshold || opThreshold == threshold) continue;
    if (!threshold)
      return fmt::format("graph @{}: %{} has a long-context variant, but the graph has no context_threshold",
                         graph.name(), op->numResults() ? op->result()->name() : op->name().str());
    return fmt::format("graph @{}: %{} switches at context_threshold {}, the graph at {}", graph.name(),
                       op->numResults() ? op->result()->name() : op->name().str(), *opThreshold, *threshold);
  }
  return std::nullopt;
}

}  // namespace reel::ir
