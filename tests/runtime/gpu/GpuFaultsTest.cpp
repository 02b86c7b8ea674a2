// GPU faults: a capture that fails runs its bucket eagerly with the same tokens; running out of
// the memory cap (RuntimeOptions::gpuMemoryLimit, --gpu-memory-limit) names what did not fit
// and how much was free; a failed load leaves no device memory behind; a sequence whose KV
// cache fills stops while the others decode on with the tokens they get alone.

#include "runtime/gpu/CudaCheck.h"
#include "support/FormatBytes.h"
#include "tests/runtime/gpu/GpuTestSupport.h"

using namespace reel;
using namespace reel::test;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

constexpr int64_t kNewTokens = 8;

/// Device memory in use on the GPU (all processes).
size_t usedGpuBytes() {
  size_t freeBytes = 0;
  size_t totalBytes = 0;
  REQUIRE(cudaMemGetInfo(&freeBytes, &totalBytes) == cudaSuccess);
  return totalBytes - freeBytes;
}

std::string bytesText(size_t bytes) {
  return support::formatBinaryBytes(static_cast<double>(bytes));
}

/// Loads `plan` with `options`, expecting the load to fail with a reel::Error containing
/// `expected`; true when the GPU then uses no more memory than before. Memory the driver
/// keeps for reuse after a first failure, or another process allocating meanwhile, can make
/// one attempt look like a leak, so this tries three times; a real leak shows in each.
bool failedLoadLeavesNothing(const TinySetup& setup, const codegen::Plan& plan, const gpu::RuntimeOptions& options,
                             const std::string& expected) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    const size_t before = usedGpuBytes();
    try {
      poisonedRuntime(plan, setup.weights, options);
      FAIL("the load succeeded");
    } catch (const Error& error) {
      CHECK_THAT(error.what(), Contains(expected));
    }
    CHECK(gpu::liveDeviceBufferBytes() == 0);
    REQUIRE(cudaGetLastError() == cudaSuccess);
    if (usedGpuBytes() <= before) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("a capture that fails runs its bucket eagerly, with the same tokens", "[gpu][faults][graphs]") {
  TinySetup setup;
  const decode::DecodeRequest request{setup.prompts, kNewTokens, {}};  // three sequences: decode.m4
  std::unique_ptr<gpu::GpuRuntime> clean = poisonedRuntime(setup.compiled.plan, setup.weights);
  REQUIRE(clean->captureFailures().empty());
  const decode::DecodeReport expected = gpuDecode(*clean, request);
  REQUIRE(clean->lastBucket()->graph == "decode.m4");
  REQUIRE(clean->lastStepUsedGraph());

  for (gpu::CaptureFault fault : {gpu::CaptureFault::Invalidated, gpu::CaptureFault::OutOfMemory}) {
    const bool outOfMemory = fault == gpu::CaptureFault::OutOfMemory;
    INFO((outOfMemory ? "instantiation out of memory" : "capture invalidated"));
    gpu::RuntimeOptions options;
    options.failCapture = {"decode.m4", fault};
    std::unique_ptr<gpu::GpuRuntime> faulty = poisonedRuntime(setup.compiled.plan, setup.weights, options);
    REQUIRE(faulty->captureFailures().size() == 1);  // every other bucket captured, before and after
    const std::string& failure = faulty->captureFailures()[0];
    CHECK_THAT(failure, StartsWith("@decode.m4: "));
    if (outOfMemory) {
      CHECK_THAT(failure, Contains("out of GPU memory instantiating the CUDA graph of @decode.m4: the GPU has"));
    } else {
      CHECK_THAT(failure, Contains("(an injected fault): cudaError"));
    }
    CHECK(bitwiseEqual(expected, gpuDecode(*faulty, request)));
    CHECK(faulty->lastBucket()->graph == "decode.m4");
    CHECK_FALSE(faulty->lastStepUsedGraph());
    // The other buckets replay their graphs on the same stream.
    gpuDecode(*faulty, {{setup.prompts[0]}, 2, {}}, 8);
    CHECK(faulty->lastBucket()->graph == "decode.m8");
    CHECK(faulty->lastStepUsedGraph());
  }
  gpu::RuntimeOptions unknown;
  unknown.failCapture = {"decode.m3", gpu::CaptureFault::Invalidated};
  CHECK_THROWS_WITH(poisonedRuntime(setup.compiled.plan, setup.weights, unknown),
                    Contains("no loaded bucket @decode.m3"));
}

