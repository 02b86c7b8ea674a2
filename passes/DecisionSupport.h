#pragma once
/// \file
/// Helpers shared by the decision passes: reading a graph's bucket, option fallbacks to
/// the GPU profile, grouping the per-layer repeats of a decision for --explain, and
/// replacing ops by a fused op that keeps their result names.

#include "ir/Graph.h"
#include "passes/Pass.h"

#include <llvm/ADT/DenseMap.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace reel::passes {

/// What a specialised graph is for, read from its attributes.
struct BucketShape {
  int64_t m = 0;         ///< tokens in the step: the bucket (decode) or the prefill length
  bool prefill = false;  ///< phase = "prefill"
};

/// The bucket of a graph specialised by specialize-buckets (attributes
/// `{phase = "decode" | "prefill", bucket = N}`); nullopt for a graph that is still
/// generic in M (the decision passes leave such a graph alone).
std::optional<BucketShape> bucketShape(const ir::Graph& graph);

/// "M=4" or "prefill M=256", for reasons.
std::string describeBucket(const BucketShape& bucket);

/// "l3.gate" -> "l*.gate": the name of a value with its layer number hidden.
std::string layerPattern(const std::string& valueName);

/// An Int option declared with an empty default: its value if given in the pipeline,
/// else `fallback` (the GPU profile's figure).
int64_t intOption(const PassOptions& options, const std::string& name, int64_t fallback);
/// The Bool counterpart of intOption.
bool boolOption(const PassOptions& options, const std::string& name, bool fallback);

/// Sets attribute `name` to `value`; returns whether it changed.
bool setAttr(ir::AttrDict& attrs, llvm::StringRef name, const ir::Attribute& value);

/// Collects one pass's decisions on one graph, merging repeats (the same choice for the
/// same reason on every layer) into one line whose subject counts the layers, so that
/// --explain reads as a page, not as thousands of lines.
class DecisionGroups {
 public:
  DecisionGroups(std::string pass, std::string graph) : pass_(std::move(pass)), graph_(std::move(graph)) {}

  /// Records a decision about `subject` (a value name such as "l3.gate", or any text).
  void add(const std::string& subject, const std::string& choice, const std::string& reason);
  /// Hands the merged decisions to the context, in first-seen order.
  void flush(PassContext& context);

 private:
  struct Group {
    std::string pattern;
    std::string firstSubject;
    std::string choice;
    std::string reason;
    int count = 0;
  };
  std::string pass_;
  std::string graph_;
  std::vector<Group> groups_;
  std::map<std::string, size_t> index_;
};

/// The position of each op in its graph, taken once (moving or creating ops afterwards
/// keeps the relative order of the ops it already knows).
class OpOrder {
 public:
  explicit OpOrder(const ir::Graph& graph);
  /// The position of `op`; ops created after the snapshot are not known (asserts).
  [[nodiscard]] size_t of(const ir::Op* op) const;

 private:
  llvm::DenseMap<const ir::Op*, size_t> position_;
};

/// Replaces `oldResults` (each the result of an op that is replaced entirely) by the
/// results of one new op made from `spec`, created before `before`. The new results take
/// the old results' names, in order, so the printed IR keeps its names. The operands of
/// `spec` must not be results being replaced. Returns the new op.
ir::Op* replaceByFusedOp(ir::Graph& graph, ir::OpSpec spec, const std::vector<ir::Value*>& oldResults, ir::Op* before);

}  // namespace reel::passes
