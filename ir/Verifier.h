#pragma once
/// \file
/// The IR verifier: structural rules (arity, SSA order, ownership) and each op's own type
/// and shape rules. A broken graph gets one message naming the graph, the op, its
/// location and the rule.

#include "ir/Graph.h"

#include <optional>
#include <string>

namespace reel::ir {

/// The first broken rule in `graph`, or nullopt if it verifies.
std::optional<std::string> findVerifyError(const Graph& graph);

/// Throws reel::Error with the first broken rule of any graph in `module`, then of the
/// module's tensor-parallel split (checkModuleRanks).
void verifyModule(const Module& module);

}  // namespace reel::ir
