#pragma once
/// \file
/// The ops the decision passes introduce, each with a verifier built on ir/CoreOps.h's
/// checks:
///
///   %q, %k, %v = matmul_qkv %x, %wq, %wk, %wv {kernel = "dp4a"}
///       Q, K and V projections of one input. x: f32[M, K] or q8_1[M, K] (q8_1 only with
///       kernel dp4a); the three weights share K; results f32[M, Nq], f32[M, Nk], f32[M, Nv].
///       Consecutive weights of one qtype run in one launch (Q4_K_M's Q6_K attn_v: two).
///   %gate, %up = matmul_gate_up %x, %wgate, %wup {kernel = "dp4a"}
///       gate and up projections in one launch, sharing one activation quantization.
///       Weights of equal type and shape [N, K]; results f32[M, N] twice.
///   %sum, %normed = add_rms_norm %a, %b, %w {eps = 1.0e-05}
///       residual add then RMSNorm of the sum, one kernel: sum = a + b,
///       normed = sum / rms(sum) * w. a, b: f32[M, H]; w: f32[H]. normed may be q8_1
///       (fold-quantize).
///   %xq = quantize_q8_1 %x
///       f32[M, K] -> q8_1[M, K] (K a multiple of 32): the DP4A kernels' activations.
///   %xh = cast_f16 %x
///       f32[M, K] -> f16[M, K]: the HGEMM kernels' activations.
///
/// They reach the op registry one way only: the pass that introduces an op lists its
/// definition in its table row (PassInfo::ops, from fusedOpDef), and registering the passes
/// registers the ops (PassRegistry::add). A binary that parses IR with these ops registers
/// the built-in passes first: registerBuiltinPasses() in PassTable.h.

#include "ir/OpRegistry.h"

#include <vector>

namespace reel::passes {

namespace fused_ops {
inline constexpr const char* kMatmulQkv = "matmul_qkv";
inline constexpr const char* kMatmulGateUp = "matmul_gate_up";
inline constexpr const char* kAddRmsNorm = "add_rms_norm";
inline constexpr const char* kQuantizeQ81 = "quantize_q8_1";
inline constexpr const char* kCastF16 = "cast_f16";
}  // namespace fused_ops

/// The definitions of the ops above.
const std::vector<ir::OpDef>& fusedOpDefs();

/// The definition of one of the ops above, by name (throws reel::Error if unknown).
const ir::OpDef& fusedOpDef(const char* name);

}  // namespace reel::passes
