#pragma once
/// \file
/// How ops become kernel launches: one lowering hook per op name, in one registry that
/// built-in ops and plugin ops share. Lowering a graph looks every op up here; an op
/// without a hook stops the compile with an error naming it.
///
/// A plugin that adds an op registers its hook from its registration callback:
///
///   reel::codegen::registerOpLowering("twice", [](const reel::ir::Op& op, reel::codegen::LoweringContext& c) {
///     c.emit(op, {"add", {c.value(op.operand(0)), c.value(op.operand(0)), c.value(op.result())},
///                 {c.rows() * op.result()->type().shape.back()}});
///   });
///
/// Hooks emit kernels of the catalog (kernels/KernelCatalog.h) only; `emit` checks the id
/// and the int arguments against it. The built-in hooks fill each kernel's typed signature
/// (kernels/KernelArgs.h) by field name and turn it into a launch with kernelLaunch().

#include "codegen/Lower.h"
#include "codegen/Plan.h"
#include "ir/Graph.h"

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace reel::codegen {

/// One kernel launch a hook asks for: the catalog id and the arguments in catalog order,
/// plus the bytes it moves (for the plan's predicted times).
struct KernelLaunch {
  std::string kernel{};
  std::vector<BufferRef> ptrs{};
  std::vector<int64_t> ints{};
  std::vector<float> floats{};
  int64_t weightBytes = 0;
  int64_t activationBytes = 0;
};

/// A launch of catalog kernel `kernel` whose arguments `args` are filled by name in the
/// kernel's typed signature (e.g. kernels::args::RmsNorm); packed in the catalog's order.
template <template <class> class Args>
KernelLaunch kernelLaunch(std::string kernel, const Args<BufferRef>& args) {
  kernels::args::Flat<BufferRef> flat = kernels::args::pack<Args>(args);
  return {std::move(kernel), std::move(flat.ptrs), std::move(flat.ints), std::move(flat.floats)};
}

/// What a lowering hook sees of the graph being lowered.
class LoweringContext {
 public:
  virtual ~LoweringContext() = default;
  /// The bucket's rows M.
  [[nodiscard]] virtual int64_t rows() const = 0;
  /// Whether this is the long-context variant of the graph.
  [[nodiscard]] virtual bool longContext() const = 0;
  [[nodiscard]] virtual const LowerOptions& options() const = 0;
  /// Where a value lives: its arena slot (plan-memory's offsets), a KV-cache layer or a step input.
  [[nodiscard]] virtual BufferRef value(const ir::Value* value) const = 0;
  /// The slot of a weight value in `layout` (added to the plan on first use).
  virtual BufferRef weight(const ir::Value* value, WeightLayout layout) = 0;
  /// `bytes` of scratch, live until the next op.
  virtual BufferRef scratch(int64_t bytes) = 0;
  /// Appends a launch of a catalog kernel to the bucket's schedule; throws naming `op` when
  /// the kernel is not in the catalog or refuses the arguments.
  virtual void emit(const ir::Op& op, KernelLaunch launch) = 0;
  /// The bucket being built (e.g. to record where the logits live).
  virtual BucketPlan& bucket() = 0;
};

/// Lowers one op into launches through the context.
using OpLoweringFn = std::function<void(const ir::Op& op, LoweringContext& context)>;

/// Registers the lowering of op `name`. Throws reel::Error when `name` already has one.
void registerOpLowering(const std::string& name, OpLoweringFn lower);
/// The lowering of `name`, or nullptr.
const OpLoweringFn* findOpLowering(std::string_view name);
/// The names of all ops with a lowering, sorted.
std::vector<std::string> loweredOpNames();

/// Throws the error of an op a hook cannot lower: "graph @g: cannot lower OP: why".
[[noreturn]] void cannotLower(const ir::Op& op, const std::string& why);

}  // namespace reel::codegen
