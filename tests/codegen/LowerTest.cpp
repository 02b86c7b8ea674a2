#include "codegen/Compiler.h"
#include "codegen/PlanFile.h"
#include "kernels/KernelCatalog.h"
#include "models/ModelLoader.h"

#include <catch2/catch.hpp>

#include <set>

using namespace reel;
using namespace reel::codegen;

namespace {

CompileRequest tinyRequest() {
  CompileRequest request;
  request.config = models::loadModelConfig("tiny");
  request.profile = passes::bundledGpuProfile("h100");
  request.buckets = {1, 4, 16};
  request.prefillTokens = 32;
  request.maxContext = 512;
  return request;
}

const BucketPlan& bucketNamed(const Plan& plan, const std::string& name) {
  for (const BucketPlan& bucket : plan.buckets)
    if (bucket.graph == name) return bucket;
  FAIL("no bucket " << name);
  throw;
}

}  // namespace

TEST_CASE("every bucket lowers to steps the catalog accepts", "[codegen]") {
  CompileResult result = compileModel(tinyRequest());
  const Plan& plan = result.plan;
  REQUIRE(plan.buckets.size() >= 4);
  for (const BucketPlan& bucket : plan.buckets) {
    INFO(bucket.graph);
    CHECK(bucket.arenaBytes > 0);
    CHECK(bucket.logitsOffset >= 0);
    REQUIRE_FALSE(bucket.steps.empty());
    for (const Step& step : bucket.steps) {
      const kernels::KernelInfo* info = kernels::findKernel(step.kernel);
      REQUIRE(info);
      CHECK(step.ptrs.size() == info->ptrArgs.size());
      CHECK(step.ints.size() == info->intArgs.size());
      CHECK(step.floats.size() == info->floatArgs.size());
      for (const BufferRef& ref : step.ptrs) {
        if (ref.kind == BufferKind::Arena) CHECK(ref.offset < bucket.arenaBytes);
        if (ref.kind == BufferKind::Weight) CHECK(ref.index < static_cast<int64_t>(plan.weights.size()));
        if (ref.kind == BufferKind::Scratch) CHECK(ref.offset < plan.scratchBytes);
      }
    }
    CHECK(bucket.steps.back().kernel == "argmax");
  }
}

TEST_CASE("lowering follows the passes' decisions", "[codegen]") {
  CompileResult result = compileModel(tinyRequest());
  const Plan& plan = result.plan;
  std::multiset<std::string> m1;
  for (const Step& step : bucketNamed(plan, "decode.m1").steps) m1.insert(step.kernel);
  CHECK(m1.count("embed_q4_k") == 1);
  // fuse-rope-attention: RoPE, KV append and attention in one launch per layer; fold-quantize:
  // it writes the output projection's Q8_1 activations itself.
  CHECK(m1.count("attn_decode_rope_q8_1") == 2);
  CHECK(m1.count("quantize_q8_1") == 0);
  CHECK(m1.count("kv_append") + m1.count("rope_norm") + m1.count("attn_decode") == 0);
  CHECK(m1.count("gemv_dp4a_q6_k") >= 1);  // output.weight and layer 1's ffn_down
  // fuse-qkv: layer 0's q, k, v (all Q4_K) in one stacked launch; layer 1's Q4_K q and k with
  // its Q6_K v in one mixed stack.
  CHECK(m1.count("gemv_dp4a_stack3_q4_k") == 1);
  CHECK(m1.count("gemv_dp4a_stack3_q4_k_q6_k") == 1);
  CHECK(m1.count("gemv_dp4a_stack2_q4_k") == 0);
  for (const Step& step : bucketNamed(plan, "decode.m1").steps) {
    if (step.kernel.rfind("gemv_dp4a_stack", 0) != 0) continue;
    INFO(step.kernel);
    const size_t matrices = step.ints.size() - 3;  // n, k, m, then each matrix's rows
    CHECK(step.ptrs.size() == 2 * matrices + 1);   // weights, the activations, outputs
    int64_t rows = 0;
    for (size_t i = 3; i < step.ints.size(); ++i) rows += step.ints[i];
    CHECK(rows == step.ints[0]);
  }
  std::multiset<std::string> prefill;
  for (const Step& step : bucketNamed(plan, "prefill").steps) prefill.insert(step.kernel);
  CHECK(prefill.count("attn_prefill") == 2);  // prefill keeps the separate launches
  CHECK(prefill.count("kv_append") == 2);
  CHECK(prefill.count("rope_norm") == 4);
}

TEST_CASE("a weight keeps one slot per layout", "[codegen]") {
  CompileResult result = compileModel(tinyRequest());
  std::set<std::pair<std::string, int>> seen;
  for (const WeightSlot& slot : result.plan.weights)
    CHECK(seen.insert({slot.tensor, static_cast<int>(slot.layout)}).second);
}
