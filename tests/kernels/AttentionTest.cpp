// GPU tests of KV append, batched decode attention, flash-decoding and prefill attention against
// a double-precision CPU reference over the same f16 cache.
// Tolerances: KV append bit-exact (f16 round to nearest even); attention outputs (f32 math on
// f16 K/V) max abs error < 2e-4 and relative L2 < 1e-5; flash-decoding vs batched decode
// max abs < 2e-5.
#include "AttentionRef.h"
#include "GpuTestUtil.h"
#include "quant/QuantRef.h"

#include <algorithm>
#include <cmath>

using namespace reel;
using namespace reel::test;

namespace {

/// Runs attn_decode (and, with splits > 1, the flash-decoding pair) and checks both.
/// The Q8_1 row-planar bytes quantize_q8_1 writes for f32 rows of `width` (the reference of
/// the kernels' Q8_1 epilogue).
std::vector<uint8_t> q81Rows(const std::vector<float>& rows, int64_t width) {
  const int64_t m = static_cast<int64_t>(rows.size()) / width;
  std::vector<uint8_t> out(quant::q81RowBytes(width) * static_cast<size_t>(m));
  std::vector<quant::BlockQ81> blocks(static_cast<size_t>(width / 32));
  for (int64_t i = 0; i < m; ++i) {
    quant::quantizeQ81(rows.data() + i * width, blocks.data(), width);
    quant::q81BlocksToPlanar(blocks.data(), out.data() + i * quant::q81RowBytes(width), width);
  }
  return out;
}

/// Runs `id` (an attention kernel whose last pointer is the output) with a Q8_1 output in
/// place of the f32 one, and checks its bytes against quantize_q8_1 of the f32 result.
void checkQ81Output(const std::string& id, std::vector<void*> ptrs, const std::vector<int64_t>& ints,
                    const std::vector<float>& floats, const std::vector<float>& f32Result, int64_t width) {
  INFO(id);
  DeviceBuffer<uint8_t> q81(quant::q81RowBytes(width) * f32Result.size() / static_cast<size_t>(width));
  q81.poison();
  ptrs.back() = q81.get();
  CUDA_REQUIRE(run({id, ptrs, ints, floats}));
  CHECK(q81.download() == q81Rows(f32Result, width));
}

void checkDecode(const Shape& s, const std::vector<int32_t>& slots, const std::vector<int32_t>& lens, int64_t window,
                 int64_t splits) {
  const uint32_t seed = freshSeed();
  INFO("heads " << s.nHeads << "/" << s.nKvHeads << " hd " << s.headDim << " window " << window << " splits " << splits
                << " seed " << seed);
  const Cache cache(s, seed);
  const int64_t m = static_cast<int64_t>(slots.size()), qStride = s.nHeads * s.headDim + 16;  // padded rows
  const auto q = randomFloats(static_cast<size_t>(m * qStride), seed + 2);
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.headDim));
  const auto expect = attentionRef(s, cache, q, qStride, slots, lens, window, scale);
  DeviceBuffer<float> dq(q), out(expect.size());
  DeviceBuffer<int32_t> dslots(slots), dlens(lens);
  const std::vector<int64_t> ints = {m, s.nHeads, s.nKvHeads, s.headDim, s.maxCtx, window, qStride};
  out.poison();
  CUDA_REQUIRE(run({"attn_decode",
                    {dq.get(), cache.dk.get(), cache.dv.get(), dslots.get(), dlens.get(), out.get()},
                    ints,
                    {scale}}));
  const auto batched = out.download();
  CHECK(maxAbsDiff(batched, expect) < 2e-4);
  CHECK(relL2(batched, expect) < 1e-5);
  const int64_t width = s.nHeads * s.headDim;
  if (s.headDim % 32 == 0) {
    checkQ81Output("attn_decode_q8_1", {dq.get(), cache.dk.get(), cache.dv.get(), dslots.get(), dlens.get(), nullptr},
                   ints, {scale}, batched, width);
  }
  if (splits > 1) {
    DeviceBuffer<float> part(static_cast<size_t>(m * s.nHeads * splits * s.headDim)),
        ml(static_cast<size_t>(m * s.nHeads * splits * 2));
    part.poison();
    ml.poison();
    auto splitInts = ints;
    splitInts.push_back(splits);
    CUDA_REQUIRE(run({"attn_decode_split",
                      {dq.get(), cache.dk.get(), cache.dv.get(), dslots.get(), dlens.get(), part.get(), ml.get()},
                      splitInts,
                      {scale}}));
    out.poison();
    CUDA_REQUIRE(run({"attn_decode_reduce", {part.get(), ml.get(), out.get()}, {m, s.nHeads, s.headDim, splits}, {}}));
    const auto flash = out.download();
    CHECK(maxAbsDiff(flash, batched) < 2e-5);
    CHECK(maxAbsDiff(flash, expect) < 2e-4);
    if (s.headDim % 32 == 0) {
      checkQ81Output("attn_decode_reduce_q8_1", {part.get(), ml.get(), nullptr}, {m, s.nHeads, s.headDim, splits}, {},
                     flash, width);
    }
  }
}

}  // namespace

