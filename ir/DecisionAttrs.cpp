#include "ir/DecisionAttrs.h"

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
  }
  return "?";
}

std::optional<AttentionStrategy> parseAttentionStrategy(llvm::StringRef name) {
  for (AttentionStrategy strategy : kAttentionStrategies)
    if (name == attentionStrategyName(strategy)) return strategy;
  return std::nullopt;
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
    return fmt::format("attribute 'kernel' must be one of dp4a, mma, hgemm, fp8, got {}", quoteForMessage(*kernel));
  if (op.numOperands() > 0 && op.operand(0)->type().elem == ElemType::Q8_1 && *parsed != MatmulKernel::Dp4a)
    return fmt::format("q8_1 activations need kernel \"dp4a\", got \"{}\"", *kernel);
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
      return fmt::format("attribute 'strategy' must be one of decode, prefill, got {}", quoteForMessage(*strategy));
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
  if (strategy && *strategy == "prefill") return std::string("strategy prefill has no long-context variant");
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
