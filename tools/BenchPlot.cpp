#include "tools/BenchPlot.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>

namespace reel::tools {
namespace {

constexpr double kWidth = 720, kPanelHeight = 320, kLeft = 80, kRight = 30, kTop = 50, kBottom = 50;
constexpr std::array<const char*, 8> kPalette{"#4e79a7", "#f28e2b", "#e15759", "#76b7b2",
                                              "#59a14f", "#edc948", "#b07aa1", "#9c755f"};

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else if (c == '"')
      out += "&quot;";
    else
      out += c;
  }
  return out;
}

/// A "nice" upper bound for an axis: 1, 2 or 5 times a power of ten at or above `value`.
double niceCeiling(double value) {
  if (value <= 0) return 1;
  const double power = std::pow(10.0, std::floor(std::log10(value)));
  for (double step : {1.0, 2.0, 5.0, 10.0})
    if (step * power >= value) return step * power;
  return 10 * power;
}

std::string text(double x, double y, const std::string& s, const char* anchor = "middle", int size = 12) {
  return fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"{}\" text-anchor=\"{}\">{}</text>\n", x, y, size,
                     anchor, escape(s));
}

/// Panel 1: tok/s in all against M (log2 axis), measured and bandwidth-bound.
std::string throughputPanel(const BenchPlot& plot, double top) {
  std::vector<PlotBucket> buckets = plot.buckets;
  std::sort(buckets.begin(), buckets.end(), [](const auto& a, const auto& b) { return a.m < b.m; });
  auto bound = [&](const PlotBucket& b) {
    return b.bytesPerStep > 0 ? static_cast<double>(b.m) * plot.bandwidthGBs * 1e9 / b.bytesPerStep : 0.0;
  };
  double yMax = 0;
  for (const PlotBucket& b : buckets) yMax = std::max({yMax, b.tokPerSecond, bound(b)});
  yMax = niceCeiling(yMax);
  const double logMin = std::log2(static_cast<double>(std::max<int64_t>(1, buckets.front().m)));
  const double logMax = std::max(logMin + 1, std::log2(static_cast<double>(std::max<int64_t>(1, buckets.back().m))));
  const double plotW = kWidth - kLeft - kRight, plotH = kPanelHeight - kTop - kBottom;
  auto px = [&](int64_t m) { return kLeft + plotW * (std::log2(static_cast<double>(m)) - logMin) / (logMax - logMin); };
  auto py = [&](double v) { return top + kTop + plotH * (1 - v / yMax); };
  std::string out = text(kWidth / 2, top + 25, "decode tok/s in all against M", "middle", 14);
  out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#888\"/>\n", kLeft,
                     top + kTop, plotW, plotH);
  for (int i = 0; i <= 4; ++i) {
    const double v = yMax * i / 4;
    out += text(kLeft - 6, py(v) + 4, fmt::format("{:.0f}", v), "end", 11);
  }
  std::string measured, limit;
  for (const PlotBucket& b : buckets) {
    out += text(px(b.m), top + kTop + plotH + 16, fmt::format("{}", b.m), "middle", 11);
    measured += fmt::format("{:.1f},{:.1f} ", px(b.m), py(b.tokPerSecond));
    if (bound(b) > 0) limit += fmt::format("{:.1f},{:.1f} ", px(b.m), py(bound(b)));
    out += fmt::format(
        "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.5\" fill=\"{}\"><title>{}: {:.1f} tok/s</title></circle>\n", px(b.m),
        py(b.tokPerSecond), kPalette[0], escape(b.name), b.tokPerSecond);
  }
  out +=
      fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n", measured, kPalette[0]);
  if (!limit.empty())
    out += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-dasharray=\"6 4\"/>\n", limit,
                       kPalette[2]);
  out += text(kWidth / 2, top + kPanelHeight - 12, "M (sequences per step)", "middle", 12);
  out += text(kLeft + 8, top + kTop + 16, "measured", "start", 11);
  out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\"/>\n", kLeft + 70,
                     top + kTop + 12, kLeft + 95, top + kTop + 12, kPalette[0]);
  out +=
      text(kLeft + 8, top + kTop + 32, fmt::format("bound: bytes read at {:.0f} GB/s", plot.bandwidthGBs), "start", 11);
  out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-dasharray=\"6 4\"/>\n",
                     kLeft + 215, top + kTop + 28, kLeft + 240, top + kTop + 28, kPalette[2]);
  return out;
}