TEST_CASE("past the memory limit, loading names what did not fit and what was free", "[gpu][faults][memory]") {
  TinySetup setup;
  std::unique_ptr<gpu::GpuRuntime> reference = poisonedRuntime(setup.compiled.plan, setup.weights);
  const gpu::MemoryLedger& used = reference->memory();
  const size_t weights = used.bytesOf("weights");
  const size_t arena = used.bytesOf("activation arena");
  const size_t scratch = used.bytesOf("scratch");
  const size_t kv = used.bytesOf("KV cache");
  REQUIRE(weights > 0);
  REQUIRE(arena > 0);
  REQUIRE(kv > 0);

  struct Case {
    std::string what;  ///< what does not fit
    size_t bytes;      ///< its size
    size_t held;       ///< what the runtime holds when it asks
    size_t limit;
  };
  const Case cases[] = {
      {"the weights", weights, 0, weights / 2},
      {"the activation arena", arena, weights, weights + arena / 2},
      {"the KV cache", kv, weights + arena + scratch, weights + arena + scratch + kv - 1},
  };
  for (const Case& c : cases) {
    INFO(c.what << " past a limit of " << c.limit << " bytes");
    gpu::RuntimeOptions options;
    options.gpuMemoryLimit = c.limit;
    CHECK_THROWS_WITH(poisonedRuntime(setup.compiled.plan, setup.weights, options),
                      fmt::format("out of GPU memory allocating {} ({}): {} free of the {} limit (--gpu-memory-limit)",
                                  c.what, bytesText(c.bytes), bytesText(c.limit - c.held), bytesText(c.limit)));
  }

  // Within a limit with room to spare everything loads, held to it.
  gpu::RuntimeOptions roomy;
  roomy.gpuMemoryLimit = used.total() + (size_t{64} << 20);
  std::unique_ptr<gpu::GpuRuntime> runtime = poisonedRuntime(setup.compiled.plan, setup.weights, roomy);
  CHECK(runtime->memory().total() <= roomy.gpuMemoryLimit);
  CHECK(runtime->memory().limit() == roomy.gpuMemoryLimit);
  CHECK(gpuDecode(*runtime, {setup.prompts, 4, {}}).sequences.at(2).tokens.size() == 4);
}

