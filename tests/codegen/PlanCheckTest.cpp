// The footprint check: every catalog entry states what each pointer argument touches, real
// lowering passes the check, and a hand-edited plan fails to load naming the step and argument.
#include "codegen/Compiler.h"
#include "codegen/PlanCheck.h"
#include "codegen/PlanFile.h"
#include "kernels/KernelCatalog.h"
#include "models/ModelLoader.h"
#include "passes/PassTable.h"

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <functional>
#include <set>

using namespace reel;
using namespace reel::codegen;
using kernels::kFootprintOverflow;

namespace {

CompileRequest request(const std::string& model, std::vector<int64_t> buckets, int64_t maxContext) {
  CompileRequest r;
  r.config = models::loadModelConfig(model);
  r.profile = passes::bundledGpuProfile("h100");
  r.buckets = std::move(buckets);
  r.prefillTokens = 16;
  r.maxContext = maxContext;
  return r;
}

/// tiny at m = 1 (DP4A GEMVs), 16 (GEMVs in row chunks), 32 (FP8) and prefill (HGEMM): mma off
/// and a budget that holds every copy, so that the copies' kernels run; prefill attention through
/// the decode kernel (flash-prefill off).
const Plan& tinyPlan() {
  static const Plan plan = [] {
    CompileRequest r = request("tiny", {1, 16, 32}, 512);
    std::string pipeline = passes::kDefaultPipeline;
    pipeline.replace(pipeline.find("select-precision"), std::string("select-precision").size(),
                     "select-precision{mma=false}");
    pipeline.replace(pipeline.find("select-attention"), std::string("select-attention").size(),
                     "select-attention{flash-prefill=false}");
    r.pipeline = pipeline;
    r.memoryBudget = int64_t{80} << 30;
    return compileModel(r).plan;
  }();
  return plan;
}

std::string loadError(const Plan& plan) {
  try {
    planFromJson(planToJson(plan), "t.plan");
  } catch (const Error& error) {
    return error.what();
  }
  return "no error";
}

struct StepAt {
  size_t bucket = 0;
  size_t step = 0;
};

/// The first step of `kernel` in bucket `graph` of `plan`.
StepAt find(const Plan& plan, const std::string& graph, const std::string& kernel) {
  for (size_t b = 0; b < plan.buckets.size(); ++b) {
    if (plan.buckets[b].graph != graph) continue;
    for (size_t s = 0; s < plan.buckets[b].steps.size(); ++s)
      if (plan.buckets[b].steps[s].kernel == kernel) return {b, s};
  }
  FAIL("no " << kernel << " in @" << graph);
  return {};
}

/// The message of loading `plan` with step `at` edited by `edit`; the launch dims are made the
/// catalog's for the edited ints where `fixDims`, so that what fails is the edit itself.
std::string editedStepError(const StepAt& at, const std::function<void(Step&)>& edit, bool fixDims = true) {
  Plan plan = tinyPlan();
  Step& step = plan.buckets[at.bucket].steps[at.step];
  edit(step);
  if (fixDims && kernels::findKernel(step.kernel) && step.ints.size() <= kernels::kMaxIntArgs) {
    std::array<int64_t, kernels::kMaxIntArgs> ints{};
    std::copy(step.ints.begin(), step.ints.end(), ints.begin());
    if (kernels::checkKernelArgs(step.kernel, ints.data()).empty())
      step.dims = kernels::kernelDims(step.kernel, ints.data());
  }
  return loadError(plan);
}

/// "t.plan: step 3 of @decode.m1 (embed_q4_k for %x0): "
std::string stepPrefix(const StepAt& at, const std::string& kernel = "") {
  const BucketPlan& bucket = tinyPlan().buckets[at.bucket];
  const Step& step = bucket.steps[at.step];
  return fmt::format("t.plan: step {} of @{} ({} for {}): ", at.step, bucket.graph,
                     kernel.empty() ? step.kernel : kernel, step.op);
}

}  // namespace

