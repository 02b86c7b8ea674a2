#pragma once
/// \file
/// The collectives of a sharded graph (ir/TensorParallel.h) on the CPU reference: each rank's
/// ReferenceExecutor reaches the others through a Communicator. InProcessGroup simulates a
/// group of ranks in one process, one thread per rank, so the reference runs a graph sharded
/// for tp ranks and gives the tokens the unsharded graph gives.
///
///   InProcessGroup group(2);
///   ReferenceExecutor rank0(graph, weights, cache0, {threads, &group.member(0)});
///   ReferenceExecutor rank1(graph, weights, cache1, {threads, &group.member(1)});
///   group.runRanks([&](int64_t rank) { results[rank] = (rank ? rank1 : rank0).step(inputs); });

#include "runtime/reference/HostTensor.h"

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace reel::reference {

/// What one rank sees of its group.
class Communicator {
 public:
  virtual ~Communicator() = default;
  [[nodiscard]] virtual int64_t rank() const = 0;
  [[nodiscard]] virtual int64_t ranks() const = 0;
  /// The elementwise sum of every rank's `local` (f32, one shape), added in rank order in
  /// double and rounded once, so every rank gets the same values.
  virtual HostTensor allReduceSum(const HostTensor& local) = 0;
  /// Every rank's `local` (f32, one shape) side by side, rank 0's columns first.
  virtual HostTensor allGatherColumns(const HostTensor& local) = 0;
};

/// Ranks in one process, each on its own thread: a collective returns once every rank has
/// called it. A rank that fails abandons the group, and the ranks waiting in a collective
/// fail too instead of waiting for it.
class InProcessGroup {
 public:
  explicit InProcessGroup(int64_t ranks);
  InProcessGroup(const InProcessGroup&) = delete;
  InProcessGroup& operator=(const InProcessGroup&) = delete;
  ~InProcessGroup();

  [[nodiscard]] int64_t ranks() const { return static_cast<int64_t>(slots_.size()); }
  /// The communicator of rank `rank`.
  Communicator& member(int64_t rank);

  /// Runs `work(rank)` for every rank, each on its own thread, and waits for all of them;
  /// rethrows the error of the rank that failed first.
  void runRanks(const std::function<void(int64_t rank)>& work);

 private:
  class Member;
  /// How a collective combines the ranks' tensors (in rank order).
  using Combine = HostTensor (*)(const std::vector<const HostTensor*>& tensors);
  friend class Member;

  /// Hands `local` in for rank `rank` and returns the combined result once every rank has.
  HostTensor exchange(int64_t rank, const HostTensor& local, Combine combine);
  /// Marks the group failed by `rank` and wakes every rank waiting in a collective.
  void abandon(int64_t rank);

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<const HostTensor*> slots_;
  std::vector<Combine> combines_;
  int64_t arrived_ = 0;
  uint64_t generation_ = 0;
  std::optional<int64_t> failedRank_;
  HostTensor combined_;
  std::vector<std::unique_ptr<Member>> members_;
};

}  // namespace reel::reference
