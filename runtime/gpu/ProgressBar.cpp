#include "runtime/gpu/ProgressBar.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>

#include <unistd.h>

namespace reel::gpu {

namespace {
constexpr int kBarWidth = 30;
}  // namespace

ProgressBar::ProgressBar(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)), total_(std::max<int64_t>(total, 1)), enabled_(enabled && ::isatty(STDERR_FILENO) != 0) {
  if (enabled_) draw();
}

ProgressBar::~ProgressBar() {
  if (enabled_) std::fputc('\n', stderr);
}

void ProgressBar::advance(int64_t units) {
  done_ = std::min(total_, done_ + units);
  const int percent = static_cast<int>(done_ * 100 / total_);
  if (enabled_ && percent != lastPercent_) draw();
  lastPercent_ = percent;
}

void ProgressBar::draw() const {
  const int filled = static_cast<int>(done_ * kBarWidth / total_);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(kBarWidth - filled), '.');
  std::fprintf(stderr, "\r%s [%s] %3d%%  %.1f/%.1f GB", label_.c_str(), bar.c_str(),
               static_cast<int>(done_ * 100 / total_), static_cast<double>(done_) / 1e9,
               static_cast<double>(total_) / 1e9);
  std::fflush(stderr);
}

}  // namespace reel::gpu
