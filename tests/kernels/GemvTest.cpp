// GPU tests of the Q8_1 quantizer and the DP4A GEMVs against quant/QuantRef.
// Tolerances: the quantizer is bit-identical to quant::quantizeQ81; the GEMV is expected to equal
// quant::dotQ81 bit for bit (checked, reported) and must agree within 1e-5 of each row's
// sum |w x|; against the float dot of dequantized weights and float activations, relative L2 < 1e-2.
#include "GpuTestUtil.h"
#include "kernels/Gemv.h"
#include "kernels/GemvShape.h"
#include "kernels/KernelCatalog.h"
#include "quant/QuantRef.h"
#include "tests/kernels/LateWriter.h"

#include <cmath>
#include <deque>

using namespace reel;
using namespace reel::test;
using quant::QType;

namespace {

/// Every weight type of the DP4A GEMV, and those of them with 32-element blocks.
constexpr QType kGemvTypes[] = {QType::Q4_K, QType::Q6_K, QType::Q8_0, QType::Q5_0,
                                QType::Q4_0, QType::Q5_K, QType::Q5_1};
constexpr QType kBlock32Types[] = {QType::Q8_0, QType::Q5_0, QType::Q4_0, QType::Q5_1};

/// One weight matrix in both layouts.
struct QuantWeights {
  std::vector<float> dense;     // the float weights it came from
  std::vector<uint8_t> gguf;    // GGUF rows (what dotQ81 reads)
  std::vector<uint8_t> device;  // what the kernel reads (row-planar where needed)
};

QuantWeights makeWeights(QType type, int64_t n, int64_t k, uint32_t seed) {
  QuantWeights w;
  w.dense = randomFloats(static_cast<size_t>(n * k), seed, 0.02f);
  const size_t row = quant::rowBytes(type, k);
  w.gguf.resize(row * static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) quant::quantizeRow(type, w.dense.data() + r * k, w.gguf.data() + r * row, k);
  if (quant::needsRowPlanar(type)) {
    w.device.resize(quant::planarRowBytes(type, k) * static_cast<size_t>(n));
    quant::repackRowPlanar(type, w.gguf.data(), w.device.data(), n, k);
  } else {
    w.device = w.gguf;
  }
  return w;
}

/// Activations: m rows, their Q8_1 blocks (CPU) and the row-planar bytes.
struct Activations {
  std::vector<float> x;
  std::vector<quant::BlockQ81> blocks;
  std::vector<uint8_t> planar;
};

Activations makeActivations(int m, int64_t k, uint32_t seed) {
  Activations a;
  a.x = randomFloats(static_cast<size_t>(m * k), seed, 1.0f, 0.1f);
  a.blocks.resize(static_cast<size_t>(m * k / 32));
  a.planar.resize(quant::q81RowBytes(k) * static_cast<size_t>(m));
  for (int i = 0; i < m; ++i) {
    quant::quantizeQ81(a.x.data() + i * k, a.blocks.data() + i * k / 32, k);
    quant::q81BlocksToPlanar(a.blocks.data() + i * k / 32, a.planar.data() + i * quant::q81RowBytes(k), k);
  }
  return a;
}

/// CPU references [m][n]: the DP4A-exact dot, the float dot, and sum |w x| per output.
struct Reference {
  std::vector<float> exact, dense, absSum;
};

Reference reference(QType type, const QuantWeights& w, const Activations& a, int64_t n, int64_t k, int m) {
  Reference r;
  const size_t row = quant::rowBytes(type, k);
  r.exact.resize(static_cast<size_t>(m * n));
  r.dense.resize(r.exact.size());
  r.absSum.resize(r.exact.size());
  std::vector<float> wd(static_cast<size_t>(k));
  for (int64_t j = 0; j < n; ++j) {
    quant::dequantizeRow(type, w.gguf.data() + j * row, wd.data(), k);
    for (int i = 0; i < m; ++i) {
      const size_t o = static_cast<size_t>(i * n + j);
      r.exact[o] = quant::dotQ81(type, w.gguf.data() + j * row, a.blocks.data() + i * k / 32, k);
      double dense = 0.0, abs = 0.0;
      for (int64_t e = 0; e < k; ++e) {
        dense += static_cast<double>(wd[e]) * a.x[i * k + e];
        abs += std::fabs(static_cast<double>(wd[e]) * a.x[i * k + e]);
      }
      r.dense[o] = static_cast<float>(dense);
      r.absSum[o] = static_cast<float>(abs);
    }
  }
  return r;
}

float silu(float g) {
  return g / (1.0f + std::exp(-g));
}

/// Checks out (first m rows of the references) and returns how many outputs were not bit-exact.
int compare(const std::vector<float>& out, const Reference& ref, int m, int64_t n) {
  int inexact = 0;
  const std::vector<float> live(out.begin(), out.begin() + m * n);  // rows past m stay poisoned
  const std::vector<float> dense(ref.dense.begin(), ref.dense.begin() + m * n);
  for (int64_t o = 0; o < m * n; ++o) {
    REQUIRE(std::isfinite(live[o]));
    if (live[o] != ref.exact[o]) ++inexact;
    REQUIRE(std::fabs(live[o] - ref.exact[o]) <= 1e-5f * ref.absSum[o] + 1e-30f);
  }
  for (size_t o = live.size(); o < out.size(); ++o) REQUIRE(std::isnan(out[o]));  // nothing written past row m
  CHECK(relL2(live, dense) < 1e-2);
  return inexact;
}

/// Gate and up matrices of one shape (host and device), kGemvMaxM activation rows, and the
/// references of both, from a fresh seed.
struct GateUpCase {
  GateUpCase(QType type, int64_t n, int64_t k)
      : seed(freshSeed()),
        gate(makeWeights(type, n, k, seed)),
        up(makeWeights(type, n, k, seed + 1)),
        act(makeActivations(kernels::kGemvMaxM, k, seed + 2)),
        refGate(reference(type, gate, act, n, k, kernels::kGemvMaxM)),
        refUp(reference(type, up, act, n, k, kernels::kGemvMaxM)),
        wGate(gate.device),
        wUp(up.device) {}
  uint32_t seed;
  QuantWeights gate, up;
  Activations act;
  Reference refGate, refUp;
  DeviceBuffer<uint8_t> wGate, wUp;
};

void checkGemvShape(QType type, int64_t n, int64_t k, const std::vector<int>& ms) {
  const GateUpCase c(type, n, k);
  INFO("type " << quant::qtypeName(type) << " n " << n << " k " << k << " seed " << c.seed);
  DeviceBuffer<float> x(c.act.x);
  DeviceBuffer<uint8_t> q81(c.act.planar.size());
  DeviceBuffer<float> out0(static_cast<size_t>(kernels::kGemvMaxM * n)), out1(out0.size());
  int inexact = 0;
  for (int m : ms) {
    INFO("m " << m);
    // The GPU quantizer must reproduce the CPU bytes exactly.
    q81.poison();
    CUDA_REQUIRE(run({"quantize_q8_1", {x.get(), q81.get()}, {m, k}, {}}));
    const std::vector<uint8_t> q81Bytes = q81.download();
    REQUIRE(std::memcmp(q81Bytes.data(), c.act.planar.data(), quant::q81RowBytes(k) * static_cast<size_t>(m)) == 0);

    out0.poison();
    CUDA_REQUIRE(run({kernels::gemvKernelId(type), {c.wGate.get(), q81.get(), out0.get()}, {n, k, m, 1}, {}}));
    inexact += compare(out0.download(), c.refGate, m, n);

    out0.poison();
    out1.poison();
    CUDA_REQUIRE(run({kernels::gemvGateUpKernelId(type),
                      {c.wGate.get(), c.wUp.get(), q81.get(), out0.get(), out1.get()},
                      {n, k, m, 1},
                      {}}));
    inexact += compare(out0.download(), c.refGate, m, n);
    inexact += compare(out1.download(), c.refUp, m, n);

    // The SwiGLU epilogue has no catalog entry (no plan emits it): launched directly.
    out0.poison();
    kernels::GemvArgs swiglu;
    swiglu.type = type;
    swiglu.epilogue = kernels::GemvEpilogue::SwiGlu;
    swiglu.weights[0] = c.wGate.get();
    swiglu.weights[1] = c.wUp.get();
    swiglu.act = q81.get();
    swiglu.out[0] = out0.get();
    swiglu.n = n;
    swiglu.k = k;
    swiglu.m = static_cast<int>(m);
    CUDA_REQUIRE(kernels::launchGemvDp4a(swiglu, nullptr));
    CUDA_REQUIRE(cudaDeviceSynchronize());
    const std::vector<float> fused = out0.download();
    for (int64_t o = 0; o < m * n; ++o) {
      const float expect = silu(c.refGate.exact[o]) * c.refUp.exact[o];
      REQUIRE(std::fabs(fused[o] - expect) <= 1e-5f * (std::fabs(expect) + c.refGate.absSum[o] * c.refUp.absSum[o]));
    }
  }
  CHECK(inexact == 0);  // bit-exact agreement with quant::dotQ81 (the numerics contract)
}

/// Stacked GEMVs (2 and 3 matrices, row counts that split blocks of 4 rows) against the CPU
/// reference of each matrix alone: bit-exact like the plain GEMV, nothing written past row m.
void checkStacked(QType type, const std::vector<int64_t>& rows, int64_t k, const std::vector<int>& ms) {
  const uint32_t seed = freshSeed();
  INFO("type " << quant::qtypeName(type) << " matrices " << rows.size() << " k " << k << " seed " << seed);
  const Activations act = makeActivations(kernels::kGemvMaxM, k, seed);
  std::vector<QuantWeights> weights;
  std::vector<Reference> refs;
  std::deque<DeviceBuffer<uint8_t>> dw;  // deque: the buffers are not movable
  std::deque<DeviceBuffer<float>> outs;
  int64_t total = 0;
  for (size_t s = 0; s < rows.size(); ++s) {
    weights.push_back(makeWeights(type, rows[s], k, seed + 1 + static_cast<uint32_t>(s)));
    refs.push_back(reference(type, weights.back(), act, rows[s], k, kernels::kGemvMaxM));
    dw.emplace_back(weights.back().device);
    outs.emplace_back(static_cast<size_t>(kernels::kGemvMaxM * rows[s]));
    total += rows[s];
  }
  DeviceBuffer<uint8_t> q81(act.planar);
  const int count = static_cast<int>(rows.size());
  int inexact = 0;
  for (int m : ms) {
    INFO("m " << m);
    std::vector<void*> ptrs;
    for (auto& w : dw) ptrs.push_back(w.get());
    ptrs.push_back(q81.get());
    for (auto& o : outs) {
      o.poison();
      ptrs.push_back(o.get());
    }
    std::vector<int64_t> ints = {total, k, m, 1 + m % 2};  // both row-set counts
    ints.insert(ints.end(), rows.begin(), rows.end());
    CUDA_REQUIRE(run({kernels::gemvStackedKernelId(type, count), ptrs, ints, {}}));
    for (size_t s = 0; s < rows.size(); ++s) inexact += compare(outs[s].download(), refs[s], m, rows[s]);
  }
  CHECK(inexact == 0);
}

/// The row-set counts the kernel supports (a plan uses the one gemvRowSets picks per shape),
/// each on a ragged shape as a plain, a gate+up and a two-matrix stacked launch (the second
/// matrix starting mid-block): bit-exact against the CPU reference, nothing written past row m.
void checkRowSets(QType type, int64_t n, int64_t k, const std::vector<int>& ms) {
  const GateUpCase c(type, n, k);
  INFO("type " << quant::qtypeName(type) << " n " << n << " k " << k << " seed " << c.seed);
  DeviceBuffer<uint8_t> q81(c.act.planar);
  DeviceBuffer<float> out0(static_cast<size_t>(kernels::kGemvMaxM * n)), out1(out0.size());
  const size_t rowStride = c.gate.device.size() / static_cast<size_t>(n);
  const int64_t split = n / 3 + 1;  // the stacked launch's first matrix: rows [0, split) of gate
  for (const int rowSets : {1, 2}) {
    for (const int m : ms) {
      INFO("row sets " << rowSets << " m " << m);
      kernels::GemvArgs g;
      g.type = type;
      g.act = q81.get();
      g.n = n;
      g.k = k;
      g.m = m;
      g.rowSets = rowSets;
      g.weights[0] = c.wGate.get();
      g.out[0] = out0.get();
      out0.poison();
      CUDA_REQUIRE(kernels::launchGemvDp4a(g, nullptr));
      CUDA_REQUIRE(cudaDeviceSynchronize());
      CHECK(compare(out0.download(), c.refGate, m, n) == 0);

      // Stacked: rows [0, split) into out0, [split, n) into out1, each [m][rows].
      g.weights[1] = c.wGate.get() + static_cast<size_t>(split) * rowStride;
      g.out[1] = out1.get();
      g.stackRows[0] = split;
      g.stackRows[1] = n - split;
      out0.poison();
      out1.poison();
      CUDA_REQUIRE(kernels::launchGemvDp4a(g, nullptr));
      CUDA_REQUIRE(cudaDeviceSynchronize());
      const std::vector<float> first = out0.download(), second = out1.download();
      for (int i = 0; i < kernels::kGemvMaxM; ++i) {
        for (int64_t r = 0; r < n; ++r) {
          const bool inFirst = r < split;
          const float got = inFirst ? first[static_cast<size_t>(i * split + r)]
                                    : second[static_cast<size_t>(i * (n - split) + r - split)];
          if (i < m)
            REQUIRE(got == c.refGate.exact[static_cast<size_t>(i * n + r)]);
          else
            REQUIRE(std::isnan(got));
        }
      }

      g.stackRows[0] = g.stackRows[1] = 0;
      g.weights[1] = c.wUp.get();
      g.epilogue = kernels::GemvEpilogue::GateUp;
      out0.poison();
      out1.poison();
      CUDA_REQUIRE(kernels::launchGemvDp4a(g, nullptr));
      CUDA_REQUIRE(cudaDeviceSynchronize());
      CHECK(compare(out0.download(), c.refGate, m, n) == 0);
      CHECK(compare(out1.download(), c.refUp, m, n) == 0);
    }
  }
}

/// A mixed stack (Q4_K matrices, then a last Q6_K one) at both row-set counts: each matrix
/// bit-exact against its own CPU reference, nothing written past row m.
void checkMixedStack(const std::vector<int64_t>& rows, int64_t k, const std::vector<int>& ms) {
  const uint32_t seed = freshSeed();
  INFO("matrices " << rows.size() << " k " << k << " seed " << seed);
  const Activations act = makeActivations(kernels::kGemvMaxM, k, seed);
  std::vector<QuantWeights> weights;
  std::vector<Reference> refs;
  std::deque<DeviceBuffer<uint8_t>> dw;
  std::deque<DeviceBuffer<float>> outs;
  kernels::GemvArgs g;
  g.type = QType::Q4_K;
  g.lastType = QType::Q6_K;
  for (size_t s = 0; s < rows.size(); ++s) {
    const QType type = s + 1 == rows.size() ? QType::Q6_K : QType::Q4_K;
    weights.push_back(makeWeights(type, rows[s], k, seed + 1 + static_cast<uint32_t>(s)));
    refs.push_back(reference(type, weights.back(), act, rows[s], k, kernels::kGemvMaxM));
    dw.emplace_back(weights.back().device);
    outs.emplace_back(static_cast<size_t>(kernels::kGemvMaxM * rows[s]));
    g.weights[s] = dw.back().get();
    g.out[s] = outs.back().get();
    g.stackRows[s] = rows[s];
    g.n += rows[s];
  }
  DeviceBuffer<uint8_t> q81(act.planar);
  g.act = q81.get();
  g.k = k;
  int inexact = 0;
  for (const int rowSets : {1, 2}) {
    for (const int m : ms) {
      INFO("row sets " << rowSets << " m " << m);
      g.m = m;
      g.rowSets = rowSets;
      for (auto& o : outs) o.poison();
      CUDA_REQUIRE(kernels::launchGemvDp4a(g, nullptr));
      CUDA_REQUIRE(cudaDeviceSynchronize());
      for (size_t s = 0; s < rows.size(); ++s) inexact += compare(outs[s].download(), refs[s], m, rows[s]);
    }
  }
  CHECK(inexact == 0);
}

}  // namespace

