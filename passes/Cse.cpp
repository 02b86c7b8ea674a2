// cse: merges identical side-effect-free ops: the same op, the same operands, equal
// attributes (same entries in the same order) and equal result types. The first one in
// graph order stays; later copies are replaced by it. One forward sweep with a hash table,
// so a copy's operands are already merged when it is looked up.
#include "ir/OpRegistry.h"
#include "passes/PassTable.h"

#include <llvm/ADT/Hashing.h>

#include <bit>
#include <unordered_map>

namespace reel::passes {
namespace {

llvm::hash_code hashAttribute(const ir::Attribute& value) {
  struct Visitor {
    llvm::hash_code operator()(int64_t v) const { return llvm::hash_value(v); }
    llvm::hash_code operator()(double v) const { return llvm::hash_value(std::bit_cast<uint64_t>(v)); }
    llvm::hash_code operator()(const std::string& v) const { return llvm::hash_value(v); }
    llvm::hash_code operator()(bool v) const { return llvm::hash_value(v); }
    llvm::hash_code operator()(const std::vector<int64_t>& v) const {
      return llvm::hash_combine_range(v.begin(), v.end());
    }
  };
  return llvm::hash_combine(value.index(), std::visit(Visitor{}, value));
}

llvm::hash_code hashType(const ir::TensorType& type) {
  return llvm::hash_combine(static_cast<int>(type.elem),
                            llvm::hash_combine_range(type.shape.begin(), type.shape.end()));
}

/// A hash of everything that makes two ops interchangeable.
size_t hashOp(const ir::Op& op) {
  llvm::hash_code hash =
      llvm::hash_combine(&op.def(), llvm::hash_combine_range(op.operands().begin(), op.operands().end()));
  for (const ir::AttrDict::Entry& entry : op.attrs().entries())
    hash = llvm::hash_combine(hash, entry.first, hashAttribute(entry.second));
  for (unsigned i = 0; i < op.numResults(); ++i) hash = llvm::hash_combine(hash, hashType(op.result(i)->type()));
  return hash;
}

bool sameResultTypes(const ir::Op& a, const ir::Op& b) {
  if (a.numResults() != b.numResults()) return false;
  for (unsigned i = 0; i < a.numResults(); ++i)
    if (!(a.result(i)->type() == b.result(i)->type())) return false;
  return true;
}

bool equivalent(const ir::Op& a, const ir::Op& b) {
  return &a.def() == &b.def() && a.operands() == b.operands() && a.attrs() == b.attrs() && sameResultTypes(a, b);
}

/// Ops CSE may merge: no side effects, and results to hand over.
bool isMergeable(const ir::Op& op) {
  return !op.def().hasSideEffects && op.numResults() > 0;
}

class CsePass : public Pass {
 public:
  bool runOnGraph(ir::Graph& graph, PassContext& /*context*/) override {
    std::unordered_map<size_t, llvm::SmallVector<ir::Op*, 1>> seen;
    seen.reserve(graph.size());
    bool changed = false;
    for (ir::Op* op : graph.opsSnapshot()) {
      if (!isMergeable(*op)) continue;
      llvm::SmallVector<ir::Op*, 1>& candidates = seen[hashOp(*op)];
      ir::Op* original = nullptr;
      for (ir::Op* candidate : candidates) {
        if (!equivalent(*candidate, *op)) continue;
        original = candidate;
        break;
      }
      if (!original) {
        candidates.push_back(op);
        continue;
      }
      for (unsigned i = 0; i < op->numResults(); ++i) op->result(i)->replaceAllUsesWith(original->result(i));
      graph.erase(op);
      changed = true;
    }
    return changed;
  }
};

}  // namespace

std::unique_ptr<Pass> createCsePass() {
  return std::make_unique<CsePass>();
}

}  // namespace reel::passes
