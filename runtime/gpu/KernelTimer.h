#pragma once
/// \file
/// Times launches of the kernel table's kernels in isolation, as a plan runs them: captured in
/// a CUDA graph and replayed, each pass over its own copy of every buffer so that no pass reads
/// what the one before left in L2. Buffers are sized by the kernel table's footprints and filled
/// with finite values; the step inputs the kernels trust (KV slots, positions, KV lengths) hold
/// valid ones. `reel tune` measures the figures of the decision passes with it.

#include <cstdint>
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

/// Microseconds of one pass over `chain` (its kernels launched in order), the median over
/// KernelTimerOptions::replays replays of a graph of many passes. Throws a one-line reel::Error
/// for an unknown id, an int argument the kernel does not take or lacks, arguments its kernel
/// table entry refuses, a library kernel (cuBLAS), or a CUDA failure.
double timeKernelChain(const std::vector<TimedKernel>& chain, const KernelTimerOptions& options);

}  // namespace reel::gpu