TEST_CASE("stacked DP4A GEMVs equal each matrix alone", "[gemv][sanitize]") {
  for (QType type : kGemvTypes) {
    checkStacked(type, {37, 41, 101}, 512, {1, 4, 8});  // >= 37 rows each: enough outputs for the L2 check
    checkStacked(type, {64, 45}, 768, {1, 3});
  }
  // Rows that do not add up to n are refused by the catalog check and the launcher.
  const int64_t bad[kernels::kMaxIntArgs] = {100, 512, 1, 37, 62};
  CHECK_FALSE(kernels::checkKernelArgs(kernels::gemvStackedKernelId(QType::Q4_K, 2), bad).empty());
  kernels::GemvArgs g;
  DeviceBuffer<uint8_t> dummy(4096);
  DeviceBuffer<float> out(64);
  g.weights[0] = g.weights[1] = dummy.get();
  g.act = dummy.get();
  g.out[0] = g.out[1] = out.get();
  g.n = 100;
  g.k = 512;
  g.stackRows[0] = 37;
  g.stackRows[1] = 62;
  CHECK(kernels::launchGemvDp4a(g, nullptr) == cudaErrorInvalidValue);
}

TEST_CASE("mixed-type stacked GEMVs (Q4_K, then Q6_K) equal each matrix alone", "[gemv][sanitize]") {
  // >= 96 outputs per matrix: compare()'s check against the float dot is a statistic.
  checkMixedStack({104, 96, 101}, 512, {1, 3, 8});  // the Q6_K matrix ragged
  checkMixedStack({64, 53}, 768, {2});
  // Refused: a last matrix starting off the 8-row grid, and a pair with no kernel.
  DeviceBuffer<uint8_t> dummy(1 << 16);
  DeviceBuffer<float> out(1 << 12);
  kernels::GemvArgs g;
  g.type = QType::Q4_K;
  g.lastType = QType::Q6_K;
  g.weights[0] = g.weights[1] = dummy.get();
  g.act = dummy.get();
  g.out[0] = g.out[1] = out.get();
  g.k = 512;
  g.stackRows[0] = 20;
  g.stackRows[1] = 20;
  g.n = 40;
  CHECK(kernels::launchGemvDp4a(g, nullptr) == cudaErrorInvalidValue);
  g.stackRows[0] = 24;
  g.stackRows[1] = 16;
  g.type = QType::Q6_K;
  g.lastType = QType::Q4_K;
  CHECK(kernels::launchGemvDp4a(g, nullptr) == cudaErrorInvalidValue);
}

