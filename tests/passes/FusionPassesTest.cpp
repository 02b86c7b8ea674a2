// fuse-qkv, fuse-gate-up and fuse-residual-norm on built models.
#include "models/QuantPolicy.h"
#include "passes/DecisionTestSupport.h"

#include <fmt/format.h>
#include <catch2/catch.hpp>

using namespace reel;
using namespace reel::passes;
using namespace reel::passes::testing;

namespace {

std::string producerName(const ir::Module& module, const char* graph, const char* value) {
  const ir::Op* op = producerOf(*module.findGraph(graph), value);
  return op ? op->name().str() : std::string("<none>");
}

size_t countOps(const ir::Module& module, const char* graph, const char* opName) {
  return opsNamed(*module.findGraph(graph), opName).size();
}

}  // namespace

TEST_CASE("fuse-qkv fuses dp4a projections, of one qtype or not", "[passes][fuse-qkv]") {
  PassContext context = contextFor(h100Like(), {4, 8});
  context.memoryBudget = int64_t{80} << 30;  // room for the FP8 copies at M = 8
  std::unique_ptr<ir::Module> module =
      compile(llama3_8b(), "specialize-buckets,canonicalize,select-precision,fuse-qkv", context);
  // Layer 5's attn_v is q4_k: fused, and the results keep their names.
  REQUIRE_FALSE(models::usesMoreBits(5, 32));
  const ir::Op* fused = producerOf(*module->findGraph("decode.m4"), "l5.q");
  REQUIRE(fused->name() == "matmul_qkv");
  CHECK(fused->result(1)->name() == "l5.k");
  CHECK(fused->result(2)->name() == "l5.v");
  CHECK(fused->attrs().getString("kernel") == std::optional<std::string>("dp4a"));
  // Layer 0's attn_v is q6_k: fused too (lowered as two launches, q+k and v).
  REQUIRE(models::usesMoreBits(0, 32));
  CHECK(producerName(*module, "decode.m4", "l0.q") == "matmul_qkv");
  // FP8 at M=8: no fusion.
  CHECK(countOps(*module, "decode.m8", "matmul_qkv") == 0);
  bool sawMixedReason = false;
  for (const Decision& decision : decisionsOf(context, "fuse-qkv", "decode.m4"))
    sawMixedReason |= decision.choice == "matmul_qkv" && decision.reason.find("q4_k+q4_k+q6_k)") != std::string::npos;
  CHECK(sawMixedReason);
}

TEST_CASE("fuse-qkv keeps the biases as bias_adds on the fused results", "[passes][fuse-qkv]") {
  PassContext context = contextFor(h100Like(), {2});
  std::unique_ptr<ir::Module> module =
      compile(qwen15bLike(), "specialize-buckets,canonicalize,select-precision,fuse-qkv", context);
  const ir::Graph& graph = *module->findGraph("decode.m2");
  int layer = 0;
  while (models::usesMoreBits(layer, 28)) ++layer;  // a layer whose attn_v is q4_k
  std::string q = fmt::format("l{}.q", layer);
  REQUIRE(producerOf(graph, q)->name() == "matmul_qkv");
  CHECK(producerOf(graph, q + "_b")->name() == "bias_add");
  CHECK(producerOf(graph, q + "_b")->operand(0)->name() == q);
}

TEST_CASE("fuse-qkv{enable=false} changes nothing", "[passes][fuse-qkv]") {
  PassContext context = contextFor(h100Like(), {4});
  std::unique_ptr<ir::Module> module =
      compile(llama3_8b(), "specialize-buckets,select-precision,fuse-qkv{enable=false}", context);
  CHECK(countOps(*module, "decode.m4", "matmul_qkv") == 0);
}

