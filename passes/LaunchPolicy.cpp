#include "passes/LaunchPolicy.h"

#include <fmt/format.h>

#include <algorithm>

namespace reel::passes {

std::string gemvLaunchKernel(const std::vector<StackWeight>& weights, bool gateUp) {
  return kernels::gemvLaunchKernelId(weights.front().type, weights.back().type, static_cast<int>(weights.size()),
                                     gateUp);
}

RowSetsChoice chooseGemvRowSets(const Measurements& measured, const GemvKey& key) {
  RowSetsChoice choice;
  const int64_t rowsPerCta = kernels::kGemvRowsPerWarp;
  if (const GemvMeasurement* found = measured.findGemv(key)) {
    const std::vector<double>& us = found->usByRowSets;
    const auto best = std::min_element(us.begin(), us.end());
    choice.rowSets = static_cast<int>(best - us.begin()) + 1;
    choice.measuredUs = *best;
    std::string figures;
    for (size_t i = 0; i < us.size(); ++i)
      figures += fmt::format("{}{} row set{} {:.1f}us", figures.empty() ? "" : " vs ", i + 1, i == 0 ? "" : "s", us[i]);
    choice.reason = fmt::format("measured on {}: {}", measured.gpu, figures);
    return choice;
  }
  const bool gateUp = key.kernel.find("gate_up") != std::string::npos;
  choice.rowSets = gemvRowSets(key.n, key.m, gateUp ? 2 : 1);
  const int64_t ctas = (key.n + rowsPerCta * choice.rowSets - 1) / (rowsPerCta * choice.rowSets);
  choice.reason =
      fmt::format("{} rows: {} CTAs of {} rows ({}; not measured)", key.n, ctas, rowsPerCta * choice.rowSets,
                  choice.rowSets == 2 ? "n >= 4096 keeps 512 CTAs with two rows per lane"
                                      : "one row per lane keeps the CTAs the GPU needs in flight");
  return choice;
}

std::vector<int64_t> gemvStacks(const std::vector<StackWeight>& weights) {
  std::vector<int64_t> stacks;
  const size_t count = weights.size();
  for (size_t first = 0; first < count;) {
    size_t last = first + 1;
    while (last < count && last - first < kernels::kGemvMaxStack && weights[last].type == weights[first].type) ++last;
    if (last + 1 == count && last - first < kernels::kGemvMaxStack &&
        kernels::gemvMixedStackExists(weights[first].type, weights[last].type)) {
      int64_t rows = 0;
      for (size_t i = first; i < last; ++i) rows += weights[i].rows;
      if (rows % kernels::kGemvMixedStackAlign == 0) ++last;
    }
    stacks.push_back(static_cast<int64_t>(last - first));
    first = last;
  }
  return stacks;
}

}  // namespace reel::passes