TEST_CASE("DP4A GEMV, small shapes, every type and epilogue", "[gemv][sanitize]") {
  for (QType type : kGemvTypes)
    checkGemvShape(type, 101, 512, {1, 3, 8});  // >= 96 outputs at m = 1: the relative-L2 statistic needs them
}

TEST_CASE("DP4A GEMV, ragged shapes, m = 1..8", "[gemv]") {
  for (QType type : kGemvTypes) {
    checkGemvShape(type, 1001, 2816, {1, 2, 3, 4, 5, 6, 7, 8});  // k = 11 x 256: units not a multiple of the 4 warps
    checkGemvShape(type, 4099, 768, {5, 7});                     // n not a multiple of the 4 rows per block
    checkGemvShape(type, 517, 11008, {1, 2});                    // ffn_down's k: several batches per warp at m = 1
  }
}

TEST_CASE("DP4A GEMV, every row-set count per lane, small shapes", "[gemv][sanitize]") {
  for (QType type : kGemvTypes) {
    checkRowSets(type, 15, 512, {7, 8});  // fewer rows than two blocks of 2 row sets (>= 96 outputs)
    checkRowSets(type, 101, 768, {1, 8});
  }
}

TEST_CASE("DP4A GEMV, every row-set count per lane, ragged shapes", "[gemv]") {
  for (QType type : kGemvTypes)
    checkRowSets(type, 1001, 2816, {1, 3, 8});  // n not a multiple of 8 rows per block; 11 units per row
}

