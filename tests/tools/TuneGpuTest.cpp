// `reel tune`'s matmul measurement on the GPU: every kernel family's launches for one matmul
// (tools/TuneMatmul.h) run through the kernel timer, library calls (cuBLAS, cuBLASLt) included,
// and give a finite time; what the timer cannot run is a one-line reel::Error.
#include "runtime/gpu/KernelTimer.h"
#include "support/Diagnostics.h"
#include "tools/TuneMatmul.h"

#include <cuda_runtime_api.h>
#include <catch2/catch.hpp>

#include <cmath>

using namespace reel;
using namespace reel::tools;

namespace {

double timePlan(gpu::KernelTimer& timer, const FamilyPlan& plan) {
  double us = 0;
  for (const TimedSegment& segment : plan.segments) {
    std::vector<gpu::TimedKernel> chain;
    for (const KernelCall& call : segment.calls) chain.push_back({call.id, call.ints, {}, 1});
    us += static_cast<double>(segment.repeat) * timer.time(chain);
  }
  return us;
}

}  // namespace

TEST_CASE("tune: each family's matmul launches time on the GPU", "[gpu][tune]") {
  int device = 0;
  cudaDeviceProp prop{};
  REQUIRE(cudaGetDevice(&device) == cudaSuccess);
  REQUIRE(cudaGetDeviceProperties(&prop, device) == cudaSuccess);
  gpu::KernelTimerOptions options;
  options.l2Bytes = prop.l2CacheSize;
  options.replays = 3;
  gpu::KernelTimer timer(options);
  const bool fp8 = prop.major * 10 + prop.minor >= 89;
  const passes::Measurements none;
  int timed = 0;
  for (ir::ElemType type : {ir::ElemType::Q4_K, ir::ElemType::Q6_K, ir::ElemType::Q8_0, ir::ElemType::F16}) {
    const MatmulWeight weight{type, 1024, 2048, 1};
    for (int64_t m : {1, 9, 64}) {
      for (ir::MatmulKernel family : ir::kMatmulKernels) {
        const FamilyPlan plan = familyPlan(family, weight, m, none, fp8);
        if (!plan.why.empty()) continue;
        INFO(ir::matmulKernelName(family) << " on " << ir::elemTypeName(type).str() << " at m=" << m);
        const double us = timePlan(timer, plan);
        CHECK(std::isfinite(us));
        CHECK(us > 0);
        CHECK(us < 1e5);
        ++timed;
      }
    }
  }
  CHECK(timed >= 3 * 4 * (fp8 ? 5 : 4) / 2);
  REQUIRE(cudaGetLastError() == cudaSuccess);
}

TEST_CASE("tune: the kernel timer refuses what it cannot run, in one line", "[gpu][tune]") {
  gpu::KernelTimer timer;
  CHECK_THROWS_WITH(timer.time({{"no_such_kernel", {}, {}, 1}}),
                    "reel tune: no kernel 'no_such_kernel' in the kernel table");
  CHECK_THROWS_WITH(timer.time({{"hgemm_cublas", {{"m", 4}, {"n", 100}, {"k", 64}}, {}, 1}}),
                    "reel tune: kernel 'hgemm_cublas': n and k must be multiples of 8");
  CHECK_THROWS_WITH(timer.time({}), "reel tune: nothing to time");
}

TEST_CASE("tune: chains over the timer's buffer limit are known before they are timed", "[gpu][tune]") {
  // Llama-2-7B decode attention (32 heads, 32 KV heads x 128): at M = 16 and 4096 keys the caches
  // alone are 1 GiB, which the timer refuses; at M = 1 and 256 keys they are small.
  const auto attention = [](int64_t m, int64_t context) {
    return std::vector<gpu::TimedKernel>{{"attn_decode",
                                          {{"m", m},
                                           {"n_heads", 32},
                                           {"n_kv_heads", 32},
                                           {"head_dim", 128},
                                           {"max_ctx", context},
                                           {"window", 0},
                                           {"q_stride", 32 * 128}},
                                          {0.088f},
                                          context}};
  };
  CHECK(gpu::chainBufferBytes(attention(1, 256)) < gpu::kMaxTimedPassBytes);
  CHECK(gpu::chainBufferBytes(attention(16, 4096)) > gpu::kMaxTimedPassBytes);
  gpu::KernelTimer timer;
  CHECK_THROWS_WITH(timer.time(attention(16, 4096)),
                    "reel tune: one pass over 'attn_decode' needs more than 1 GiB of buffers");
  CHECK(std::isfinite(timer.time(attention(1, 256))));
}
