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

  // The h100 profile keeps DP4A through M = 16 (two 8-row passes there), FP8 from 17.
  const ir::Graph& m8 = *module->findGraph("decode.m8");
  CHECK(kernelOf(m8, "l3.gate") == "dp4a");
  CHECK(countOps(m8, "matmul_gate_up") == 32);
  const ir::Graph& m16 = *module->findGraph("decode.m16");
  CHECK(kernelOf(m16, "l3.gate") == "dp4a");
  CHECK(countOps(m16, "matmul_gate_up") == 0);  // gate+up fuses up to M = 8
  const ir::Graph& m32 = *module->findGraph("decode.m32");
  CHECK(kernelOf(m32, "l3.gate") == "fp8");
  CHECK(countOps(m32, "quantize_q8_1") == 0);

  const ir::Graph& m64 = *module->findGraph("decode.m64");
  CHECK(kernelOf(m64, "l3.gate") == "hgemm");
  CHECK(kernelOf(m64, "logits") == "hgemm");

  const ir::Graph& prefill = *module->findGraph("prefill");
  CHECK(kernelOf(prefill, "l3.q") == "hgemm");
  CHECK(attrOf(prefill, "l3.attn", "strategy") == "prefill");

  for (const std::unique_ptr<ir::Graph>& graph : module->graphs) CHECK(graph->attrs().getInt("arena_bytes") > 0);
  CHECK(context.report.count("weight bytes on GPU") == 1);
  for (const Decision& decision : context.decisions) {
    INFO(decision.pass << " " << decision.subject);
    CHECK_FALSE(decision.reason.empty());
    CHECK(decision.reason.find('\n') == std::string::npos);
  }
}
