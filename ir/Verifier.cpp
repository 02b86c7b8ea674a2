#include "ir/Verifier.h"

#include "ir/DecisionAttrs.h"
#include "ir/OpRegistry.h"
#include "ir/TensorParallel.h"

#include <llvm/ADT/DenseSet.h>

namespace reel::ir {
namespace {

std::string arity(int min, int max) {
  if (max < 0) return fmt::format("at least {}", min);
  if (min == max) return std::to_string(min);
  return fmt::format("{} to {}", min, max);
}

std::optional<std::string> structuralError(const Op& op, const llvm::DenseSet<const Value*>& defined) {
  const OpDef& def = op.def();
  int operands = static_cast<int>(op.numOperands());
  if (operands < def.minOperands || (def.maxOperands >= 0 && operands > def.maxOperands))
    return fmt::format("takes {} operands, got {}", arity(def.minOperands, def.maxOperands), operands);
  if (def.numResults >= 0 && static_cast<int>(op.numResults()) != def.numResults)
    return fmt::format("has {} results, got {}", def.numResults, op.numResults());
  for (unsigned i = 0; i < op.numOperands(); ++i) {
    const Value* operand = op.operand(i);
    if (&operand->producer()->graph() != &op.graph())
      return fmt::format("operand {} (%{}) belongs to another graph", i, operand->name());
    if (!defined.contains(operand))
      return fmt::format("operand {} (%{}) is used before it is defined", i, operand->name());
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> findVerifyError(const Graph& graph) {
  if (std::optional<std::string> error = checkGraphRanks(graph)) return error;
  llvm::DenseSet<const Value*> defined;
  for (const std::unique_ptr<Op>& op : graph.ops()) {
    std::optional<std::string> error = structuralError(*op, defined);
    if (!error && op->def().verify) error = op->def().verify(*op);
    if (!error) error = checkDecisionAttrs(*op);
    if (error) {
      std::string where = op->loc().file.empty() ? std::string() : op->loc().str() + ": ";
      return fmt::format("{}graph @{}: {}: {}", where, graph.name(), op->describe(), *error);
    }
    for (unsigned i = 0; i < op->numResults(); ++i) defined.insert(op->result(i));
  }
  return checkGraphDecisionAttrs(graph);
}

void verifyModule(const Module& module) {
  for (const std::unique_ptr<Graph>& graph : module.graphs)
    if (std::optional<std::string> error = findVerifyError(*graph)) throw Error(*error);
  if (std::optional<std::string> error = checkModuleRanks(module)) throw Error(*error);
}

}  // namespace reel::ir
