#include "passes/LaunchPolicy.h"

namespace reel::passes {

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