TEST_CASE("every catalog entry states a footprint for each pointer argument", "[codegen][plan-check]") {
  const std::array<int64_t, kernels::kMaxIntArgs> ones{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  std::array<int64_t, kernels::kMaxIntArgs> huge{};
  huge.fill(kernels::kMaxIntArg);
  for (const kernels::KernelInfo& k : kernels::kernelCatalog()) {
    INFO(k.id);
    REQUIRE(k.footprint != nullptr);
    for (const auto& ints : {ones, huge}) {
      const kernels::Footprint f = k.footprint(ints.data());
      for (size_t i = 0; i < f.size(); ++i) {
        INFO("pointer " << i);
        if (i < k.ptrArgs.size()) {
          CHECK(f[i].bytes >= 0);
          CHECK((f[i].use == kernels::PtrUse::KvCache) == (f[i].kvPositions > 0));
        } else {
          CHECK(f[i].bytes == -1);  // no footprint past the last argument
        }
      }
    }
  }
}

TEST_CASE("footprints saturate instead of wrapping", "[codegen][plan-check]") {
  CHECK(kernels::saturatingMul(int64_t{1} << 32, int64_t{1} << 32) == kFootprintOverflow);
  CHECK(kernels::saturatingMul(-1, 4) == kFootprintOverflow);
  CHECK(kernels::saturatingAdd(kFootprintOverflow, 1) == kFootprintOverflow);
  CHECK(kernels::saturatingMul(3, 5) == 15);
  // f32 [m][n] rows of an embedding: INT32_MAX x INT32_MAX x 4 bytes does not fit 64 bits.
  const std::array<int64_t, kernels::kMaxIntArgs> huge{kernels::kMaxIntArg, kernels::kMaxIntArg, 7};
  CHECK(kernels::findKernel("embed_f32")->footprint(huge.data())[2].bytes == kFootprintOverflow);
  CHECK(kvSlotBytes({2, 1 << 30, 1 << 30}, int64_t{1} << 30) == kFootprintOverflow);
  CHECK(kvCacheBytes({2, 2, 32}, 512, 4) == 2 * 2 * 4 * 512 * 2 * 32 * 2);
  CHECK_THROWS_WITH(kvCacheBytes({1 << 16, 1 << 16, 1 << 16}, 1 << 24, 1 << 20),
                    "KV cache of 65536 layers x K and V x 1048576 slots x 16777216 positions x 65536 KV heads x 65536 "
                    "dims (f16): every dimension must be positive and the size must fit 64 bits");
  CHECK_THROWS(kvCacheBytes({2, 2, 32}, 512, 0));
}

TEST_CASE("what lowering emits passes the footprint check", "[codegen][plan-check]") {
  // tiny: DP4A (plain, stacked, mixed stacks, gate+up), FP8 and HGEMM matmuls, prefill attention;
  // by default, mma (q4_k and q6_k) at m = 16 and in prefill, and the tensor-core prefill attention.
  // Qwen2.5-0.5B: k = 896 (Q5_0/Q8_0 row-planar rows with padding), biases, NeoX RoPE.
  // Llama-3.2-1B at a 4096 context: flash-decoding (split and reduce kernels) in the .long buckets.
  std::vector<Plan> plans{tinyPlan(), compileModel(request("tiny", {1, 16}, 512)).plan,
                          compileModel(request("qwen2.5-0.5b", {1, 4}, 256)).plan,
                          compileModel(request("llama-3.2-1b", {2}, 4096)).plan};
  std::set<std::string> seen;
  for (const Plan& plan : plans) {
    INFO(plan.model);
    REQUIRE(plan.kvCache.layers > 0);
    CHECK_NOTHROW(checkPlan(plan, plan.model));
    CHECK(loadError(plan) == "no error");
    for (const BucketPlan& bucket : plan.buckets)
      for (const Step& step : bucket.steps) seen.insert(step.kernel);
  }
  for (const char* kernel : {"gemv_dp4a_q4_k",
                             "gemv_dp4a_q6_k",
                             "gemv_dp4a_q8_0",
                             "gemv_dp4a_q5_0",
                             "gemv_dp4a_stack2_q5_0",
                             "gemv_dp4a_stack3_q4_k",
                             "gemv_dp4a_stack3_q4_k_q6_k",
                             "gemv_dp4a_gate_up_q4_k",
                             "mmq_q4_k",
                             "mmq_q6_k",
                             "embed_q4_k",
                             "embed_q8_0",
                             "rms_norm",
                             "rms_norm_q8_1",
                             "add_rms_norm",
                             "add_rms_norm_q8_1",
                             "swiglu",
                             "swiglu_q8_1",
                             "bias_add",
                             "rope_norm",
                             "rope_neox",
                             "kv_append",
                             "attn_prefill",
                             "attn_prefill_flash",
                             "attn_decode_rope",
                             "attn_decode_rope_q8_1",
                             "attn_decode_split_rope",
                             "attn_decode_reduce_q8_1",
                             "fp8_quantize_act",
                             "fp8_gemm_cublaslt",
                             "cast_f32_f16",
                             "hgemm_cublas",
                             "argmax"}) {
    INFO(kernel);
    CHECK(seen.count(kernel) == 1);
  }
}

TEST_CASE("a hand-edited plan fails to load naming the step and the argument", "[codegen][plan-check]") {
  const Plan& plan = tinyPlan();
  const StepAt embed = find(plan, "decode.m1", "embed_q4_k");
  const StepAt norm = find(plan, "decode.m1", "rms_norm_q8_1");
  const StepAt gemv = find(plan, "decode.m1", "gemv_dp4a_q6_k");
  const StepAt argmax = find(plan, "decode.m1", "argmax");
  const StepAt attention = find(plan, "decode.m1", "attn_decode_rope_q8_1");
  const StepAt append = find(plan, "prefill", "kv_append");
  const BucketPlan& m1 = plan.buckets[embed.bucket];
  const Step& gemvStep = m1.steps[gemv.step];
  const WeightSlot& output = plan.weights[static_cast<size_t>(gemvStep.ptrs[0].index)];

  SECTION("an offset pushed past its buffer") {
    CHECK(editedStepError(norm, [&](Step& s) { s.ptrs[2].offset = m1.arenaBytes; }) ==
          stepPrefix(norm) + fmt::format("argument 'out' needs {} bytes at offset {} but the arena holds {}", 288,
                                         m1.arenaBytes, m1.arenaBytes));
  }
  SECTION("rows enlarged past the weight slot") {
    // output.weight: Q6_K rows of 256 values, 224 bytes each in the row-planar layout.
    CHECK(editedStepError(gemv, [](Step& s) { s.ints[0] *= 2; }) ==
          stepPrefix(gemv) +
              fmt::format("argument 'weights' needs {} bytes at offset 0 but weight slot {} '{}' holds {}",
                          2 * output.bytes, gemvStep.ptrs[0].index, output.tensor, output.bytes));
  }
  SECTION("the vocabulary enlarged for argmax") {
    const Step& step = m1.steps[argmax.step];
    CHECK(editedStepError(argmax, [&](Step& s) { s.ints[1] = m1.arenaBytes; }) ==
          stepPrefix(argmax) + fmt::format("argument 'x' needs {} bytes at offset {} but the arena holds {}",
                                           4 * m1.arenaBytes, step.ptrs[0].offset, m1.arenaBytes));
  }
  SECTION("heads enlarged for attention") {
    // 8 query heads over 2 KV heads become 64 over 16: the queries leave the arena.
    const Step& step = m1.steps[attention.step];
    CHECK(editedStepError(attention,
                          [](Step& s) {
                            s.ints[1] *= 8;
                            s.ints[2] *= 8;
                            s.ints[6] *= 8;
                          }) ==
          stepPrefix(attention) + fmt::format("argument 'q' needs {} bytes at offset {} but the arena holds {}",
                                              64 * 32 * 4, step.ptrs[0].offset, m1.arenaBytes));
    // Twice the KV heads (4 query heads per KV head): the cache holds 2 per position.
    CHECK(editedStepError(attention, [](Step& s) { s.ints[2] *= 2; }) ==
          stepPrefix(attention) + fmt::format("argument 'k_cache' needs {} bytes at offset 0 but a slot of KV cache "
                                              "part 0 holds {}",
                                              512 * 4 * 32 * 2, 512 * 2 * 32 * 2));
  }
  SECTION("a KV cache of another context length") {
    CHECK(editedStepError(attention, [](Step& s) { s.ints[4] = 1024; }) ==
          stepPrefix(attention) + "argument 'k_cache' assumes 1024 positions per KV slot, but the cache holds 512");
  }
  SECTION("a KV cache index out of range") {
    CHECK(editedStepError(attention, [](Step& s) { s.ptrs[4].index = 4; }) ==
          stepPrefix(attention) +
              "argument 'v_cache' points to KV cache part 4, but the cache has 4 parts (K and V of each layer)");
    CHECK(editedStepError(attention, [](Step& s) {
            s.ptrs[3] = {BufferKind::Arena, 0, 0};
          }) == stepPrefix(attention) + "argument 'k_cache' must point into the KV cache, not the arena");
    CHECK(editedStepError(norm, [](Step& s) {
            s.ptrs[0] = {BufferKind::KvCache, 0, 0};
          }) == stepPrefix(norm) + "argument 'x' points into the KV cache, which only K and V cache arguments may");
  }
  SECTION("step inputs out of range, or where the kernel trusts them") {
    CHECK(editedStepError(embed, [](Step& s) { s.ptrs[1].index = 7; }) ==
          stepPrefix(embed) + "argument 'tokens' points to step input 7, but there are 7");
    CHECK(editedStepError(embed, [](Step& s) { s.ptrs[1].offset = 16; }) ==
          stepPrefix(embed) + "argument 'tokens' needs 4 bytes at offset 16 but step input 0 (token_ids) holds 4");
    CHECK(editedStepError(attention,
                          [](Step& s) {
                            s.ptrs[5] = {BufferKind::Arena, 0, 0};
                          }) ==
          stepPrefix(attention) +
              "argument 'slots' must be step input 3 (slots): the kernel trusts its values as indices");
    CHECK(editedStepError(attention, [](Step& s) { s.ptrs[6].index = 0; }) ==
          stepPrefix(attention) +
              "argument 'kv_lens' must be step input 2 (kv_lens): the kernel trusts its values as indices");
    CHECK(editedStepError(norm, [](Step& s) {
            s.ptrs[2] = {BufferKind::StepInput, 3, 0};
          }) == stepPrefix(norm) + "argument 'out' is written, so it may not point to step input 3 (slots)");
  }
  SECTION("int64 extremes and negative values") {
    CHECK(editedStepError(gemv, [](Step& s) { s.ints[2] = INT64_MAX; }) ==
          stepPrefix(gemv) + "m = 9223372036854775807 is out of range [0, 2147483647]");
    CHECK(editedStepError(embed, [](Step& s) { s.ints[2] = -1; }) ==
          stepPrefix(embed) + "vocab = -1 is out of range [0, 2147483647]");
    CHECK(editedStepError(embed, [](Step& s) { s.ints[0] = 0; }) == stepPrefix(embed) + "m must be positive");
    // Each int within range, their product beyond 64 bits.
    CHECK(editedStepError(append, [](Step& s) {
            s.ints[0] = kernels::kMaxIntArg;
            s.ints[4] = kernels::kMaxIntArg - 1;
          }) == stepPrefix(append) + "argument 'k_new' needs more bytes than 64 bits count (its footprint overflows)");
  }
  SECTION("wrong argument counts, an unknown kernel, other dims") {
    CHECK(editedStepError(embed, [](Step& s) { s.ptrs.pop_back(); }) ==
          stepPrefix(embed) + "kernel 'embed_q4_k' takes 3 pointers, 3 integers and 0 floats, not 2, 3 and 0");
    CHECK(editedStepError(embed, [](Step& s) { s.kernel = "embed_q9"; }) ==
          stepPrefix(embed, "embed_q9") + "unknown kernel 'embed_q9'");
    CHECK(editedStepError(
              embed, [](Step& s) { s.dims.grid[0] = 2; }, false) ==
          stepPrefix(embed) +
              "launch dims (grid [2, 1, 1], block [256, 1, 1], 0 bytes of shared memory) are not the catalog's for "
              "these integers (grid [1, 1, 1], block [256, 1, 1], 0 bytes of shared memory)");
    // Another table type of the same width: Q8_0 rows of 256 values are larger than Q4_K's.
    CHECK(
        editedStepError(embed, [](Step& s) { s.kernel = "embed_q8_0"; })
            .rfind(stepPrefix(embed, "embed_q8_0") + "argument 'table' needs 278528 bytes at offset 0 but weight slot",
                   0) == 0);
  }
  SECTION("null, misaligned") {
    CHECK(editedStepError(norm, [](Step& s) { s.ptrs[1] = {}; }) ==
          stepPrefix(norm) + "argument 'weight' is null, but the kernel touches 1024 bytes from it");
    CHECK(editedStepError(norm, [](Step& s) { s.ptrs[2].offset += 4; }) ==
          stepPrefix(norm) + fmt::format("argument 'out' offset {} is not a multiple of 16 bytes",
                                         m1.steps[norm.step].ptrs[2].offset + 4));
  }
}

TEST_CASE("a hand-edited weight slot or KV cache fails to load", "[codegen][plan-check]") {
  Plan plan = tinyPlan();
  plan.weights[0].bytes /= 2;
  CHECK(loadError(plan) ==
        fmt::format("t.plan: weight slot 0 'token_embd.weight': {} bytes, but a q4_k tensor of 1024 x "
                    "256 takes {} in the gguf layout",
                    plan.weights[0].bytes, 2 * plan.weights[0].bytes));
  plan = tinyPlan();
  plan.weights[0].qtype = "q9_k";
  CHECK(loadError(plan) ==
        "t.plan: weight slot 0 'token_embd.weight': a q9_k tensor of 1024 x 256 cannot be laid out as gguf");
  // A cache of one layer: layer 1's parts are gone.
  plan = tinyPlan();
  plan.kvCache.layers = 1;
  const std::string error = loadError(plan);
  CHECK(error.find("argument 'k_cache' points to KV cache part 2, but the cache has 2 parts (K and V of each layer)") !=
        std::string::npos);
  CHECK(error.rfind("t.plan: step ", 0) == 0);
}
