#include "runtime/reference/Collectives.h"

#include "support/Diagnostics.h"

#include <algorithm>
#include <exception>
#include <thread>

namespace reel::reference {

namespace {

void requireSameShapes(const std::vector<const HostTensor*>& tensors) {
  for (const HostTensor* tensor : tensors)
    if (tensor->kind != HostKind::F32 || tensor->rows != tensors[0]->rows || tensor->cols != tensors[0]->cols)
      failPlain("collective: the ranks hand in tensors of different kinds or shapes ({}x{} vs {}x{})", tensor->rows,
                tensor->cols, tensors[0]->rows, tensors[0]->cols);
}

HostTensor sumInRankOrder(const std::vector<const HostTensor*>& tensors) {
  requireSameShapes(tensors);
  HostTensor sum = HostTensor::zeros(HostKind::F32, tensors[0]->rows, tensors[0]->cols);
  for (size_t i = 0; i < sum.f32.size(); ++i) {
    double total = 0.0;
    for (const HostTensor* tensor : tensors) total += static_cast<double>(tensor->f32[i]);
    sum.f32[i] = static_cast<float>(total);
  }
  return sum;
}

HostTensor columnsSideBySide(const std::vector<const HostTensor*>& tensors) {
  requireSameShapes(tensors);
  const int64_t width = tensors[0]->cols;
  HostTensor gathered =
      HostTensor::zeros(HostKind::F32, tensors[0]->rows, width * static_cast<int64_t>(tensors.size()));
  for (int64_t r = 0; r < gathered.rows; ++r)
    for (size_t rank = 0; rank < tensors.size(); ++rank)
      std::copy_n(tensors[rank]->row(r), width, gathered.row(r) + static_cast<int64_t>(rank) * width);
  return gathered;
}

}  // namespace

class InProcessGroup::Member final : public Communicator {
 public:
  Member(InProcessGroup& group, int64_t rank) : group_(group), rank_(rank) {}
  [[nodiscard]] int64_t rank() const override { return rank_; }
  [[nodiscard]] int64_t ranks() const override { return group_.ranks(); }
  HostTensor allReduceSum(const HostTensor& local) override { return group_.exchange(rank_, local, sumInRankOrder); }
  HostTensor allGatherColumns(const HostTensor& local) override {
    return group_.exchange(rank_, local, columnsSideBySide);
  }

 private:
  InProcessGroup& group_;
  int64_t rank_;
};

InProcessGroup::InProcessGroup(int64_t ranks) {
  if (ranks < 1) failPlain("a tensor-parallel group needs at least one rank, got {}", ranks);
  slots_.assign(static_cast<size_t>(ranks), nullptr);
  combines_.assign(static_cast<size_t>(ranks), nullptr);
  for (int64_t rank = 0; rank < ranks; ++rank) members_.push_back(std::make_unique<Member>(*this, rank));
}

InProcessGroup::~InProcessGroup() = default;

Communicator& InProcessGroup::member(int64_t rank) {
  if (rank < 0 || rank >= ranks()) failPlain("rank {} is outside the group of {}", rank, ranks());
  return *members_[static_cast<size_t>(rank)];
}

HostTensor InProcessGroup::exchange(int64_t rank, const HostTensor& local, Combine combine) {
  std::unique_lock lock(mutex_);
  if (failedRank_) failPlain("collective on rank {}: rank {} failed", rank, *failedRank_);
  slots_[static_cast<size_t>(rank)] = &local;
  combines_[static_cast<size_t>(rank)] = combine;
  const uint64_t generation = generation_;
  if (++arrived_ < ranks()) {
    changed_.wait(lock, [&] { return generation_ != generation || failedRank_; });
    if (generation_ == generation) failPlain("collective on rank {}: rank {} failed", rank, *failedRank_);
    return combined_;
  }
  // The last rank to arrive combines, while the others wait with their tensors alive.
  for (Combine other : combines_)
    if (other != combine) failPlain("collective on rank {}: the ranks call different collectives", rank);
  combined_ = combine(slots_);
  arrived_ = 0;
  ++generation_;
  changed_.notify_all();
  return combined_;
}

void InProcessGroup::abandon(int64_t rank) {
  std::lock_guard lock(mutex_);
  if (!failedRank_) failedRank_ = rank;
  changed_.notify_all();
}

void InProcessGroup::runRanks(const std::function<void(int64_t rank)>& work) {
  {
    std::lock_guard lock(mutex_);
    arrived_ = 0;
    failedRank_.reset();
  }
  std::vector<std::exception_ptr> errors(static_cast<size_t>(ranks()));
  std::vector<std::thread> threads;
  for (int64_t rank = 0; rank < ranks(); ++rank) {
    threads.emplace_back([&, rank] {
      try {
        work(rank);
      } catch (...) {
        errors[static_cast<size_t>(rank)] = std::current_exception();
        abandon(rank);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  if (failedRank_) std::rethrow_exception(errors[static_cast<size_t>(*failedRank_)]);
}

}  // namespace reel::reference