TEST_CASE("kv_append writes f16 rows at slot and position, skips padding", "[attention][sanitize]") {
  const Shape s{8, 4, 64, 8, 3};
  const int64_t stride = 3 * s.width();  // K and V inside fused QKV rows
  const std::vector<int32_t> slots = {2, -1, 0, 2}, positions = {5, 3, 0, 6};
  const int64_t m = 4;
  const auto rows = randomFloats(static_cast<size_t>(m * stride), freshSeed());
  std::vector<uint16_t> k(static_cast<size_t>(s.cacheElems()), 0x7E00), v(k.size(), 0x7E00);  // NaN pattern
  DeviceBuffer<uint16_t> dk(k), dv(v);
  DeviceBuffer<float> drows(rows);
  DeviceBuffer<int32_t> dslots(slots), dpos(positions);
  CUDA_REQUIRE(
      run({"kv_append",
           {drows.get() + s.width(), drows.get() + 2 * s.width(), dk.get(), dv.get(), dslots.get(), dpos.get()},
           {m, s.nKvHeads, s.headDim, s.maxCtx, stride, stride},
           {}}));
  for (int64_t i = 0; i < m; ++i) {
    if (slots[i] < 0) continue;
    for (int64_t e = 0; e < s.width(); ++e) {
      const int64_t at = (slots[i] * s.maxCtx + positions[i]) * s.width() + e;
      k[at] = quant::f32ToF16(rows[i * stride + s.width() + e]);
      v[at] = quant::f32ToF16(rows[i * stride + 2 * s.width() + e]);
    }
  }
  CHECK(dk.download() == k);
  CHECK(dv.download() == v);
}

TEST_CASE("batched decode attention, small (sanitizer-sized)", "[attention][sanitize]") {
  const Shape s{4, 1, 64, 160, 3};
  checkDecode(s, {2, 0, 1}, {0, 5, 150}, 0, 1);
  checkDecode(s, {2, 0, 1}, {0, 5, 150}, 7, 3);
}

TEST_CASE("batched decode attention: GQA 4, padding row, different lengths, window", "[attention]") {
  const Shape s{32, 8, 128, 600, 5};
  const std::vector<int32_t> slots = {3, 0, 4, 1, 2}, lens = {1, 37, 0, 300, 513};
  checkDecode(s, slots, lens, 0, 1);
  checkDecode(s, slots, lens, 100, 1);
  checkDecode(Shape{8, 8, 256, 300, 3}, {0, 1, 2}, {299, 129, 128}, 0, 1);  // MHA, head_dim 256
}

TEST_CASE("batched decode attention: ragged groups and head dims", "[attention]") {
  checkDecode(Shape{14, 2, 64, 300, 2}, {1, 0}, {259, 6}, 0, 1);  // group 7 (Qwen2.5-0.5B), head_dim 64
  checkDecode(Shape{6, 2, 80, 200, 2}, {0, 1}, {3, 133}, 0, 1);   // group 3, head_dim 80
  checkDecode(Shape{8, 2, 32, 100, 2}, {1, 0}, {17, 99}, 0, 2);   // the tiny model: group 4, head_dim 32
  checkDecode(Shape{2, 1, 8, 50, 1}, {0}, {41}, 0, 3);            // head_dim 8, the smallest
}

TEST_CASE("flash-decoding equals batched decode at long contexts", "[attention]") {
  const Shape s{32, 8, 128, 3072, 3};
  checkDecode(s, {1, 0, 2}, {3000, 1, 0}, 0, 16);
  checkDecode(s, {1, 0, 2}, {3000, 1, 0}, 1000, 7);
}

