#pragma once
/// \file
/// The decision passes: every choice a decode engine would make with an `if` at run time
/// (docs/design.md, "Decision rules"), made once per bucket graph at compile time, recorded
/// in the IR (attributes, fused op names) and logged with its cost-model figures for --explain.
///
///   select-precision        `kernel` on each matmul: dp4a | fp8 | hgemm | mma (+ memory budget)
///   fuse-qkv                Q, K, V matmuls of one input -> matmul_qkv
///   fuse-gate-up            gate + up -> matmul_gate_up (where the fused DP4A GEMV applies)
///   fuse-residual-norm      add + rms_norm -> add_rms_norm where the cost model says it wins
///   select-attention        `strategy` on each attention (+ the long-context variant)
///   share-activation-quant  one quantize_q8_1 (cast_f16) per input of DP4A (HGEMM) matmuls
///   fold-quantize           quantize_q8_1 into the kernel that produces its input
///   select-launch-config    GEMV row chunks, stacks and row sets; weight layouts; workspaces
///   plan-memory             arena offsets with reuse (`offsets`, graph `arena_bytes`)
///
/// Each pass reads the bucket from its graph's attributes and leaves graphs that are
/// still generic in M untouched. The rows of the pass table come from
/// decisionPassInfos(); createDecisionPass makes one with given options (tests, tools).

#include "passes/Pass.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace reel::passes {

/// The table rows of one pass each (name, summary, phase, options, factory).
PassInfo selectPrecisionPassInfo();
PassInfo fuseQkvPassInfo();
PassInfo fuseGateUpPassInfo();
PassInfo fuseResidualNormPassInfo();
PassInfo selectAttentionPassInfo();
PassInfo fuseRopeAttentionPassInfo();
PassInfo shareActivationQuantPassInfo();
PassInfo foldQuantizePassInfo();
PassInfo selectLaunchConfigPassInfo();
PassInfo planMemoryPassInfo();

/// All rows above, in pipeline order.
std::vector<PassInfo> decisionPassInfos();

/// The decision pass `name` with the options `given` (pipeline syntax values, as in
/// `fuse-gate-up{max-m=4}`); the others take their defaults. Throws reel::Error for an
/// unknown name. Meant for tests and tools that drive one pass directly.
std::unique_ptr<Pass> createDecisionPass(const std::string& name, const std::map<std::string, std::string>& given = {});

}  // namespace reel::passes
