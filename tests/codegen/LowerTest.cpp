#include "codegen/Compiler.h"
#include "codegen/Lower.h"
#include "codegen/OpLowering.h"
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
    const size_t matrices = step.ints.size() - 4;  // n, k, m, row_sets, then each matrix's rows
    CHECK(step.ptrs.size() == 2 * matrices + 1);   // weights, the activations, outputs
    CHECK(step.ints[3] == 1);                      // select-launch-config: tiny's narrow matrices
    int64_t rows = 0;
    for (size_t i = 4; i < step.ints.size(); ++i) rows += step.ints[i];
    CHECK(rows == step.ints[0]);
  }
  std::multiset<std::string> prefill;
  for (const Step& step : bucketNamed(plan, "prefill").steps) prefill.insert(step.kernel);
  CHECK(prefill.count("attn_prefill_flash") == 2);  // prefill keeps the separate launches
  CHECK(prefill.count("kv_append") == 2);
  CHECK(prefill.count("rope_norm") == 4);
}

TEST_CASE("a weight keeps one slot per layout", "[codegen]") {
  CompileResult result = compileModel(tinyRequest());
  std::set<std::pair<std::string, int>> seen;
  for (const WeightSlot& slot : result.plan.weights)
    CHECK(seen.insert({slot.tensor, static_cast<int>(slot.layout)}).second);
}

namespace {

/// An op of the tests' own: an f32 row-wise copy, registered once for the IR.
const char* registerTestCopyOp(const char* name) {
  ir::registerOp({name, "a test op: a copy of its operand", 1, 1, 1, false, nullptr});
  return name;
}

/// The tiny model compiled without lowering, with `op` reading the logits of every graph.
std::unique_ptr<ir::Module> moduleWithOp(const char* op) {
  CompileRequest request = tinyRequest();
  request.lower = false;
  std::unique_ptr<ir::Module> module = compileModel(request).module;
  for (const std::unique_ptr<ir::Graph>& graph : module->graphs) {
    ir::OpSpec spec;
    spec.name = op;
    spec.operands.push_back(graph->lookup("logits"));
    spec.resultNames.push_back("copied");
    spec.resultTypes.push_back(graph->lookup("logits")->type());
    graph->create(spec);
  }
  return module;
}

}  // namespace

TEST_CASE("every op of a compiled model lowers through the lowering registry", "[codegen][registry]") {
  CompileResult result = compileModel(tinyRequest());
  for (const std::unique_ptr<ir::Graph>& graph : result.module->graphs)
    for (const std::unique_ptr<ir::Op>& op : graph->ops()) {
      INFO(op->describe());
      CHECK(findOpLowering(op->name()) != nullptr);
    }
  CHECK(findOpLowering("no_such_op") == nullptr);
}

TEST_CASE("an op without a lowering is refused naming it", "[codegen][registry]") {
  static const char* op = registerTestCopyOp("test_unlowered_op");
  std::unique_ptr<ir::Module> module = moduleWithOp(op);
  CHECK_THROWS_WITH(lowerModule(*module, LowerOptions{passes::bundledGpuProfile("h100"), "", 512}),
                    "graph @decode.m1: cannot lower op 'test_unlowered_op' (%copied): no lowering is registered for "
                    "this op");
}

TEST_CASE("a registered lowering hook lowers a new op to catalog kernels", "[codegen][registry]") {
  static const char* op = registerTestCopyOp("test_lowered_op");
  // x + 0 would need a zero buffer; x + x is a catalog kernel over the op's operand alone.
  static int calls = 0;
  static const bool registered = [] {
    registerOpLowering(op, [](const ir::Op& lowered, LoweringContext& context) {
      ++calls;
      const BufferRef x = context.value(lowered.operand(0));
      const int64_t n = context.rows() * lowered.result()->type().shape.back();
      context.emit(lowered, {"add", {x, x, context.scratch(n * 4)}, {n}});
    });
    return true;
  }();
  CHECK(registered);
  std::unique_ptr<ir::Module> module = moduleWithOp(op);
  calls = 0;
  Plan plan = lowerModule(*module, LowerOptions{passes::bundledGpuProfile("h100"), "", 512});
  CHECK(calls == static_cast<int>(plan.buckets.size()));
  for (const BucketPlan& bucket : plan.buckets) {
    INFO(bucket.graph);
    REQUIRE_FALSE(bucket.steps.empty());
    CHECK(bucket.steps.back().kernel == "add");
    CHECK(bucket.steps.back().op == "%copied");
    CHECK(bucket.steps.back().ints == std::vector<int64_t>{bucket.m * 1024});
  }
  CHECK_THROWS_WITH(registerOpLowering(op, [](const ir::Op&, LoweringContext&) {}),
                    "op 'test_lowered_op' already has a lowering");
  CHECK_THROWS_WITH(registerOpLowering("rms_norm", [](const ir::Op&, LoweringContext&) {}),
                    "op 'rms_norm' already has a lowering");
}
