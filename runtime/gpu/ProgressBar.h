#pragma once
/// \file
/// A one-line progress bar on stderr ("uploading weights [#######.....]  58%  2.3/4.0 GB"),
/// redrawn in place at most once per percent; silent when disabled or when stderr is not a
/// terminal (logs get no hundred redrawn lines).

#include <cstdint>
#include <string>

namespace reel::gpu {

class ProgressBar {
 public:
  /// `total` units (bytes); draws nothing unless `enabled`.
  ProgressBar(std::string label, int64_t total, bool enabled);
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  /// Ends the line if anything was drawn.
  ~ProgressBar();

  void advance(int64_t units);

 private:
  void draw() const;

  std::string label_;
  int64_t total_ = 0;
  int64_t done_ = 0;
  int lastPercent_ = -1;
  bool enabled_ = false;
};

}  // namespace reel::gpu
