#include "passes/FusedOps.h"

#include "ir/CoreOps.h"
#include "ir/DecisionAttrs.h"
#include "support/Diagnostics.h"

#include <fmt/format.h>

namespace reel::passes {
namespace {

using ir::ElemType;
using ir::Op;
using ir::TensorType;
using ir::Value;
using ir::check::Result;

Result resultTypeIs(const Op& op, unsigned index, const TensorType& expected) {
  const TensorType& actual = op.result(index)->type();
  if (actual != expected) return fmt::format("result {} must be {}, got {}", index, expected.str(), actual.str());
  return std::nullopt;
}

/// A fused matmul carries its `kernel` (the verifier checks its value with every decision
/// attribute, ir/DecisionAttrs.h). The tensor-core kernel has no fused form: its matmuls stay
/// unfused.
Result checkKernel(const Op& op) {
  const std::optional<std::string> kernel = op.attrs().getString("kernel");
  if (!kernel) return std::string("needs a string attribute 'kernel'");
  if (*kernel == ir::matmulKernelName(ir::MatmulKernel::Mma))
    return fmt::format("kernel \"mma\" has no fused form (only separate matmuls run on it)");
  return std::nullopt;
}

/// Operand `index` is a weight forming a matmul with the activations; writes its N.
Result checkProjection(const Op& op, unsigned index, llvm::StringRef what, ir::Dim& n) {
  if (Result r = ir::check::isWeight(op.operand(index), what)) return r;
  if (Result r = ir::check::matmulShapes(op.operand(0), op.operand(index), n))
    return fmt::format("{}: {}", what.str(), *r);
  return std::nullopt;
}

Result verifyMatmulQkv(const Op& op) {
  const char* names[] = {"q weight", "k weight", "v weight"};
  for (unsigned i = 0; i < 3; ++i) {
    ir::Dim n = 0;
    if (Result r = checkProjection(op, i + 1, names[i], n)) return r;
    if (Result r = resultTypeIs(op, i, TensorType(ElemType::F32, {op.operand(0)->type().shape[0], n}))) return r;
  }
  return checkKernel(op);
}

Result verifyMatmulGateUp(const Op& op) {
  if (op.operand(1)->type() != op.operand(2)->type())
    return fmt::format("gate and up weights must have one type, got {} and {}", op.operand(1)->type().str(),
                       op.operand(2)->type().str());
  for (unsigned i = 0; i < 2; ++i) {
    ir::Dim n = 0;
    if (Result r = checkProjection(op, i + 1, i == 0 ? "gate weight" : "up weight", n)) return r;
    if (Result r = resultTypeIs(op, i, TensorType(ElemType::F32, {op.operand(0)->type().shape[0], n}))) return r;
  }
  return checkKernel(op);
}

Result verifyAddRmsNorm(const Op& op) {
  const Value* a = op.operand(0);
  if (Result r = ir::check::elemAndRank(a, "lhs", ElemType::F32, 2)) return r;
  if (op.operand(1)->type() != a->type())
    return fmt::format("operand types differ: {} vs {}", a->type().str(), op.operand(1)->type().str());
  if (Result r = ir::check::elemAndRank(op.operand(2), "norm weight", ElemType::F32, 1)) return r;
  if (Result r = ir::check::sameDim(a->type().shape[1], op.operand(2)->type().shape[0], "input and weight widths"))
    return r;
  std::optional<double> eps = op.attrs().getFloat("eps");
  if (!eps || *eps <= 0.0) return std::string("needs a positive float attribute 'eps'");
  if (Result r = resultTypeIs(op, 0, a->type())) return r;
  return ir::check::f32OrQ81Result(op, 1, a->type());
}

Result verifyQuantizeQ81(const Op& op) {
  const Value* x = op.operand(0);
  if (Result r = ir::check::elemAndRank(x, "input", ElemType::F32, 2)) return r;
  ir::Dim width = x->type().shape[1];
  if (width >= 0 && width % ir::blockElems(ElemType::Q8_1) != 0)
    return fmt::format("input width {} is not a multiple of the q8_1 block (32)", width);
  return resultTypeIs(op, 0, TensorType(ElemType::Q8_1, x->type().shape));
}

Result verifyCastF16(const Op& op) {
  const Value* x = op.operand(0);
  if (Result r = ir::check::elemAndRank(x, "input", ElemType::F32, 2)) return r;
  return resultTypeIs(op, 0, TensorType(ElemType::F16, x->type().shape));
}

}  // namespace

const std::vector<ir::OpDef>& fusedOpDefs() {
  static const std::vector<ir::OpDef> defs = {
      {fused_ops::kMatmulQkv, "Q, K and V projections of one input in one launch", 4, 4, 3, false, verifyMatmulQkv},
      {fused_ops::kMatmulGateUp, "FFN gate and up projections in one launch, one activation quantization", 3, 3, 2,
       false, verifyMatmulGateUp},
      {fused_ops::kAddRmsNorm, "residual add then RMSNorm of the sum (results: sum, normed)", 3, 3, 2, false,
       verifyAddRmsNorm},
      {fused_ops::kQuantizeQ81, "f32 activations to Q8_1 blocks for the DP4A kernels", 1, 1, 1, false,
       verifyQuantizeQ81},
      {fused_ops::kCastF16, "f32 activations to f16 (round to nearest even) for the HGEMM kernels", 1, 1, 1, false,
       verifyCastF16},
  };
  return defs;
}

const ir::OpDef& fusedOpDef(const char* name) {
  for (const ir::OpDef& def : fusedOpDefs())
    if (def.name == name) return def;
  failPlain("internal error: no fused op '{}'", name);
}

}  // namespace reel::passes
