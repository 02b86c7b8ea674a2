#pragma once
/// \file
/// How the CPU reference runs ops: one execution hook per op name, in one registry that
/// built-in ops and plugin ops share. An executor refuses a graph with an op that has no
/// hook, naming the op.
///
/// A plugin that adds an op registers its hook from its registration callback:
///
///   reel::reference::registerOpExecution("twice", [](const reel::ir::Op& op, reel::reference::ExecutionContext& c) {
///     c.setResult(op, 0, reel::reference::add(c.operand(op, 0), c.operand(op, 0)));
///   });

#include "ir/Graph.h"
#include "runtime/reference/HostTensor.h"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace reel::reference {

/// What an execution hook sees of the step being run: tensors of the step's live rows (the
/// padding rows that fill a bucket are not run, so a hook must not assume the graph's M).
class ExecutionContext {
 public:
  virtual ~ExecutionContext() = default;
  /// The tensor operand `index` of `op` holds; throws when it holds none.
  [[nodiscard]] virtual const HostTensor& operand(const ir::Op& op, unsigned index) const = 0;
  /// Sets result `index` of `op` (an f32 tensor for a q8_1 result is quantized to Q8_1).
  virtual void setResult(const ir::Op& op, unsigned index, HostTensor tensor) = 0;
  /// Threads an op may use.
  [[nodiscard]] virtual unsigned threads() const = 0;
};

/// Runs one op of a step through the context.
using OpExecutionFn = std::function<void(const ir::Op& op, ExecutionContext& context)>;

/// Registers the execution of op `name`. Throws reel::Error when `name` already has one.
void registerOpExecution(const std::string& name, OpExecutionFn run);
/// The execution of `name`, or nullptr.
const OpExecutionFn* findOpExecution(std::string_view name);
/// The names of all ops with an execution, sorted.
std::vector<std::string> executedOpNames();

}  // namespace reel::reference
