#pragma once
/// \file
/// Times launches of the kernel table's kernels in isolation, as a plan runs them: captured in
/// a CUDA graph and replayed, each pass over its own copy of every buffer so that no pass reads
/// what the one before left in L2. Buffers are sized by the kernel table's footprints and filled
/// with finite values; the step inputs the kernels trust (KV slots, positions, KV lengths) hold
/// valid ones. Library calls (cuBLAS, cuBLASLt) run on the timer's own handles and workspace;
/// every chain runs once eagerly, checked, before its capture. `reel tune` measures the figures
/// of the decision passes with it.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace reel::gpu {

/// One launch: a kernel id and its int arguments by the kernel table's names ("n", "k", ...).
struct TimedKernel {
  std::string id;
  std::vector<std::pair<std::string, int64_t>> ints;
  std::vector<float> floats;  ///< in the kernel table's order
  int64_t kvLength = 1;       ///< the KV length of every row (attention kernels)
};

struct KernelTimerOptions {
  int64_t l2Bytes = 64 << 20;  ///< a pass's buffers are copied until the copies exceed 4x this
  int replays = 7;             ///< the median of these graph replays is taken
};

/// Times chains of launches; holds the cuBLAS and cuBLASLt handles (made at the first chain with
/// a library call) for the chains after.
class KernelTimer {
 public:
  explicit KernelTimer(KernelTimerOptions options = {});
  ~KernelTimer();
  KernelTimer(const KernelTimer&) = delete;
  KernelTimer& operator=(const KernelTimer&) = delete;

  /// Microseconds of one pass over `chain` (its kernels launched in order), the median over
  /// KernelTimerOptions::replays replays of a graph of many passes. Throws a one-line reel::Error
  /// for an unknown id, an int argument the kernel does not take or lacks, arguments its kernel
  /// table entry refuses, buffers over 1 GiB for one pass, or a CUDA or cuBLAS failure.
  double time(const std::vector<TimedKernel>& chain);

 private:
  struct Library;
  KernelTimerOptions options_;
  std::unique_ptr<Library> library_;
};

/// KernelTimer(options).time(chain).
double timeKernelChain(const std::vector<TimedKernel>& chain, const KernelTimerOptions& options);

/// The most bytes of buffers one timed pass may use (KernelTimer::time refuses more).
inline constexpr int64_t kMaxTimedPassBytes = int64_t{1} << 30;

/// Bytes of the buffers one pass over `chain` allocates (its kernel table footprints), so that a
/// caller can leave out what KernelTimer::time would refuse. Throws as KernelTimer::time does
/// for a chain it cannot resolve.
int64_t chainBufferBytes(const std::vector<TimedKernel>& chain);

}  // namespace reel::gpu