TEST_CASE("a load that fails leaves no device memory behind", "[gpu][faults][memory]") {
  TinySetup setup;
  size_t beforeKv = 0;  // the weights, the arena and the scratch
  size_t kvBytes = 0;
  {
    // The CUDA context, the kernels and cuBLAS are loaded once per process: not a leak.
    std::unique_ptr<gpu::GpuRuntime> warm = poisonedRuntime(setup.compiled.plan, setup.weights);
    gpuDecode(*warm, {setup.prompts, 2, {}});
    const gpu::MemoryLedger& held = warm->memory();
    beforeKv = held.bytesOf("weights") + held.bytesOf("activation arena") + held.bytesOf("scratch");
    kvBytes = held.bytesOf("KV cache");
    CHECK(gpu::liveDeviceBufferBytes() == held.total() - held.bytesOf("cuBLAS handles") - held.bytesOf("CUDA graphs"));
  }
  REQUIRE(gpu::liveDeviceBufferBytes() == 0);

  SECTION("the memory limit refuses the KV cache after the weights and the arena are allocated") {
    gpu::RuntimeOptions options;
    options.kvSlots = 64;  // 8 times the default cache
    options.gpuMemoryLimit = beforeKv + kvBytes;
    CHECK(failedLoadLeavesNothing(setup, setup.compiled.plan, options, "allocating the KV cache"));
  }
  SECTION("the GPU has no memory for the KV cache") {
    gpu::RuntimeOptions options;
    options.kvSlots = int64_t{1} << 22;
    CHECK(failedLoadLeavesNothing(setup, setup.compiled.plan, options, "out of GPU memory allocating the KV cache"));
  }
  SECTION("the last bucket cannot be bound, after the other buckets are captured") {
    codegen::Plan plan = setup.compiled.plan;
    codegen::Step& step = plan.buckets.back().steps.front();
    REQUIRE_FALSE(step.ptrs.empty());
    step.ptrs.front() = {codegen::BufferKind::Weight, static_cast<int64_t>(plan.weights.size()) + 5, 0};
    CHECK(failedLoadLeavesNothing(setup, plan, {}, ""));
  }
}

TEST_CASE("a sequence whose context fills stops; the others decode on unchanged", "[gpu][faults][context]") {
  const models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = gpuTestWeights(config);
  GpuCompileSpec spec;
  spec.buckets = {1, 2, 4};
  spec.maxContext = 32;
  const codegen::CompileResult compiled = compileForGpu(config, *weights.source, spec);
  // Row-independent kernels: a sequence gets the same bits in any decode bucket, so its tokens
  // alone (M = 1), with three sequences (M = 4) and with two (M = 2) compare exactly.
  for (const codegen::BucketPlan& bucket : compiled.plan.buckets) {
    INFO("@" << bucket.graph);
    if (bucket.phase == "decode") REQUIRE(bucketKernelFamilies(bucket) == std::set<std::string>{"dp4a"});
  }
  // Prompts of 5, 26 and 9 tokens: the middle one fills its 32 positions after 7 tokens.
  std::vector<std::vector<int32_t>> prompts;
  for (const size_t length : {size_t{5}, size_t{26}, size_t{9}}) {
    std::vector<int32_t> prompt;
    for (size_t i = 0; i < length; ++i) prompt.push_back(static_cast<int32_t>((3 + 37 * (i + length)) % 1000));
    prompts.push_back(std::move(prompt));
  }
  constexpr size_t kTokens = 12;
  std::unique_ptr<gpu::GpuRuntime> runtime = poisonedRuntime(compiled.plan, weights);
  const decode::DecodeReport together = decode::runDecode(*runtime, {prompts, int64_t{kTokens}, {}}, {});
  REQUIRE(together.sequences.size() == 3);
  CHECK(together.sequences[0].stop == decode::StopReason::Length);
  CHECK(together.sequences[1].stop == decode::StopReason::Context);
  CHECK(together.sequences[2].stop == decode::StopReason::Length);
  CHECK(together.sequences[0].tokens.size() == kTokens);
  CHECK(together.sequences[1].tokens.size() == size_t{32 - 26 + 1});
  CHECK(together.sequences[2].tokens.size() == kTokens);
  CHECK(decode::describeStop(together.sequences[1], 32, int64_t{kTokens}) ==
        "context full (32 positions): stopped after 7 of 12 tokens");
  CHECK(together.decodePath.find("@decode.m4") == 0);  // the first steps: three live rows
  CHECK(runtime->lastBucket()->graph == "decode.m2");  // the last: two
  for (size_t s = 0; s < prompts.size(); ++s) {
    INFO("sequence " << s);
    const decode::DecodeReport alone = decode::runDecode(*runtime, {{prompts[s]}, int64_t{kTokens}, {}}, {});
    CHECK(alone.sequences[0].tokens == together.sequences[s].tokens);
    CHECK(alone.sequences[0].stop == together.sequences[s].stop);
  }
}
