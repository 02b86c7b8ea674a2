#pragma once
/// \file
/// The op registry: every op name the IR knows, with its arity, its side effects and its
/// verifier. The core ops of a decode step are registered by ir/ itself; passes and
/// plugins add their fused and lowered ops with registerOp() at start-up.

#include <llvm/ADT/StringRef.h>

#include <optional>
#include <string>
#include <vector>

namespace reel::ir {

class Op;

/// Checks an op's type and shape rules; returns the broken rule, or nullopt.
using OpVerifyFn = std::optional<std::string> (*)(const Op& op);

/// The definition of one op kind.
struct OpDef {
  std::string name;
  std::string summary;
  int minOperands = 0;
  int maxOperands = 0;  ///< -1: any number
  int numResults = 1;   ///< -1: any number
  /// Ops with effects beyond their results (outputs, KV-cache writes) are never removed
  /// by DCE and never merged by CSE.
  bool hasSideEffects = false;
  OpVerifyFn verify = nullptr;
};

/// Registers an op kind. Re-registering an existing name with a different definition is a
/// programming error (throws reel::Error).
void registerOp(const OpDef& def);
/// The definition of `name`, or nullptr.
const OpDef* lookupOp(llvm::StringRef name);
/// All registered op kinds, sorted by name.
std::vector<const OpDef*> registeredOps();

}  // namespace reel::ir