TEST_CASE("fuse-gate-up applies its default conditions on an H100", "[passes][fuse-gate-up]") {
  PassContext context = contextFor(h100Like(), {1, 2, 4, 8, 64});
  context.memoryBudget = int64_t{80} << 30;  // room for the FP8 copies at M = 8
  std::unique_ptr<ir::Module> module =
      compile(llama3_8b(), "specialize-buckets,canonicalize,select-precision,fuse-gate-up", context);
  CHECK(countOps(*module, "decode.m1", "matmul_gate_up") == 0);  // M < min-m
  CHECK(countOps(*module, "decode.m2", "matmul_gate_up") == 32);
  CHECK(countOps(*module, "decode.m4", "matmul_gate_up") == 32);
  CHECK(countOps(*module, "decode.m8", "matmul_gate_up") == 0);   // FP8 fires at M >= 5
  CHECK(countOps(*module, "decode.m64", "matmul_gate_up") == 0);  // mma
  CHECK(countOps(*module, "prefill", "matmul_gate_up") == 0);
  const ir::Op* fused = producerOf(*module->findGraph("decode.m4"), "l7.gate");
  CHECK(fused->result(1)->name() == "l7.up");
  CHECK(producerOf(*module->findGraph("decode.m4"), "l7.act")->operand(1) == fused->result(1));

  auto reasonsFor = [&](const char* graph) {
    std::string all;
    for (const Decision& decision : decisionsOf(context, "fuse-gate-up", graph)) all += decision.reason + "\n";
    return all;
  };
  CHECK_THAT(reasonsFor("decode.m1"), Catch::Contains("M=1 < min-m=2"));
  CHECK_THAT(reasonsFor("decode.m8"), Catch::Contains("kernel fp8 chosen, not dp4a"));
  CHECK_THAT(reasonsFor("decode.m64"), Catch::Contains("M=64 > max-m=8"));
  CHECK_THAT(reasonsFor("decode.m4"), Catch::Matches(R"(fused \d+\.\dus vs separate \d+\.\dus .*\n)"));
}

TEST_CASE("the fusions leave mma matmuls separate", "[passes][fuse-qkv][fuse-gate-up][mma]") {
  PassContext context = contextFor(h100Like(), {16});
  std::unique_ptr<ir::Module> module =
      compile(llama3_8b(), "specialize-buckets,canonicalize,select-precision,fuse-qkv,fuse-gate-up{max-m=64}", context);
  REQUIRE(attrOf(*module->findGraph("decode.m16"), "l3.gate", "kernel") == "mma");
  CHECK(countOps(*module, "decode.m16", "matmul_qkv") == 0);
  CHECK(countOps(*module, "decode.m16", "matmul_gate_up") == 0);
  std::string reasons;
  for (const Decision& decision : context.decisions) reasons += decision.reason + "\n";
  CHECK_THAT(reasons,
             Catch::Contains("kernel mma (fusion needs dp4a)") && Catch::Contains("kernel mma chosen, not dp4a"));
}

TEST_CASE("fuse-gate-up conditions are options", "[passes][fuse-gate-up]") {
  PassContext a100 = contextFor(a100Like(), {1, 8, 16});
  std::unique_ptr<ir::Module> module =
      compile(llama3_8b(), "specialize-buckets,select-precision,fuse-gate-up{min-m=1}", a100);
  CHECK(countOps(*module, "decode.m1", "matmul_gate_up") == 32);
  CHECK(countOps(*module, "decode.m8", "matmul_gate_up") == 32);  // no FP8 on an A100
  CHECK(countOps(*module, "decode.m16", "matmul_gate_up") == 0);  // M > max-m

  PassContext again = contextFor(a100Like(), {8});
  module = compile(llama3_8b(), "specialize-buckets,select-precision,fuse-gate-up{max-m=4}", again);
  CHECK(countOps(*module, "decode.m8", "matmul_gate_up") == 0);

  PassContext q8 = contextFor(h100Like(), {4});
  module = models::buildModule(llama3_8b(), {models::QuantScheme::Q8_0});
  PassManager(Pipeline::parse("specialize-buckets,select-precision,fuse-gate-up")).run(*module, q8);
  CHECK(countOps(*module, "decode.m4", "matmul_gate_up") == 0);  // require-q4k
  PassContext q8Relaxed = contextFor(h100Like(), {4});
  module = models::buildModule(llama3_8b(), {models::QuantScheme::Q8_0});
  PassManager(Pipeline::parse("specialize-buckets,select-precision,fuse-gate-up{require-q4k=false}"))
      .run(*module, q8Relaxed);
  CHECK(countOps(*module, "decode.m4", "matmul_gate_up") == 32);
}

