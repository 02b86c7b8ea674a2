// The default pipeline on Llama-3-8B with the bundled H100 profile: the per-bucket
// choices of docs/design.md ("Decision rules"), end to end.
#include "passes/DecisionTestSupport.h"
#include "passes/PassTable.h"

#include <catch2/catch.hpp>

using namespace reel;
using namespace reel::passes;
using namespace reel::passes::testing;

namespace {

size_t countOps(const ir::Graph& graph, const char* opName) {
  return opsNamed(graph, opName).size();
}

std::string kernelOf(const ir::Graph& graph, const char* value) {
  return attrOf(graph, value, "kernel");
}

}  // namespace

TEST_CASE("the default pipeline on llama-3-8b for an H100 follows the rules", "[passes][pipeline]") {
  PassContext context = contextFor(bundledGpuProfile("h100"));
  std::unique_ptr<ir::Module> module = compile(llama3_8b(), kDefaultPipeline, context);
  REQUIRE(module->graphs.size() == 8);  // 7 decode buckets + prefill

  const ir::Graph& m1 = *module->findGraph("decode.m1");
  CHECK(kernelOf(m1, "l3.ffn_out") == "dp4a");
  CHECK(countOps(m1, "matmul_gate_up") == 32);  // the h100 profile fuses from M = 1
  CHECK(kernelOf(m1, "l3.gate") == "dp4a");
  CHECK(attrOf(m1, "l3.attn", "strategy") == "decode");

  const ir::Graph& m4 = *module->findGraph("decode.m4");
  CHECK(countOps(m4, "matmul_gate_up") == 32);
  CHECK(producerOf(m4, "l3.gate")->name() == "matmul_gate_up");
  CHECK(kernelOf(m4, "l3.gate") == "dp4a");
  CHECK(attrOf(m4, "l3.attn", "strategy") == "decode");
  CHECK(attrOf(m4, "l3.attn", "long_context_strategy") == "flash-decoding");

  // DP4A through M = 8; from M = 16 on and in prefill the tensor-core kernel on the stored
  // weights (cheaper than two 8-row GEMV passes, and FP8 and HGEMM copies do not fit the default
  // budget), unfused, on Q8_1 activations; at M = 64 and in prefill mma or dequant-hgemm, as
  // the cost model finds (the f16 cast of the activations for the latter). (The narrow GQA k
  // and v projections keep FP8 or FP16 copies where they fit the default budget.)
  const ir::Graph& m8 = *module->findGraph("decode.m8");
  CHECK(kernelOf(m8, "l3.gate") == "dp4a");
  CHECK(countOps(m8, "matmul_gate_up") == 32);
  const std::pair<const char*, const char*> expected[] = {
      {"decode.m16", "mma"}, {"decode.m32", "mma"}, {"decode.m64", ""}, {"prefill", ""}};
  for (const auto& [bucket, kernel] : expected) {
    INFO(bucket);
    const ir::Graph& graph = *module->findGraph(bucket);
    for (const char* value : {"l3.q", "l3.attn_out", "l3.gate", "l3.up", "l3.ffn_out", "logits"}) {
      INFO(value);
      const std::string chosen = kernelOf(graph, value);
      if (*kernel != '\0') CHECK(chosen == kernel);
      CHECK((chosen == "mma" || chosen == "dequant-hgemm"));
      CHECK(producerOf(graph, value)->operand(0)->type().elem ==
            (chosen == "mma" ? ir::ElemType::Q8_1 : ir::ElemType::F16));
    }
    CHECK(countOps(graph, "matmul_gate_up") == 0);
  }

  const ir::Graph& prefill = *module->findGraph("prefill");
  CHECK(attrOf(prefill, "l3.attn", "strategy") == "flash-prefill");

  for (const std::unique_ptr<ir::Graph>& graph : module->graphs) CHECK(graph->attrs().getInt("arena_bytes") > 0);
  CHECK(context.report.count("weight bytes on GPU") == 1);
  for (const Decision& decision : context.decisions) {
    INFO(decision.pass << " " << decision.subject);
    CHECK_FALSE(decision.reason.empty());
    CHECK(decision.reason.find('\n') == std::string::npos);
  }
}