TEST_CASE("DP4A GEMV, rows ending in a partial 256-element unit (32-element block types)", "[gemv][sanitize]") {
  for (QType type : kBlock32Types) {
    checkGemvShape(type, 101, 896, {1, 3, 8});  // Qwen2.5-0.5B's hidden size: 3.5 units
    checkRowSets(type, 61, 160, {2, 5});        // under one unit: only the partial one
    checkStacked(type, {104, 112, 99}, 416, {1, 4});
  }
}

TEST_CASE("DP4A GEMV rejects unsupported shapes", "[gemv][sanitize]") {
  DeviceBuffer<uint8_t> dummy(4096);
  DeviceBuffer<float> out(64);
  CHECK(run({kernels::gemvKernelId(QType::Q4_K), {dummy.get(), dummy.get(), out.get()}, {4, 300, 1, 1}, {}}) ==
        cudaErrorInvalidValue);
  CHECK(run({kernels::gemvKernelId(QType::Q4_K), {dummy.get(), dummy.get(), out.get()}, {4, 256, 9, 1}, {}}) ==
        cudaErrorInvalidValue);
  CHECK(run({kernels::gemvKernelId(QType::Q4_K), {dummy.get(), dummy.get(), out.get()}, {4, 896, 1, 1}, {}}) ==
        cudaErrorInvalidValue);  // a K-quant row is whole super-blocks
  CHECK(run({kernels::gemvKernelId(QType::Q8_0), {dummy.get(), dummy.get(), out.get()}, {4, 100, 1, 1}, {}}) ==
        cudaErrorInvalidValue);  // and any row whole 32-element blocks
  kernels::KernelArgs args;
  args.ints = {4, 256, 1, 1};
  kernels::LaunchDims wrong = kernels::gemvDims(4, 1);
  wrong.grid[0] += 1;
  CHECK(kernels::launchKernel(kernels::gemvKernelId(QType::Q4_K), wrong, args, nullptr) ==
        cudaErrorInvalidConfiguration);
  CHECK(kernels::launchKernel("no_such_kernel", wrong, args, nullptr) == cudaErrorInvalidSymbol);
  kernels::GemvArgs g;  // a row-set count the kernel is not instantiated for
  g.weights[0] = dummy.get();
  g.act = dummy.get();
  g.out[0] = out.get();
  g.n = 4;
  g.k = 256;
  g.rowSets = 4;
  CHECK(kernels::launchGemvDp4a(g, nullptr) == cudaErrorInvalidValue);
}

