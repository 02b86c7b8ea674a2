#include "tools/TuneMatmul.h"

#include "kernels/KernelCatalog.h"
#include "passes/CostModel.h"
#include "passes/DecisionSupport.h"
#include "passes/FusedOps.h"
#include "passes/LaunchPolicy.h"
#include "support/Diagnostics.h"

#include <fmt/format.h>
#include <llvm/ADT/SmallVector.h>
#include <llvm/ADT/StringRef.h>

#include <algorithm>
#include <limits>
#include <string_view>

namespace reel::tools {
namespace {

/// Whether `op` multiplies activations (operand 0) by weights (the operands after).
bool isMatmul(const ir::Op& op) {
  return op.name() == "matmul" || op.name() == passes::fused_ops::kMatmulQkv ||
         op.name() == passes::fused_ops::kMatmulGateUp;
}

KernelCall call(std::string id, std::vector<std::pair<std::string, int64_t>> ints) {
  return {std::move(id), std::move(ints)};
}

/// A plan that cannot run, and why.
FamilyPlan refused(std::string why) {
  FamilyPlan plan;
  plan.why = std::move(why);
  return plan;
}

/// "no mma kernel for f16 weights"
std::string noKernelFor(std::string_view what, const MatmulWeight& weight) {
  return fmt::format("no {} kernel for {} weights", what, ir::elemTypeName(weight.type).str());
}

/// Why the kernel table cannot run `id` ("" when it has the kernel).
std::string missingKernel(const std::string& id, const MatmulWeight& weight) {
  return kernels::findKernel(id) ? "" : noKernelFor(id, weight);
}

/// The fastest family measured for `weight` at `m`, if any.
std::optional<double> fastestMeasured(const passes::Measurements& measured, const MatmulWeight& weight, int64_t m) {
  std::optional<double> best;
  for (ir::MatmulKernel family : ir::kMatmulKernels) {
    const std::optional<double> us = measured.matmulUs({family, weight.type, weight.n, weight.k, m});
    if (us && (!best || *us < *best)) best = us;
  }
  return best;
}

}  // namespace

std::vector<MatmulWeight> matmulWeights(const ir::Module& module) {
  std::vector<MatmulWeight> weights;
  for (const std::unique_ptr<ir::Graph>& graph : module.graphs) {
    if (!passes::bucketShape(*graph)) continue;
    for (const std::unique_ptr<ir::Op>& op : graph->ops()) {
      if (!isMatmul(*op)) continue;
      for (unsigned i = 1; i < op->numOperands(); ++i) {
        const ir::TensorType& type = op->operand(i)->type();
        if (type.rank() != 2 || !type.isStatic() || type.elem == ir::ElemType::I32) continue;
        const MatmulWeight shape{type.elem, type.shape[0], type.shape[1], 0};
        auto it = std::find_if(weights.begin(), weights.end(), [&](const MatmulWeight& w) {
          return w.type == shape.type && w.n == shape.n && w.k == shape.k;
        });
        if (it == weights.end()) it = weights.insert(weights.end(), shape);
        ++it->uses;
      }
    }
    break;  // every bucket graph multiplies by the same weights
  }
  return weights;
}

FamilyPlan familyPlan(ir::MatmulKernel family, const MatmulWeight& weight, int64_t m,
                      const passes::Measurements& measured, bool fp8) {
  FamilyPlan plan;
  const int64_t n = weight.n;
  const int64_t k = weight.k;
  const bool quantized = passes::hasQuantizedKernel(weight.type);
  const quant::QType qtype = quantized ? ir::toQType(weight.type) : quant::QType::F32;
  const KernelCall castF16 = call("cast_f32_f16", {{"count", m * k}});
  const KernelCall quantize = call("quantize_q8_1", {{"m", m}, {"k", k}});
  switch (family) {
    case ir::MatmulKernel::Dp4a: {
      if (!quantized) return refused(noKernelFor("DP4A", weight));
      const std::string id = kernels::gemvKernelId(qtype);
      if (std::string why = missingKernel(id, weight); !why.empty()) return refused(why);
      const int64_t chunk = passes::gemvRowChunk(m);
      const int rowSets = passes::chooseGemvRowSets(measured, {id, n, k, chunk}).rowSets;
      plan.segments.push_back({{quantize}, 1});
      plan.segments.push_back(
          {{call(id, {{"n", n}, {"k", k}, {"m", chunk}, {"row_sets", rowSets}})}, (m + chunk - 1) / chunk});
      return plan;
    }
    case ir::MatmulKernel::Mma: {
      if (!passes::hasMmaKernel(weight.type)) return refused(noKernelFor("mma", weight));
      const std::string id = kernels::mmqKernelId(qtype);
      if (std::string why = missingKernel(id, weight); !why.empty()) return refused(why);
      plan.segments.push_back({{quantize, call(id, {{"n", n}, {"k", k}, {"m", m}})}, 1});
      return plan;
    }
    case ir::MatmulKernel::Fp8:
      if (!fp8) return refused("no FP8 on this GPU");
      if (n % 16 != 0 || k % 16 != 0) return refused("cuBLASLt FP8 needs n and k multiples of 16");
      plan.segments.push_back({{call("fp8_quantize_act", {{"m", m}, {"k", k}}),
                                call("fp8_gemm_cublaslt", {{"m", m}, {"n", n}, {"k", k}, {"per_row", 1}})},
                               1});
      return plan;
    case ir::MatmulKernel::Hgemm:
      plan.segments.push_back({{castF16, call("hgemm_cublas", {{"m", m}, {"n", n}, {"k", k}})}, 1});
      return plan;
    case ir::MatmulKernel::DequantHgemm: {
      if (!quantized) return refused(noKernelFor("dequantization", weight));
      const std::string id = kernels::dequantF16KernelId(qtype);
      if (std::string why = missingKernel(id, weight); !why.empty()) return refused(why);
      plan.segments.push_back(
          {{castF16, call(id, {{"n", n}, {"k", k}}), call("hgemm_cublas", {{"m", m}, {"n", n}, {"k", k}})}, 1});
      return plan;
    }
    case ir::MatmulKernel::MmaF16: {
      if (!passes::hasMmaF16Kernel(weight.type)) return refused(noKernelFor("mma-f16", weight));
      const std::string id = kernels::mmaF16KernelId(qtype);
      if (std::string why = missingKernel(id, weight); !why.empty()) return refused(why);
      plan.segments.push_back({{castF16, call(id, {{"n", n}, {"k", k}, {"m", m}})}, 1});
      return plan;
    }
  }
  return plan;
}

int64_t choosePrefillTokens(const std::vector<MatmulWeight>& weights, const passes::Measurements& measured,
                            const std::vector<int64_t>& candidates, std::string* table) {
  constexpr double kWithin = 1.05;  // a smaller chunk may cost 5% more per token
  std::vector<std::pair<int64_t, double>> perToken;
  for (int64_t m : candidates) {
    double us = 0;
    bool covered = !weights.empty();
    for (const MatmulWeight& weight : weights) {
      const std::optional<double> best = fastestMeasured(measured, weight, m);
      covered = covered && best;
      if (best) us += static_cast<double>(weight.uses) * *best;
    }
    if (table)
      *table += covered ? fmt::format("  prefill chunk {:>5}: {:.3f} us of matmuls per token\n", m,
                                      us / static_cast<double>(m))
                        : fmt::format("  prefill chunk {:>5}: not every weight measured\n", m);
    if (covered) perToken.emplace_back(m, us / static_cast<double>(m));
  }
  if (perToken.empty()) return 0;
  double best = std::numeric_limits<double>::infinity();
  for (const auto& [m, us] : perToken) best = std::min(best, us);
  int64_t chosen = 0;
  for (const auto& [m, us] : perToken)
    if (us <= kWithin * best && (chosen == 0 || m < chosen)) chosen = m;
  return chosen;
}

std::vector<ir::MatmulKernel> parseFamilies(const std::string& text, const std::string& flag) {
  std::vector<ir::MatmulKernel> families;
  llvm::SmallVector<llvm::StringRef, 8> names;
  llvm::StringRef(text).split(names, ',');
  for (llvm::StringRef name : names) {
    const std::optional<ir::MatmulKernel> family = ir::parseMatmulKernel(name.trim());
    if (!family)
      failPlain("{} {}: unknown family '{}' (dp4a, mma, fp8, hgemm, dequant-hgemm, mma-f16)", flag, text,
                name.trim().str());
    if (std::find(families.begin(), families.end(), *family) != families.end())
      failPlain("{} {}: '{}' is named twice", flag, text, name.trim().str());
    families.push_back(*family);
  }
  return families;
}

}  // namespace reel::tools
