// Mutated plans through the plan reader and the GPU runtime: a few hundred seeded mutations of
// the tiny model's plan (an int argument, a pointer's offset, buffer index or kind, the launch
// dims, a bucket's or the plan's sizes), each written as plan JSON and read back as a plan file
// is. A plan the reader refuses, or the runtime refuses while loading it (a reel::Error that
// leaves the GPU context intact), is fine; one that loads must run a step of the mutated bucket
// without a CUDA error. Under compute-sanitizer memcheck (scripts/gpu-check) the loads and steps
// must also touch no memory outside their buffers.
//
// Hidden from the default run ([.]): a CUDA error here can lose the GPU context for the rest
// of the binary. Run it by its tag: runtime_gpu_test "[mutation]" (ctest: runtime_gpu_mutation).

#include "codegen/PlanFile.h"
#include "tests/runtime/gpu/GpuTestSupport.h"

#include <fmt/format.h>

#include <random>

using namespace reel;
using namespace reel::test;

namespace {

constexpr int kMutations = 300;
constexpr uint64_t kSeed = 12;
/// Loads of mutated plans are held to this (a plan asking for more is refused, quickly).
constexpr size_t kMemoryLimit = size_t{1} << 30;

/// One mutation: what changed, and which bucket to load and run (the plan's first decode bucket
/// for a plan-wide change).
struct Mutation {
  std::string what;
  size_t bucket = 0;
};

/// `value` changed by one of the edits a damaged or hostile plan might make: the first
/// `choices` (at most 8) of off by one, doubled, halved, 0, -1, 4096 more, 2^40.
int64_t mutateValue(int64_t value, std::mt19937_64& rng, unsigned choices = 8) {
  switch (rng() % choices) {
    case 0:
      return value + 1;
    case 1:
      return value - 1;
    case 2:
      return value * 2;
    case 3:
      return value / 2;
    case 4:
      return 0;
    case 5:
      return -1;
    case 6:
      return value + 4096;
    default:
      return int64_t{1} << 40;
  }
}

template <typename T>
T& pick(std::vector<T>& items, std::mt19937_64& rng) {
  return items[rng() % items.size()];
}

class PlanMutator {
 public:
  PlanMutator(const codegen::Plan& original, uint64_t seed) : original_(original), rng_(seed) {
    while (firstDecode_ + 1 < original.buckets.size() && original.buckets[firstDecode_].phase != "decode")
      ++firstDecode_;
  }

  /// A copy of the plan with one change (never none).
  std::pair<codegen::Plan, Mutation> next() {
    for (;;) {
      codegen::Plan plan = original_;
      Mutation mutation = apply(plan);
      if (!(plan == original_)) return {std::move(plan), std::move(mutation)};
    }
  }

 private:
  Mutation apply(codegen::Plan& plan) {
    const size_t b = rng_() % plan.buckets.size();
    codegen::BucketPlan& bucket = plan.buckets[b];
    const size_t s = rng_() % bucket.steps.size();
    codegen::Step& step = bucket.steps[s];
    const std::string where = fmt::format("@{} step {} ({} for {})", bucket.graph, s, step.kernel, step.op);
    const uint64_t kind = rng_() % 100;
    if (kind < 35 && !step.ints.empty()) {
      const size_t i = rng_() % step.ints.size();
      const int64_t old = step.ints[i];
      step.ints[i] = mutateValue(old, rng_);
      return {fmt::format("{}: ints[{}] {} -> {}", where, i, old, step.ints[i]), b};
    }
    if (kind < 70 && !step.ptrs.empty()) {
      const size_t i = rng_() % step.ptrs.size();
      codegen::BufferRef& ref = step.ptrs[i];
      const codegen::BufferRef old = ref;
      const uint64_t field = rng_() % 10;
      if (field < 6)
        ref.offset = mutateValue(ref.offset, rng_);
      else if (field < 9)
        ref.index = mutateValue(ref.index, rng_);
      else
        ref.kind = static_cast<codegen::BufferKind>(rng_() % 6);
      return {fmt::format("{}: ptrs[{}] [{}, {}, {}] -> [{}, {}, {}]", where, i, static_cast<int>(old.kind), old.index,
                          old.offset, static_cast<int>(ref.kind), ref.index, ref.offset),
              b};
    }
    if (kind < 85) {
      const uint64_t field = rng_() % 7;
      uint32_t& dim = field < 3 ? step.dims.grid[field] : field < 6 ? step.dims.block[field - 3] : step.dims.smemBytes;
      const uint32_t old = dim;
      dim = static_cast<uint32_t>(std::max<int64_t>(0, mutateValue(old, rng_, 4)));  // small changes only
      return {fmt::format("{}: dims field {} {} -> {}", where, field, old, dim), b};
    }
    if (kind < 93) {
      switch (rng_() % 3) {
        case 0:
          bucket.arenaBytes = mutateValue(bucket.arenaBytes, rng_);
          return {fmt::format("@{}: arena bytes -> {}", bucket.graph, bucket.arenaBytes), b};
        case 1:
          bucket.logitsOffset = mutateValue(bucket.logitsOffset, rng_);
          return {fmt::format("@{}: logits offset -> {}", bucket.graph, bucket.logitsOffset), b};
        default:
          bucket.m = mutateValue(bucket.m, rng_);
          return {fmt::format("@{}: m -> {}", bucket.graph, bucket.m), b};
      }
    }
    switch (rng_() % 3) {
      case 0:
        plan.maxContext = mutateValue(plan.maxContext, rng_);
        return {fmt::format("max context -> {}", plan.maxContext), firstDecode_};
      case 1:
        plan.scratchBytes = mutateValue(plan.scratchBytes, rng_);
        return {fmt::format("scratch bytes -> {}", plan.scratchBytes), firstDecode_};
      default: {
        codegen::WeightSlot& slot = pick(plan.weights, rng_);
        const bool rows = rng_() % 2 == 0;
        int64_t& field = rows ? slot.rows : slot.bytes;
        const int64_t old = field;
        field = mutateValue(old, rng_);
        return {fmt::format("weight slot {}: {} {} -> {}", slot.tensor, rows ? "rows" : "bytes", old, field),
                firstDecode_};
      }
    }
  }