TEST_CASE("quantize -> GEMV -> quantize -> GEMV chains with early start, eager and graph-captured",
          "[gemv][sanitize]") {
  const int64_t k = 512;
  const int m = 3;
  const uint32_t seed = freshSeed();
  INFO("seed " << seed);
  const QuantWeights w1 = makeWeights(QType::Q4_K, k, k, seed), w2 = makeWeights(QType::Q6_K, k, k, seed + 1);
  const auto x = randomFloats(static_cast<size_t>(m * k), seed + 2);
  // CPU: y = W1 q(x), z = W2 q(y), with the kernels' exact numerics.
  auto layer = [&](const QuantWeights& w, QType type, const std::vector<float>& in) {
    std::vector<float> out(in.size());
    std::vector<quant::BlockQ81> q(static_cast<size_t>(k / 32));
    for (int i = 0; i < m; ++i) {
      quant::quantizeQ81(in.data() + i * k, q.data(), k);
      for (int64_t r = 0; r < k; ++r)
        out[i * k + r] = quant::dotQ81(type, w.gguf.data() + r * quant::rowBytes(type, k), q.data(), k);
    }
    return out;
  };
  const auto z = layer(w2, QType::Q6_K, layer(w1, QType::Q4_K, x));

  DeviceBuffer<uint8_t> dw1(w1.device), dw2(w2.device), act(quant::q81RowBytes(k) * m);
  DeviceBuffer<float> dx(x), dy(x.size()), dz(x.size());
  cudaStream_t stream = nullptr;
  CUDA_REQUIRE(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  auto enqueue = [&]() {
    CUDA_REQUIRE(kernels::launchQuantizeQ81(dx.get(), act.get(), m, k, stream));
    kernels::GemvArgs g;
    g.type = QType::Q4_K;
    g.weights[0] = dw1.get();
    g.act = act.get();
    g.out[0] = dy.get();
    g.n = k;
    g.k = k;
    g.m = m;
    CUDA_REQUIRE(kernels::launchGemvDp4a(g, stream));
    CUDA_REQUIRE(kernels::launchQuantizeQ81(dy.get(), act.get(), m, k, stream));  // overwrites what the GEMV read
    g.type = QType::Q6_K;
    g.weights[0] = dw2.get();
    g.out[0] = dz.get();
    CUDA_REQUIRE(kernels::launchGemvDp4a(g, stream));
  };
  for (bool captured : {false, true}) {
    INFO("captured " << captured);
    dy.poison();
    dz.poison();
    if (captured) {
      cudaGraph_t graph = nullptr;
      cudaGraphExec_t exec = nullptr;
      CUDA_REQUIRE(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
      enqueue();
      CUDA_REQUIRE(cudaStreamEndCapture(stream, &graph));
      CUDA_REQUIRE(cudaGraphInstantiate(&exec, graph, 0));
      for (int rep = 0; rep < 3; ++rep) CUDA_REQUIRE(cudaGraphLaunch(exec, stream));
      CUDA_REQUIRE(cudaStreamSynchronize(stream));
      cudaGraphExecDestroy(exec);
      cudaGraphDestroy(graph);
    } else {
      enqueue();
      CUDA_REQUIRE(cudaStreamSynchronize(stream));
    }
    CHECK(dz.download() == z);  // bit-exact through two layers
  }
  cudaStreamDestroy(stream);
}

TEST_CASE("DP4A GEMV with an early start reads the activations only after its predecessor ends", "[gemv]") {
  // The predecessor lets the GEMV start at once and writes the activations 200 us later, over
  // poison: a GEMV that loads them before its wait (a compiler may hoist read-only-path loads
  // above it), or through a cache that still holds the poison, computes on the poison. A GEMV
  // reads the poisoned bytes first, as an earlier layer's GEMV reads the same arena bytes.
  // Activations loaded through the read-only path (ld.global.nc) fail this case with NaN rows;
  // plain loads pass. k = 4096 gives every warp full batches of units.
  const int64_t n = 256, k = 4096;
  const uint32_t seed = freshSeed();
  INFO("seed " << seed);
  cudaStream_t stream = nullptr;
  CUDA_REQUIRE(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  for (const QType type : kGemvTypes) {
    for (const int m : {1, 3}) {
      INFO(quant::qtypeName(type) << " m=" << m);
      const QuantWeights w = makeWeights(type, n, k, seed);
      const auto x = randomFloats(static_cast<size_t>(m * k), seed + 1);
      std::vector<float> expected(static_cast<size_t>(m * n));
      std::vector<quant::BlockQ81> q(static_cast<size_t>(k / 32));
      for (int i = 0; i < m; ++i) {
        quant::quantizeQ81(x.data() + i * k, q.data(), k);
        for (int64_t r = 0; r < n; ++r)
          expected[i * n + r] = quant::dotQ81(type, w.gguf.data() + r * quant::rowBytes(type, k), q.data(), k);
      }
      DeviceBuffer<uint8_t> weights(w.device), fresh(quant::q81RowBytes(k) * m), act(quant::q81RowBytes(k) * m);
      DeviceBuffer<float> dx(x), out(static_cast<size_t>(m * n));
      CUDA_REQUIRE(kernels::launchQuantizeQ81(dx.get(), fresh.get(), m, k, stream));
      CUDA_REQUIRE(cudaStreamSynchronize(stream));
      act.poison();
      kernels::GemvArgs g;
      g.type = type;
      g.weights[0] = weights.get();
      g.act = act.get();
      g.out[0] = out.get();
      g.n = n;
      g.k = k;
      g.m = m;
      CUDA_REQUIRE(kernels::launchGemvDp4a(g, stream));  // reads the poison
      CUDA_REQUIRE(cudaStreamSynchronize(stream));
      out.poison();
      CUDA_REQUIRE(launchLateCopy(fresh.get(), act.get(), act.bytes(), 200'000, stream));
      CUDA_REQUIRE(kernels::launchGemvDp4a(g, stream));
      CUDA_REQUIRE(cudaStreamSynchronize(stream));
      CHECK(out.download() == expected);
    }
  }
  cudaStreamDestroy(stream);
}