/// Panel 2: one bar per timed bucket, its step time by kernel class, and the bandwidth bound.
std::string stepPanel(const BenchPlot& plot, double top) {
  std::map<std::string, size_t> colour;
  double xMax = 0;
  for (const PlotStep& s : plot.steps) {
    double total = 0;
    for (const auto& [cls, us] : s.usByClass) {
      total += us;
      colour.try_emplace(cls, colour.size() % kPalette.size());
    }
    xMax = std::max({xMax, total, s.bytesPerStep / (plot.bandwidthGBs * 1e3)});
  }
  xMax = niceCeiling(xMax);
  const double plotW = kWidth - kLeft - kRight;
  const double barH = 22, gap = 10, height = kTop + static_cast<double>(plot.steps.size()) * (barH + gap) + 60;
  std::string out =
      text(kWidth / 2, top + 25, "one step by kernel class (us), launches timed one by one", "middle", 14);
  for (size_t i = 0; i < plot.steps.size(); ++i) {
    const PlotStep& s = plot.steps[i];
    const double y = top + kTop + static_cast<double>(i) * (barH + gap);
    out += text(kLeft - 6, y + barH * 0.7, s.bucket, "end", 11);
    double x = kLeft;
    for (const auto& [cls, us] : s.usByClass) {
      const double w = plotW * us / xMax;
      out += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\"><title>{}: {:.1f} "
          "us</title></rect>\n",
          x, y, w, barH, kPalette[colour[cls]], escape(cls), us);
      x += w;
    }
    const double boundX = kLeft + plotW * s.bytesPerStep / (plot.bandwidthGBs * 1e3) / xMax;
    out += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#000\" stroke-width=\"2\"/>\n", boundX,
        y - 3, boundX, y + barH + 3);
  }
  const double axisY = top + height - 40;
  for (int i = 0; i <= 4; ++i)
    out += text(kLeft + plotW * i / 4, axisY, fmt::format("{:.0f}", xMax * i / 4), "middle", 11);
  double legendX = kLeft;
  for (const auto& [cls, index] : colour) {
    out += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"10\" height=\"10\" fill=\"{}\"/>\n", legendX,
                       axisY + 10, kPalette[index]);
    out += text(legendX + 14, axisY + 19, cls, "start", 11);
    legendX += 24 + 7.0 * static_cast<double>(cls.size());
  }
  out += text(legendX + 10, axisY + 19, "| = bytes read at the bandwidth", "start", 11);
  return out;
}

}  // namespace

std::string kernelClassOf(const std::string& id) {
  auto starts = [&](const char* prefix) { return id.rfind(prefix, 0) == 0; };
  if (starts("gemv_")) return "GEMV (dp4a)";
  if (starts("mmq_")) return "mma";
  if (starts("hgemm") || starts("fp8_")) return "cuBLAS";
  if (starts("dequant_")) return "dequant";
  if (starts("attn")) return "attention";
  if (starts("sample") || starts("argmax")) return "sampling";
  if (starts("rms_norm") || starts("add") || starts("rope") || starts("swiglu") || starts("quantize") ||
      starts("embed") || starts("cast") || starts("bias") || starts("kv_append"))
    return "norm, RoPE, elementwise";
  return "other";
}

std::string benchPlotSvg(const BenchPlot& plot) {
  const double stepsHeight = plot.steps.empty() ? 0 : kTop + static_cast<double>(plot.steps.size()) * 32 + 60;
  const double height = (plot.buckets.empty() ? 0 : kPanelHeight) + stepsHeight + 30;
  std::string out = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" height=\"{:.0f}\" font-family=\"sans-serif\">\n",
      kWidth, height);
  out += "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n";
  out += text(kWidth / 2, 18, plot.title, "middle", 13);
  if (!plot.buckets.empty()) out += throughputPanel(plot, 10);
  if (!plot.steps.empty()) out += stepPanel(plot, plot.buckets.empty() ? 10 : kPanelHeight + 10);
  return out + "</svg>\n";
}

}  // namespace reel::tools
