// GPU tests of the tensor-core prefill attention (attn_prefill_flash) against the
// double-precision CPU reference over the same f16 cache, on fresh random inputs, outputs
// poisoned first, and every cache entry no row attends to poisoned too (NaN: the kernel must
// neither read such entries into a row's result nor let them leak through a zero probability).
// Tolerances: the kernel feeds q (scaled) and each row's probabilities to the mma as an f16
// part plus its f16 remainder (f32 accumulation and softmax), about 2^-22 relative per term, so
// it is held to what attn_prefill (f32 on the CUDA cores, run on the same rows) is held to: max
// abs error < 2e-4 and relative L2 < 1e-4 (a wrong fragment layout or mask gives errors of
// order 1).
#include "AttentionRef.h"
#include "GpuTestUtil.h"
#include "quant/QuantRef.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

using namespace reel;
using namespace reel::test;

namespace {

/// Rows of one prefill launch: (slot, position) pairs (slot -1: a padding row) and a window.
struct PrefillCase {
  Shape shape;
  std::vector<int32_t> slots, positions;
  int64_t window = 0;
};

/// Sets every cache entry (K and V, all KV heads) that no row attends to to NaN.
void poisonUnattended(const PrefillCase& c, Cache& cache) {
  const Shape& s = c.shape;
  constexpr uint16_t kNaN = 0x7E00;
  for (int64_t slot = 0; slot < s.slots; ++slot) {
    for (int64_t pos = 0; pos < s.maxCtx; ++pos) {
      bool attended = false;
      for (size_t i = 0; i < c.slots.size(); ++i) {
        const int64_t end = c.positions[i] + 1, first = c.window > 0 ? std::max<int64_t>(0, end - c.window) : 0;
        attended |= c.slots[i] == slot && first <= pos && pos < end;
      }
      if (attended) continue;
      const auto at = static_cast<size_t>((slot * s.maxCtx + pos) * s.width());
      std::fill_n(cache.k.begin() + static_cast<std::ptrdiff_t>(at), s.width(), kNaN);
      std::fill_n(cache.v.begin() + static_cast<std::ptrdiff_t>(at), s.width(), kNaN);
    }
  }
  cache.dk.upload(cache.k);
  cache.dv.upload(cache.v);
}

void checkFlashPrefill(const PrefillCase& c) {
  const Shape& s = c.shape;
  const uint32_t seed = freshSeed();
  INFO("heads " << s.nHeads << "/" << s.nKvHeads << " hd " << s.headDim << " rows " << c.slots.size() << " window "
                << c.window << " seed " << seed);
  Cache cache(s, seed);
  poisonUnattended(c, cache);
  const int64_t m = static_cast<int64_t>(c.slots.size()), qStride = s.nHeads * s.headDim + 8;  // padded rows
  const auto q = randomFloats(static_cast<size_t>(m * qStride), seed + 2);
  std::vector<int32_t> lens(c.positions.size());
  for (size_t i = 0; i < lens.size(); ++i) lens[i] = c.slots[i] < 0 ? 0 : c.positions[i] + 1;
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.headDim));
  const auto expect = attentionRef(s, cache, q, qStride, c.slots, lens, c.window, scale);
  DeviceBuffer<float> dq(q), out(expect.size());
  DeviceBuffer<int32_t> dslots(c.slots), dpos(c.positions);
  const std::vector<void*> ptrs = {dq.get(), cache.dk.get(), cache.dv.get(), dslots.get(), dpos.get(), out.get()};
  const std::vector<int64_t> ints = {m, s.nHeads, s.nKvHeads, s.headDim, s.maxCtx, c.window, qStride};
  out.poison();
  CUDA_REQUIRE(run({"attn_prefill_flash", ptrs, ints, {scale}}));
  const auto flash = out.download();
  CHECK(maxAbsDiff(flash, expect) < 2e-4);
  CHECK(relL2(flash, expect) < 1e-4);
  out.poison();
  CUDA_REQUIRE(run({"attn_prefill", ptrs, ints, {scale}}));
  CHECK(maxAbsDiff(out.download(), expect) < 2e-4);
}

/// `count` rows of `slot` at consecutive positions from `first`, appended to `c`.
void addRun(PrefillCase& c, int32_t slot, int32_t first, int32_t count) {
  for (int32_t i = 0; i < count; ++i) {
    c.slots.push_back(slot);
    c.positions.push_back(first + i);
  }
}

}  // namespace

TEST_CASE("flash prefill: two sequences in one row tile, a padding row (sanitizer-sized)",
          "[attention][prefill][sanitize]") {
  // Rows 0..29 of slot 2, then 40 of slot 0: the first 64-row tile and the 16-row tile of
  // rows 16..31 both straddle the two slots; row 10 is padding. 70 rows: a partial second tile.
  PrefillCase c{{4, 2, 64, 160, 3}, {}, {}};
  addRun(c, 2, 5, 30);
  addRun(c, 0, 0, 40);
  c.slots[10] = -1;
  checkFlashPrefill(c);
  c.window = 7;
  checkFlashPrefill(c);
}

TEST_CASE("flash prefill: Llama-3-8B heads (GQA 4, head_dim 128), a chunk at an offset, window",
          "[attention][prefill]") {
  // 150 rows from position 37: ranges that are no multiple of the 32-key tile, 3 row tiles.
  PrefillCase c{{32, 8, 128, 400, 2}, {}, {}};
  addRun(c, 1, 37, 150);
  checkFlashPrefill(c);
  c.window = 50;
  checkFlashPrefill(c);
}

TEST_CASE("flash prefill: rows of alternating slots, MHA, head_dim 64", "[attention][prefill]") {
  // Five rows of each of 3 slots in turn (every 16-row tile holds all three), 100 rows.
  PrefillCase c{{4, 4, 64, 100, 3}, {}, {}};
  for (int32_t i = 0; i < 20; ++i) addRun(c, i % 3, 5 * (i / 3), 5);
  checkFlashPrefill(c);
}

TEST_CASE("flash prefill: rows of one slot far apart with a window (holes), the tiny model's heads",
          "[attention][prefill][sanitize]") {
  // head_dim 32, GQA 4. With window 10 the rows at 3..5 and at 120..130 of slot 1 leave
  // positions 6..110 unattended (NaN) inside the tile's key range.
  PrefillCase c{{8, 2, 32, 200, 2}, {}, {}, 10};
  addRun(c, 1, 3, 3);
  addRun(c, 1, 120, 11);
  addRun(c, 0, 60, 4);
  checkFlashPrefill(c);
}