TEST_CASE("prefill attention is causal over the appended tokens", "[attention]") {
  const Shape s{32, 8, 128, 64, 2};
  const uint32_t seed = freshSeed();
  INFO("seed " << seed);
  Cache cache(s, seed);
  const int64_t m = 7, start = 20, slot = 1, qkvStride = (s.nHeads + 2 * s.nKvHeads) * s.headDim;
  const auto qkv = randomFloats(static_cast<size_t>(m * qkvStride), seed + 5);
  std::vector<int32_t> slots(m, static_cast<int32_t>(slot)), positions(m), lens(m);
  for (int64_t i = 0; i < m; ++i) {
    positions[i] = static_cast<int32_t>(start + i);
    lens[i] = positions[i] + 1;
    for (int64_t e = 0; e < s.width(); ++e) {
      const int64_t at = (slot * s.maxCtx + start + i) * s.width() + e;
      cache.k[at] = quant::f32ToF16(qkv[i * qkvStride + s.nHeads * s.headDim + e]);
      cache.v[at] = quant::f32ToF16(qkv[i * qkvStride + s.nHeads * s.headDim + s.width() + e]);
    }
  }
  DeviceBuffer<float> dqkv(qkv), out(static_cast<size_t>(m * s.nHeads * s.headDim));
  DeviceBuffer<int32_t> dslots(slots), dpos(positions);
  float* base = dqkv.get();
  CUDA_REQUIRE(run({"kv_append",
                    {base + s.nHeads * s.headDim, base + s.nHeads * s.headDim + s.width(), cache.dk.get(),
                     cache.dv.get(), dslots.get(), dpos.get()},
                    {m, s.nKvHeads, s.headDim, s.maxCtx, qkvStride, qkvStride},
                    {}}));
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.headDim));
  for (int64_t window : {0, 5}) {
    INFO("window " << window);
    out.poison();
    CUDA_REQUIRE(run({"attn_prefill",
                      {base, cache.dk.get(), cache.dv.get(), dslots.get(), dpos.get(), out.get()},
                      {m, s.nHeads, s.nKvHeads, s.headDim, s.maxCtx, window, qkvStride},
                      {scale}}));
    const auto expect = attentionRef(s, cache, qkv, qkvStride, slots, lens, window, scale);
    CHECK(maxAbsDiff(out.download(), expect) < 2e-4);
  }
}