TEST_CASE("fuse-gate-up waits for select-precision", "[passes][fuse-gate-up]") {
  PassContext context = contextFor(h100Like(), {4});
  std::unique_ptr<ir::Module> module = compile(tinyModel(), "specialize-buckets,fuse-gate-up", context);
  CHECK(countOps(*module, "decode.m4", "matmul_gate_up") == 0);
}

TEST_CASE("fuse-residual-norm fuses at hidden 1536, M=4 on an RTX 4090 with reel's kernel, and says why",
          "[passes][fuse-residual-norm]") {
  // A fused kernel with 8 bytes in flight per thread loses here (CostModelTest); reel's keeps
  // 16x the bytes in flight.
  PassContext context = contextFor(rtx4090Like(), {4});
  std::unique_ptr<ir::Module> module = compile(qwen15bLike(), "specialize-buckets,fuse-residual-norm", context);
  CHECK(countOps(*module, "decode.m4", "add_rms_norm") == 56);
  std::vector<Decision> decisions = decisionsOf(context, "fuse-residual-norm", "decode.m4");
  REQUIRE_FALSE(decisions.empty());
  for (const Decision& decision : decisions) {
    CHECK(decision.choice == "add_rms_norm");
    CHECK_THAT(decision.reason,
               Catch::Matches(R"(fused (\d+\.\d)us on 4 CTAs .* vs separate (\d+\.\d)us \(add .* on 24 CTAs.*)"
                              R"(\(M=4, hidden 1536, 128 SMs\))"));
  }
}

TEST_CASE("fuse-residual-norm accepts where it pays", "[passes][fuse-residual-norm]") {
  SECTION("launch-bound: a small hidden size") {
    PassContext context = contextFor(h100Like(), {1});
    std::unique_ptr<ir::Module> module = compile(tinyModel(), "specialize-buckets,fuse-residual-norm", context);
    // Per layer: h -> ffn_in, and out -> the next layer's attn_in (or final_norm).
    CHECK(countOps(*module, "decode.m1", "add_rms_norm") == 4);
    const ir::Op* fused = producerOf(*module->findGraph("decode.m1"), "l0.ffn_in");
    REQUIRE(fused->name() == "add_rms_norm");
    CHECK(fused->result(0)->name() == "l0.h");
    CHECK(producerOf(*module->findGraph("decode.m1"), "final_norm")->name() == "add_rms_norm");
  }
  SECTION("prefill and decode on an RTX 4090") {
    PassContext context = contextFor(rtx4090Like(), {4});
    std::unique_ptr<ir::Module> module = compile(llama3_8b(), "specialize-buckets,fuse-residual-norm", context);
    CHECK(countOps(*module, "prefill", "add_rms_norm") == 64);
    CHECK(countOps(*module, "decode.m4", "add_rms_norm") == 64);
  }
}

TEST_CASE("fuse-residual-norm modes override the cost model", "[passes][fuse-residual-norm]") {
  PassContext always = contextFor(rtx4090Like(), {4});
  std::unique_ptr<ir::Module> module =
      compile(qwen15bLike(), "specialize-buckets,fuse-residual-norm{mode=always}", always);
  CHECK(countOps(*module, "decode.m4", "add_rms_norm") == 56);
  PassContext never = contextFor(h100Like(), {1});
  module = compile(tinyModel(), "specialize-buckets,fuse-residual-norm{mode=never}", never);
  CHECK(countOps(*module, "decode.m1", "add_rms_norm") == 0);
  PassContext bad = contextFor(h100Like(), {1});
  CHECK_THROWS_WITH(
      compile(tinyModel(), "specialize-buckets,fuse-residual-norm{mode=maybe}", bad),
      Catch::Contains("pass 'fuse-residual-norm': option 'mode' expects one of cost, always, never, got 'maybe'"));
}
