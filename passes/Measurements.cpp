#include "passes/Measurements.h"

#include "ir/DecisionAttrs.h"
#include "ir/Types.h"

#include <fmt/format.h>

#include <algorithm>

namespace reel::passes {
namespace {

/// Index of `splits` in usBySplits (splits = 2^index), or -1 when it is not a power of two.
int splitIndex(int64_t splits) {
  if (splits < 1 || (splits & (splits - 1)) != 0) return -1;
  int index = 0;
  while ((int64_t{1} << index) < splits) ++index;
  return index;
}

bool sameShape(const AttentionKey& a, const AttentionKey& b) {
  return a.rows == b.rows && a.heads == b.heads && a.kvHeads == b.kvHeads && a.headDim == b.headDim;
}

std::string numbers(const std::vector<double>& values) {
  std::string text;
  for (double v : values) text += fmt::format("{}{:.2f}", text.empty() ? "" : ", ", v);
  return "[" + text + "]";
}

}  // namespace

const GemvMeasurement* Measurements::findGemv(const GemvKey& key) const {
  const auto it = std::find_if(gemv.begin(), gemv.end(), [&](const GemvMeasurement& g) { return g.key == key; });
  return it == gemv.end() ? nullptr : &*it;
}

std::optional<double> Measurements::gemvUs(const GemvKey& key, int rowSets) const {
  const GemvMeasurement* found = findGemv(key);
  if (!found || rowSets < 1 || static_cast<size_t>(rowSets) > found->usByRowSets.size()) return std::nullopt;
  return found->usByRowSets[static_cast<size_t>(rowSets - 1)];
}

std::optional<double> Measurements::matmulUs(const MatmulKey& key) const {
  const auto it =
      std::find_if(matmul.begin(), matmul.end(), [&](const MatmulMeasurement& record) { return record.key == key; });
  if (it == matmul.end()) return std::nullopt;
  return it->us;
}

std::optional<double> Measurements::attentionUs(const AttentionKey& key, int64_t splits) const {
  const int index = splitIndex(splits);
  if (index < 0) return std::nullopt;
  const AttentionMeasurement* below = nullptr;
  const AttentionMeasurement* above = nullptr;
  for (const AttentionMeasurement& a : attention) {
    if (!sameShape(a.key, key) || static_cast<size_t>(index) >= a.usBySplits.size()) continue;
    if (a.key.context <= key.context && (!below || a.key.context > below->key.context)) below = &a;
    if (a.key.context >= key.context && (!above || a.key.context < above->key.context)) above = &a;
  }
  if (!below || !above) return std::nullopt;
  const double low = below->usBySplits[static_cast<size_t>(index)];
  const double high = above->usBySplits[static_cast<size_t>(index)];
  if (above->key.context == below->key.context) return low;
  const double t = static_cast<double>(key.context - below->key.context) /
                   static_cast<double>(above->key.context - below->key.context);
  return low + t * (high - low);
}

std::optional<MeasuredThreshold> Measurements::flashDecodingThreshold(const AttentionKey& shape) const {
  std::vector<const AttentionMeasurement*> records;
  for (const AttentionMeasurement& a : attention)
    if (sameShape(a.key, shape)) records.push_back(&a);
  if (records.empty()) return std::nullopt;
  std::sort(records.begin(), records.end(),
            [](const auto* a, const auto* b) { return a->key.context < b->key.context; });
  constexpr double kGain = 0.9;  // splits must save at least 10%
  for (size_t i = 0; i < records.size(); ++i) {
    const std::vector<double>& us = records[i]->usBySplits;
    const auto best = std::min_element(us.begin() + 1, us.end());
    if (us.size() < 2 || *best >= kGain * us.front()) continue;
    MeasuredThreshold threshold;
    threshold.context = records[i == 0 ? 0 : i - 1]->key.context;
    threshold.reason = fmt::format("measured: {} splits take {:.1f}us against one split's {:.1f}us from ctx {}",
                                   int64_t{1} << (best - us.begin()), *best, us.front(), records[i]->key.context);
    return threshold;
  }
  MeasuredThreshold threshold;
  threshold.context = records.back()->key.context;
  threshold.reason = fmt::format("measured: no split count saves 10% up to ctx {}", threshold.context);
  return threshold;
}

std::string formatMeasurements(const Measurements& measured) {
  std::string text = "[measured]\n";
  text += fmt::format("gpu = \"{}\"\n", measured.gpu);
  if (measured.readBandwidthGBs > 0) text += fmt::format("read_bandwidth_gbs = {:.0f}\n", measured.readBandwidthGBs);
  if (measured.prefillTokens > 0) text += fmt::format("prefill_tokens = {}\n", measured.prefillTokens);
  for (const GemvMeasurement& g : measured.gemv)
    text += fmt::format("\n[[measured.gemv]]\nkernel = \"{}\"\nn = {}\nk = {}\nm = {}\nus = {}\n", g.key.kernel,
                        g.key.n, g.key.k, g.key.m, numbers(g.usByRowSets));
  for (const AttentionMeasurement& a : measured.attention)
    text += fmt::format(
        "\n[[measured.attention]]\nrows = {}\nheads = {}\nkv_heads = {}\nhead_dim = {}\ncontext = {}\nus = {}\n",
        a.key.rows, a.key.heads, a.key.kvHeads, a.key.headDim, a.key.context, numbers(a.usBySplits));
  for (const MatmulMeasurement& mm : measured.matmul)
    text += fmt::format("\n[[measured.matmul]]\nfamily = \"{}\"\nqtype = \"{}\"\nn = {}\nk = {}\nm = {}\nus = {:.2f}\n",
                        ir::matmulKernelName(mm.key.family), ir::elemTypeName(mm.key.qtype).str(), mm.key.n, mm.key.k,
                        mm.key.m, std::max(mm.us, 0.01));
  return text;
}

}  // namespace reel::passes
