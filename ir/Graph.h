#pragma once
/// \file
/// The SSA dataflow graph. A Graph is an ordered list of Ops; each Op has operands
/// (Values produced earlier), results (Values it owns), attributes, a layer tag and a
/// source location. Every Value has exactly one producer and a use-list, so
/// replace-all-uses is cheap. Weights, KV-cache state and step inputs are ops too
/// (`weight`, `kv_cache`, `input`), so everything a graph reads is a Value.
/// A Module holds the graphs of one model: the generic decode step, then one graph per
/// bucket after specialisation.

#include "ir/Attribute.h"
#include "ir/Types.h"
#include "support/Diagnostics.h"

#include <llvm/ADT/ArrayRef.h>
#include <llvm/ADT/SmallVector.h>
#include <llvm/ADT/StringMap.h>

#include <list>
#include <memory>
#include <string>
#include <vector>

namespace reel::ir {

class Graph;
class Op;
struct OpDef;

/// One use of a Value: operand `index` of `user`.
struct Use {
  Op* user;
  unsigned index;
};

/// An SSA value: produced by exactly one op, named uniquely within its graph.
class Value {
 public:
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const TensorType& type() const { return type_; }
  void setType(TensorType type) { type_ = std::move(type); }
  [[nodiscard]] Op* producer() const { return producer_; }
  [[nodiscard]] unsigned resultIndex() const { return resultIndex_; }
  [[nodiscard]] llvm::ArrayRef<Use> uses() const { return uses_; }
  [[nodiscard]] bool hasUses() const { return !uses_.empty(); }
  /// Points every use of this value at `other` instead.
  void replaceAllUsesWith(Value* other);

 private:
  friend class Op;
  friend class Graph;
  Value(std::string name, TensorType type, Op* producer, unsigned index)
      : name_(std::move(name)), type_(std::move(type)), producer_(producer), resultIndex_(index) {}
  void removeUse(Op* user, unsigned index);

  std::string name_;
  TensorType type_;
  Op* producer_;
  unsigned resultIndex_;
  llvm::SmallVector<Use, 4> uses_;
};

/// What to create: the op name, operands, result names and types, attributes.
struct OpSpec {
  llvm::StringRef name;
  llvm::SmallVector<Value*, 4> operands;
  llvm::SmallVector<std::string, 2> resultNames;  ///< wanted names; made unique in the graph
  llvm::SmallVector<TensorType, 2> resultTypes;
  AttrDict attrs;
  int layer = -1;  ///< transformer layer this op belongs to; -1 for none
  SourceLoc loc;
};

/// An operation in a graph.
class Op {
 public:
  [[nodiscard]] const OpDef& def() const { return *def_; }
  [[nodiscard]] llvm::StringRef name() const;
  [[nodiscard]] Graph& graph() const { return *graph_; }

  [[nodiscard]] llvm::ArrayRef<Value*> operands() const { return operands_; }
  [[nodiscard]] Value* operand(unsigned i) const { return operands_[i]; }
  [[nodiscard]] unsigned numOperands() const { return static_cast<unsigned>(operands_.size()); }
  void setOperand(unsigned i, Value* value);

  [[nodiscard]] unsigned numResults() const { return static_cast<unsigned>(results_.size()); }
  [[nodiscard]] Value* result(unsigned i = 0) const { return results_[i].get(); }
  [[nodiscard]] bool hasUsedResults() const;

  AttrDict& attrs() { return attrs_; }
  [[nodiscard]] const AttrDict& attrs() const { return attrs_; }
  [[nodiscard]] int layer() const { return layer_; }
  void setLayer(int layer) { layer_ = layer; }
  [[nodiscard]] const SourceLoc& loc() const { return loc_; }

  /// "op 'matmul' (%l3.q, layer 3)": how diagnostics name this op.
  [[nodiscard]] std::string describe() const;

 private:
  friend class Graph;
  Op(const OpDef& def, Graph& graph) : def_(&def), graph_(&graph) {}

  const OpDef* def_;
  Graph* graph_;
  llvm::SmallVector<Value*, 4> operands_;
  llvm::SmallVector<std::unique_ptr<Value>, 1> results_;
  AttrDict attrs_;
  int layer_ = -1;
  SourceLoc loc_;
  std::list<std::unique_ptr<Op>>::iterator self_;
};

/// An ordered list of ops forming one SSA dataflow graph (one decode step, or one bucket).
class Graph {
 public:
  using OpList = std::list<std::unique_ptr<Op>>;

  explicit Graph(std::string name) : name_(std::move(name)) {}
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  [[nodiscard]] const std::string& name() const { return name_; }
  void setName(std::string name) { name_ = std::move(name); }
  AttrDict& attrs() { return attrs_; }
  [[nodiscard]] const AttrDict& attrs() const { return attrs_; }

  /// Creates an op before `before` (nullptr: at the end). Throws reel::Error if the op
  /// name is not registered.
  Op* create(const OpSpec& spec, Op* before = nullptr);
  /// Erases an op; its results must have no uses left.
  void erase(Op* op);
  /// Moves `op` to just before `before` (nullptr: to the end).
  void move(Op* op, Op* before);

  [[nodiscard]] const OpList& ops() const { return ops_; }
  /// A snapshot of the op pointers, safe to iterate while creating or erasing ops.
  [[nodiscard]] std::vector<Op*> opsSnapshot() const;
  [[nodiscard]] size_t size() const { return ops_.size(); }
  /// The op after `op` in order, or nullptr.
  [[nodiscard]] Op* next(const Op* op) const;
  [[nodiscard]] Value* lookup(llvm::StringRef valueName) const;

  /// A deep copy named `name`.
  [[nodiscard]] std::unique_ptr<Graph> clone(std::string name) const;

 private:
  std::string uniqueName(llvm::StringRef wanted);

  std::string name_;
  AttrDict attrs_;
  OpList ops_;
  llvm::StringMap<Value*> valuesByName_;
};

/// The graphs of one model plus module-level attributes (architecture, quantization...).
struct Module {
  std::string name;
  AttrDict attrs;
  std::vector<std::unique_ptr<Graph>> graphs;

  [[nodiscard]] Graph* findGraph(llvm::StringRef graphName) const;
};

}  // namespace reel::ir
