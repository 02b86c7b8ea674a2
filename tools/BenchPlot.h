#pragma once
/// \file
/// The SVG plot of `reel bench --plot`: aggregate decode tok/s against M, with the bound the
/// GPU profile's bandwidth sets for the bytes each bucket's steps read; and, for the buckets whose
/// launches were timed one by one, a step's time by kernel class against that bound.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace reel::tools {

struct PlotBucket {
  std::string name;  ///< the bucket graph ("decode.m16")
  int64_t m = 0;
  double tokPerSecond = 0;  ///< in all
  double bytesPerStep = 0;  ///< weights and KV cache read by one step
};

/// One bucket's step by kernel class (microseconds), for the second panel.
struct PlotStep {
  std::string bucket;
  std::vector<std::pair<std::string, double>> usByClass;
  double bytesPerStep = 0;
};

struct BenchPlot {
  std::string title;
  double bandwidthGBs = 0;  ///< the profile's, for the bounds
  std::vector<PlotBucket> buckets;
  std::vector<PlotStep> steps;  ///< empty: one panel
};

/// The kernel class of a kernel id: "GEMV (dp4a)", "mma", "cuBLAS", "dequant", "attention",
/// "norm, RoPE, elementwise", "sampling" or "other".
std::string kernelClassOf(const std::string& kernelId);

/// A standalone SVG document.
std::string benchPlotSvg(const BenchPlot& plot);

}  // namespace reel::tools
