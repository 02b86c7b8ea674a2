#pragma once
/// \file
/// What `reel tune` measures of the matmuls, apart from the GPU: the model's weight shapes, the
/// launches each kernel family select-precision can choose makes for one matmul (as lowering
/// launches them, the activation conversion first), and the prefill chunk the measurements
/// favour. Host code only: tools/Tune.cpp times the launches (runtime/gpu/KernelTimer.h).

#include "ir/DecisionAttrs.h"
#include "ir/Graph.h"
#include "passes/GpuProfile.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace reel::tools {

/// One weight shape the model's matmuls multiply by.
struct MatmulWeight {
  ir::ElemType type = ir::ElemType::Q4_K;
  int64_t n = 0;
  int64_t k = 0;
  int64_t uses = 0;  ///< matmuls of this shape in one step
  bool operator==(const MatmulWeight&) const = default;
};

/// The distinct (qtype, n, k) of the matmul weights of the module's first bucket graph (every
/// bucket graph multiplies by the same weights), with their uses per step; fused matmuls
/// (matmul_qkv, matmul_gate_up) count each weight they read.
std::vector<MatmulWeight> matmulWeights(const ir::Module& module);

/// One launch of the kernel table: its id and int arguments by name.
struct KernelCall {
  std::string id;
  std::vector<std::pair<std::string, int64_t>> ints;
};

/// Launches timed together, and how many times one matmul runs them.
struct TimedSegment {
  std::vector<KernelCall> calls;
  int64_t repeat = 1;
};

/// What one kernel family launches for one matmul at M = m: every segment, its time times its
/// repeat, adds up to the matmul's (dp4a: the quantizer, then ceil(m / row chunk) GEMV launches
/// of the row sets select-launch-config picks from `measured`). Empty, with `why` set, where
/// the family has no kernel for the weight (or, fp8, `fp8` is false or the shape is not a
/// multiple of 16).
struct FamilyPlan {
  std::vector<TimedSegment> segments;
  std::string why;  ///< why the family cannot run the matmul
};
FamilyPlan familyPlan(ir::MatmulKernel family, const MatmulWeight& weight, int64_t m,
                      const passes::Measurements& measured, bool fp8);

/// The prefill chunk the measurements favour: for each candidate M every weight is covered
/// (some family measured at M), the matmul time per prefilled token (uses x the fastest
/// measured family, summed, over M); the smallest candidate within 5% of the best. 0 when no
/// candidate is covered. `table` (if given) receives one line per candidate.
int64_t choosePrefillTokens(const std::vector<MatmulWeight>& weights, const passes::Measurements& measured,
                            const std::vector<int64_t>& candidates, std::string* table = nullptr);

/// "dp4a,mma,fp8,hgemm,dequant-hgemm" -> the families, each once; throws a one-line reel::Error
/// naming `flag` for an unknown or repeated one.
std::vector<ir::MatmulKernel> parseFamilies(const std::string& text, const std::string& flag);

}  // namespace reel::tools
