#include "ir/Graph.h"

#include "ir/OpRegistry.h"

#include <llvm/ADT/DenseMap.h>

#include <algorithm>

namespace reel::ir {

void Value::replaceAllUsesWith(Value* other) {
  if (other == this) return;
  // setOperand edits uses_, so walk a copy.
  llvm::SmallVector<Use, 4> uses = uses_;
  for (const Use& use : uses) use.user->setOperand(use.index, other);
}

void Value::removeUse(Op* user, unsigned index) {
  auto* it =
      std::find_if(uses_.begin(), uses_.end(), [&](const Use& use) { return use.user == user && use.index == index; });
  if (it != uses_.end()) uses_.erase(it);
}

llvm::StringRef Op::name() const {
  return def_->name;
}

void Op::setOperand(unsigned i, Value* value) {
  operands_[i]->removeUse(this, i);
  operands_[i] = value;
  value->uses_.push_back({this, i});
}

bool Op::hasUsedResults() const {
  return std::any_of(results_.begin(), results_.end(),
                     [](const std::unique_ptr<Value>& result) { return result->hasUses(); });
}

std::string Op::describe() const {
  std::string text = fmt::format("op '{}'", name().str());
  if (!results_.empty())
    text += fmt::format(" (%{}", results_[0]->name());
  else
    text += " (";
  if (layer_ >= 0) text += fmt::format("{}layer {}", results_.empty() ? "" : ", ", layer_);
  return text + ")";
}

std::string Graph::uniqueName(llvm::StringRef wanted) {
  std::string base = wanted.empty() ? std::string("v") : wanted.str();
  if (!valuesByName_.count(base)) return base;
  for (unsigned suffix = 1;; ++suffix) {
    std::string candidate = fmt::format("{}.{}", base, suffix);
    if (!valuesByName_.count(candidate)) return candidate;
  }
}

Op* Graph::create(const OpSpec& spec, Op* before) {
  const OpDef* def = lookupOp(spec.name);
  if (!def) fail(spec.loc, "unknown op '{}'", spec.name.str());
  auto owned = std::unique_ptr<Op>(new Op(*def, *this));
  Op* op = owned.get();
  op->attrs_ = spec.attrs;
  op->layer_ = spec.layer;
  op->loc_ = spec.loc;
  for (Value* operand : spec.operands) {
    op->operands_.push_back(operand);
    operand->uses_.push_back({op, static_cast<unsigned>(op->operands_.size() - 1)});
  }
  for (size_t i = 0; i < spec.resultTypes.size(); ++i) {
    std::string wanted = i < spec.resultNames.size() ? spec.resultNames[i] : std::string();
    std::string name = uniqueName(wanted);
    auto value = std::unique_ptr<Value>(new Value(name, spec.resultTypes[i], op, static_cast<unsigned>(i)));
    valuesByName_[name] = value.get();
    op->results_.push_back(std::move(value));
  }
  auto position = before ? before->self_ : ops_.end();
  op->self_ = ops_.insert(position, std::move(owned));
  return op;
}

void Graph::erase(Op* op) {
  for (unsigned i = 0; i < op->operands_.size(); ++i) op->operands_[i]->removeUse(op, i);
  for (const std::unique_ptr<Value>& result : op->results_) {
    if (result->hasUses())
      failPlain("internal error: erasing {} whose result %{} is still used", op->describe(), result->name());
    valuesByName_.erase(result->name());
  }
  ops_.erase(op->self_);
}

void Graph::move(Op* op, Op* before) {
  auto position = before ? before->self_ : ops_.end();
  ops_.splice(position, ops_, op->self_);
}

std::vector<Op*> Graph::opsSnapshot() const {
  std::vector<Op*> snapshot;
  snapshot.reserve(ops_.size());
  for (const std::unique_ptr<Op>& op : ops_) snapshot.push_back(op.get());
  return snapshot;
}

Op* Graph::next(const Op* op) const {
  auto it = std::next(op->self_);
  return it == ops_.end() ? nullptr : it->get();
}

Value* Graph::lookup(llvm::StringRef valueName) const {
  auto it = valuesByName_.find(valueName);
  return it == valuesByName_.end() ? nullptr : it->second;
}

std::unique_ptr<Graph> Graph::clone(std::string name) const {
  auto copy = std::make_unique<Graph>(std::move(name));
  copy->attrs_ = attrs_;
  llvm::DenseMap<const Value*, Value*> mapped;
  for (const std::unique_ptr<Op>& op : ops_) {
    OpSpec spec;
    spec.name = op->name();
    spec.attrs = op->attrs_;
    spec.layer = op->layer_;
    spec.loc = op->loc_;
    for (Value* operand : op->operands_) spec.operands.push_back(mapped.lookup(operand));
    for (const std::unique_ptr<Value>& result : op->results_) {
      spec.resultNames.push_back(result->name());
      spec.resultTypes.push_back(result->type());
    }
    Op* created = copy->create(spec);
    for (unsigned i = 0; i < op->numResults(); ++i) mapped[op->result(i)] = created->result(i);
  }
  return copy;
}

Graph* Module::findGraph(llvm::StringRef graphName) const {
  for (const std::unique_ptr<Graph>& graph : graphs)
    if (graph->name() == graphName) return graph.get();
  return nullptr;
}

}  // namespace reel::ir