  const codegen::Plan& original_;
  std::mt19937_64 rng_;
  size_t firstDecode_ = 0;
};

/// One step of `bucket`: up to 4 live rows for a decode bucket (a slot each, a few positions
/// in), a chunk of one sequence from position 0 for prefill.
void runOneStep(gpu::GpuRuntime& runtime, const codegen::BucketPlan& bucket) {
  const bool prefill = bucket.phase == "prefill";
  const int64_t positions = runtime.kv().positions;
  const int64_t rows = prefill ? std::min(bucket.m, positions) : std::min<int64_t>({bucket.m, 4, runtime.kv().slots});
  gpu::StepRows step;
  step.minBucketRows = bucket.m;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t position = prefill ? r : std::min<int64_t>(3, positions - 1);
    step.tokens.push_back(static_cast<int32_t>((11 + 7 * r) % runtime.vocab()));
    step.positions.push_back(static_cast<int32_t>(position));
    step.kvLens.push_back(static_cast<int32_t>(position + 1));
    step.slots.push_back(static_cast<int32_t>(prefill ? 0 : r));
  }
  runtime.step(prefill ? gpu::Phase::Prefill : gpu::Phase::Decode, step);
}

enum class Outcome : uint8_t {
  RefusedByReader,
  RefusedAtLoad,    ///< the runtime's checks: binding, allocation, the rows of the step
  RefusedAtLaunch,  ///< a CUDA launch error in the load's warm-up run (the context intact)
  Ran,
};

/// Reads `mutated` back from its JSON, loads the mutated bucket and runs a step of it. Fails the
/// test where the GPU context is lost (a sticky CUDA error), or where a loaded plan's step
/// meets a CUDA error.
Outcome tryPlan(const codegen::Plan& mutated, const Mutation& mutation, const synth::OpenWeights& weights) {
  INFO("mutation: " << mutation.what);
  codegen::Plan plan;
  try {
    plan = codegen::planFromJson(codegen::planToJson(mutated), "mutated.plan");
  } catch (const Error&) {
    return Outcome::RefusedByReader;
  }
  gpu::RuntimeOptions options;
  options.useGraphs = false;  // eager: the same launches, and quicker under memcheck
  options.progress = false;
  options.gpuMemoryLimit = kMemoryLimit;
  options.blasWorkspaceBytes = size_t{8} << 20;  // enough for the tiny model's GEMMs
  options.buckets = {mutated.buckets.at(mutation.bucket).graph};
  std::unique_ptr<gpu::GpuRuntime> runtime;
  try {
    runtime = std::make_unique<gpu::GpuRuntime>(std::move(plan), *weights.file, options);
  } catch (const Error& error) {
    INFO("refused with: " << error.what());
    (void)cudaGetLastError();                         // a launch error left behind is not sticky
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);  // a sticky one would show here
    const bool launch = std::string(error.what()).find(": cudaError") != std::string::npos;
    return launch ? Outcome::RefusedAtLaunch : Outcome::RefusedAtLoad;
  }
  Outcome outcome = Outcome::Ran;
  try {
    runOneStep(*runtime, runtime->plan().buckets.at(mutation.bucket));
  } catch (const Error& error) {
    INFO("refused with: " << error.what());
    REQUIRE(std::string(error.what()).find(": cudaError") == std::string::npos);
    outcome = Outcome::RefusedAtLoad;
  }
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  REQUIRE(cudaGetLastError() == cudaSuccess);
  return outcome;
}

}  // namespace

TEST_CASE("mutated plans are refused or run clean", "[.][gpu][mutation]") {
  const models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = gpuTestWeights(config);
  GpuCompileSpec spec;
  spec.buckets = {1, 4};
  spec.maxContext = 64;
  const codegen::CompileResult compiled = compileForGpu(config, *weights.source, spec);
  for (size_t b = 0; b < compiled.plan.buckets.size(); ++b)
    REQUIRE(tryPlan(compiled.plan, {"none (the plan as compiled)", b}, weights) == Outcome::Ran);

  PlanMutator mutator(compiled.plan, kSeed);
  int counts[4] = {0, 0, 0, 0};
  for (int i = 0; i < kMutations; ++i) {
    auto [plan, mutation] = mutator.next();
    mutation.what = fmt::format("#{} (seed {}): {}", i, kSeed, mutation.what);
    ++counts[static_cast<int>(tryPlan(plan, mutation, weights))];
  }
  WARN(kMutations << " mutated plans: " << counts[0] << " refused by the plan reader, " << counts[1]
                  << " by the runtime's checks, " << counts[2] << " by a CUDA launch error while loading; " << counts[3]
                  << " ran clean");
  CHECK(counts[0] > 0);
  CHECK(counts[3] > 0);
}