namespace {

/// One case of the fused RoPE + KV append + attention kernels against the separate launches
/// (rope on q, rope on k, kv_append, attention) on two copies of one cache.
struct RopeCase {
  Shape shape;
  std::vector<int32_t> slots, lens;  ///< lens[i] = positions[i] + 1 (0: a padding row)
  int64_t splits = 1;
  bool neox = false;
  std::vector<float> rotation = {10000.0f, 1.0f, 1.0f, 1.0f, 0.0f};  ///< the rope kernels' floats
};

std::vector<float> halvesToFloats(const std::vector<uint16_t>& h) {
  std::vector<float> f(h.size());
  for (size_t i = 0; i < h.size(); ++i) f[i] = quant::f16ToF32(h[i]);
  return f;
}

void checkFusedRope(const RopeCase& c) {
  const Shape& s = c.shape;
  const uint32_t seed = freshSeed();
  INFO("heads " << s.nHeads << "/" << s.nKvHeads << " hd " << s.headDim << " splits " << c.splits << " neox " << c.neox
                << " seed " << seed);
  const Cache separate(s, seed), fused(s, seed);
  const int64_t m = static_cast<int64_t>(c.slots.size());
  const int64_t qStride = s.nHeads * s.headDim, kvStride = s.width() + 8;  // padded K and V rows
  const auto q = randomFloats(static_cast<size_t>(m * qStride), seed + 2);
  const auto k = randomFloats(static_cast<size_t>(m * kvStride), seed + 3);
  const auto v = randomFloats(k.size(), seed + 4);
  std::vector<int32_t> positions(c.lens.size());
  for (size_t i = 0; i < positions.size(); ++i) positions[i] = std::max(c.lens[i] - 1, 0);
  DeviceBuffer<float> dq(q), dk(k), dv(v), qRot(q), kRot(k);
  DeviceBuffer<int32_t> dslots(c.slots), dlens(c.lens), dpos(positions);
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.headDim));
  const std::string rope = c.neox ? "rope_neox" : "rope_norm";

  // Separate: rotate copies of q and k, append, attend.
  CUDA_REQUIRE(run({rope, {qRot.get(), nullptr, dpos.get()}, {m, s.nHeads, 0, s.headDim, qStride, 0}, c.rotation}));
  CUDA_REQUIRE(run({rope, {kRot.get(), nullptr, dpos.get()}, {m, s.nKvHeads, 0, s.headDim, kvStride, 0}, c.rotation}));
  CUDA_REQUIRE(run({"kv_append",
                    {kRot.get(), dv.get(), separate.dk.get(), separate.dv.get(), dslots.get(), dpos.get()},
                    {m, s.nKvHeads, s.headDim, s.maxCtx, kvStride, kvStride},
                    {}}));
  const std::vector<int64_t> ints = {m, s.nHeads, s.nKvHeads, s.headDim, s.maxCtx, 0, qStride};
  const size_t outSize = static_cast<size_t>(m * s.nHeads * s.headDim);
  DeviceBuffer<float> expected(outSize), out(outSize);
  expected.poison();
  CUDA_REQUIRE(run({"attn_decode",
                    {qRot.get(), separate.dk.get(), separate.dv.get(), dslots.get(), dlens.get(), expected.get()},
                    ints,
                    {scale}}));

  // Fused, on the other copy of the cache.
  std::vector<float> floats = {scale};
  floats.insert(floats.end(), c.rotation.begin(), c.rotation.end());
  std::vector<int64_t> fusedInts = ints;
  if (c.splits > 1) fusedInts.push_back(c.splits);
  fusedInts.insert(fusedInts.end(), {kvStride, kvStride, c.neox ? 1 : 0});
  std::vector<void*> ptrs = {dq.get(),       dk.get(),     dv.get(),    fused.dk.get(),
                             fused.dv.get(), dslots.get(), dlens.get(), dpos.get()};
  out.poison();
  if (c.splits == 1) {
    ptrs.push_back(out.get());
    CUDA_REQUIRE(run({"attn_decode_rope", ptrs, fusedInts, floats}));
  } else {
    DeviceBuffer<float> part(static_cast<size_t>(m * s.nHeads * c.splits * s.headDim)),
        ml(static_cast<size_t>(m * s.nHeads * c.splits * 2));
    part.poison();
    ml.poison();
    ptrs.push_back(part.get());
    ptrs.push_back(ml.get());
    CUDA_REQUIRE(run({"attn_decode_split_rope", ptrs, fusedInts, floats}));
    CUDA_REQUIRE(
        run({"attn_decode_reduce", {part.get(), ml.get(), out.get()}, {m, s.nHeads, s.headDim, c.splits}, {}}));
  }
  // The same rotation code either way; the split path sums in another order.
  const auto want = expected.download();
  const auto got = out.download();
  CHECK(maxAbsDiff(got, want) < (c.splits > 1 ? 2e-5 : 1e-5));
  CHECK(relL2(got, want) < 1e-5);
  CHECK(maxAbsDiff(halvesToFloats(fused.dk.download()), halvesToFloats(separate.dk.download())) < 2e-3);
  CHECK(fused.dv.download() == separate.dv.download());
  if (c.splits == 1 && s.headDim % 32 == 0) {
    // The Q8_1 variant on the same cache: it appends the same row again, then writes Q8_1.
    checkQ81Output("attn_decode_rope_q8_1", ptrs, fusedInts, floats, got, s.nHeads * s.headDim);
  }
}

}  // namespace

TEST_CASE("fused RoPE + KV append + decode attention equals the separate launches", "[attention][rope][sanitize]") {
  // A padding row (slot -1), a row at position 0, GQA 4, both styles, llama3 scaling.
  checkFusedRope({{8, 2, 64, 40, 4}, {2, -1, 0, 3}, {17, 0, 1, 40}});
  checkFusedRope({{8, 2, 64, 40, 4}, {1, 3, 0}, {5, 33, 12}, 1, true});
  checkFusedRope({{8, 8, 128, 64, 2}, {1, 0}, {64, 9}, 1, false, {500000.0f, 8.0f, 1.0f, 4.0f, 8192.0f}});
}

TEST_CASE("fused RoPE + KV append in flash-decoding: the split holding the position appends", "[attention][rope]") {
  checkFusedRope({{32, 8, 128, 2048, 3}, {2, 0, 1}, {2000, 1, 1537}, 16});
  checkFusedRope({{32, 8, 128, 2048, 3}, {0, 1, 2}, {1024, 0, 513}, 5, true});
}
