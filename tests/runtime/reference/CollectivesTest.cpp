// The in-process group of simulated ranks: what its collectives return on every rank, and
// that a failing rank releases the ranks waiting for it instead of leaving them hung.

#include "runtime/reference/Collectives.h"
#include "support/Diagnostics.h"

#include <catch2/catch.hpp>

using namespace reel;
using namespace reel::reference;

namespace {

/// Rank r's tensor: one row of two values, r + 1 and 10 * (r + 1).
HostTensor rankRow(int64_t rank) {
  HostTensor tensor = HostTensor::zeros(HostKind::F32, 1, 2);
  tensor.f32 = {static_cast<float>(rank + 1), static_cast<float>(10 * (rank + 1))};
  return tensor;
}

}  // namespace

TEST_CASE("every rank gets the sum and the gathered columns", "[shard][collectives]") {
  InProcessGroup group(3);
  std::vector<HostTensor> sums(3);
  std::vector<HostTensor> gathered(3);
  group.runRanks([&](int64_t rank) {
    Communicator& self = group.member(rank);
    sums[static_cast<size_t>(rank)] = self.allReduceSum(rankRow(rank));
    gathered[static_cast<size_t>(rank)] = self.allGatherColumns(rankRow(rank));
  });
  for (size_t rank = 0; rank < 3; ++rank) {
    CHECK(sums[rank].f32 == std::vector<float>{6, 60});
    CHECK(gathered[rank].cols == 6);
    CHECK(gathered[rank].f32 == std::vector<float>{1, 10, 2, 20, 3, 30});
  }
}

TEST_CASE("a rank that fails releases the ranks waiting in a collective", "[shard][collectives]") {
  InProcessGroup group(2);
  auto work = [&](int64_t rank) {
    if (rank == 1) failPlain("rank 1 cannot read its weights");
    (void)group.member(rank).allReduceSum(rankRow(rank));
  };
  REQUIRE_THROWS_WITH(group.runRanks(work), "rank 1 cannot read its weights");
  // The group runs again afterwards.
  std::vector<HostTensor> sums(2);
  group.runRanks(
      [&](int64_t rank) { sums[static_cast<size_t>(rank)] = group.member(rank).allReduceSum(rankRow(rank)); });
  CHECK(sums[1].f32 == std::vector<float>{3, 30});
}
