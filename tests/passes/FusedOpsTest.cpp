#include "ir/OpRegistry.h"
#include "ir/Parser.h"
#include "ir/Verifier.h"
#include "passes/FusedOps.h"
#include "passes/PassTable.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace reel;

namespace {

/// Verifies a graph whose prelude defines %x (f32[4, 256]), %xq (its q8_1 form), a norm
/// weight %nw and three q4_k weights %wa, %wb (512 x 256) and %wc (256 x 256).
std::string verifyError(const std::string& body) {
  passes::registerBuiltinPasses();
  std::string text =
      "module @m\ngraph @g attributes {phase = \"decode\", bucket = 4} {\n"
      "  %t = input {name = \"token_ids\"} : i32[4]\n"
      "  %e = weight {name = \"e\"} : q4_k[64, 256]\n"
      "  %x = embedding %t, %e : f32[4, 256]\n"
      "  %xq = quantize_q8_1 %x : q8_1[4, 256]\n"
      "  %nw = weight {name = \"nw\"} : f32[256]\n"
      "  %wa = weight {name = \"wa\"} : q4_k[512, 256]\n"
      "  %wb = weight {name = \"wb\"} : q4_k[512, 256]\n"
      "  %wc = weight {name = \"wc\"} : q4_k[256, 256]\n"
      "  %w6 = weight {name = \"w6\"} : q6_k[256, 256]\n" +
      body + "}\n";
  std::unique_ptr<ir::Module> module = ir::parseModule(text, "fused.ir");
  return ir::findVerifyError(*module->graphs.front()).value_or("ok");
}

}  // namespace

TEST_CASE("each fused op is declared by exactly one row of the pass table", "[passes][fused-ops]") {
  for (const ir::OpDef& def : passes::fusedOpDefs()) {
    std::vector<std::string> declaredBy;
    for (const passes::PassInfo& info : passes::builtinPassTable())
      for (const ir::OpDef& op : info.ops)
        if (op.name == def.name) declaredBy.push_back(info.name);
    INFO(def.name);
    CHECK(declaredBy.size() == 1);
  }
}

TEST_CASE("registering the built-in passes registers the fused ops", "[passes][fused-ops]") {
  passes::registerBuiltinPasses();
  passes::registerBuiltinPasses();  // idempotent
  for (const char* name : {"matmul_qkv", "matmul_gate_up", "add_rms_norm", "quantize_q8_1"}) {
    const ir::OpDef* def = ir::lookupOp(name);
    REQUIRE(def);
    CHECK(def->verify);
    CHECK_FALSE(def->hasSideEffects);
  }
  CHECK(ir::lookupOp("matmul_qkv")->numResults == 3);
  CHECK(ir::lookupOp("matmul_gate_up")->numResults == 2);
  CHECK(ir::lookupOp("add_rms_norm")->numResults == 2);
}

TEST_CASE("matmul_qkv rules", "[passes][fused-ops]") {
  CHECK(verifyError("  %q, %k, %v = matmul_qkv %xq, %wa, %wc, %wc {kernel = \"dp4a\"} : f32[4, 512], f32[4, 256], "
                    "f32[4, 256]\n") == "ok");
  CHECK(verifyError("  %q, %k, %v = matmul_qkv %x, %wa, %wc, %wc {kernel = \"hgemm\"} : f32[4, 512], f32[4, 256], "
                    "f32[4, 256]\n") == "ok");
  // Mixed qtypes (Q4_K_M's Q6_K attn_v): one launch per run of one qtype.
  CHECK(verifyError("  %q, %k, %v = matmul_qkv %xq, %wa, %wc, %w6 {kernel = \"dp4a\"} : f32[4, 512], "
                    "f32[4, 256], f32[4, 256]\n") == "ok");
  CHECK_THAT(verifyError("  %q, %k, %v = matmul_qkv %xq, %wa, %wc, %wc {kernel = \"dp4a\"} : f32[4, 256], "
                         "f32[4, 256], f32[4, 256]\n"),
             Catch::Contains("result 0 must be f32[4, 512]"));
  CHECK_THAT(verifyError("  %q, %k, %v = matmul_qkv %xq, %wa, %wc, %wc {kernel = \"fp8\"} : f32[4, 512], f32[4, 256], "
                         "f32[4, 256]\n"),
             Catch::Contains("q8_1 activations need kernel \"dp4a\""));
  // The tensor-core kernel has no stacked form.
  CHECK_THAT(verifyError("  %q, %k, %v = matmul_qkv %xq, %wa, %wc, %wc {kernel = \"mma\"} : f32[4, 512], f32[4, 256], "
                         "f32[4, 256]\n"),
             Catch::Contains("kernel \"mma\" has no fused form"));
  CHECK_THAT(verifyError("  %q, %k, %v = matmul_qkv %xq, %wa, %wc, %wc : f32[4, 512], f32[4, 256], f32[4, 256]\n"),
             Catch::Contains("needs a string attribute 'kernel'"));
  CHECK_THAT(verifyError("  %q, %k, %v = matmul_qkv %xq, %wa, %x, %wc {kernel = \"dp4a\"} : f32[4, 512], f32[4, 256], "
                         "f32[4, 256]\n"),
             Catch::Contains("must be a model weight"));
}

TEST_CASE("q8_1 activations feed dp4a and mma matmuls only", "[passes][fused-ops]") {
  CHECK(verifyError("  %y = matmul %xq, %wa {kernel = \"mma\"} : f32[4, 512]\n") == "ok");
  CHECK(verifyError("  %y = matmul %xq, %wa {kernel = \"dp4a\"} : f32[4, 512]\n") == "ok");
  CHECK_THAT(verifyError("  %y = matmul %xq, %wa {kernel = \"hgemm\"} : f32[4, 512]\n"),
             Catch::Contains("q8_1 activations need kernel \"dp4a\" or \"mma\", got \"hgemm\""));
}

TEST_CASE("matmul_gate_up rules", "[passes][fused-ops]") {
  CHECK(verifyError("  %g, %u = matmul_gate_up %xq, %wa, %wb {kernel = \"dp4a\"} : f32[4, 512], f32[4, 512]\n") ==
        "ok");
  CHECK_THAT(verifyError("  %g, %u = matmul_gate_up %xq, %wa, %wc {kernel = \"dp4a\"} : f32[4, 512], f32[4, 256]\n"),
             Catch::Contains("gate and up weights must have one type"));
  CHECK_THAT(verifyError("  %g, %u = matmul_gate_up %xq, %wa, %wb {kernel = \"mma\"} : f32[4, 512], f32[4, 512]\n"),
             Catch::Contains("kernel \"mma\" has no fused form"));
  CHECK_THAT(verifyError("  %g, %u = matmul_gate_up %xq, %wa, %wb {kernel = \"int4\"} : f32[4, 512], f32[4, 512]\n"),
             Catch::Contains("must be one of dp4a, mma, hgemm, fp8, dequant-hgemm, mma-f16"));
}

TEST_CASE("add_rms_norm rules", "[passes][fused-ops]") {
  CHECK(verifyError("  %s, %n = add_rms_norm %x, %x, %nw {eps = 1.0e-05} : f32[4, 256], f32[4, 256]\n") == "ok");
  CHECK_THAT(verifyError("  %s, %n = add_rms_norm %x, %x, %nw : f32[4, 256], f32[4, 256]\n"),
             Catch::Contains("positive float attribute 'eps'"));
  CHECK_THAT(verifyError("  %s, %n = add_rms_norm %x, %xq, %nw {eps = 1.0e-05} : f32[4, 256], f32[4, 256]\n"),
             Catch::Contains("operand types differ"));
  CHECK_THAT(verifyError("  %s, %n = add_rms_norm %x, %x, %nw {eps = 1.0e-05} : f32[4, 256], f32[2, 256]\n"),
             Catch::Contains("result 1 must be f32[4, 256]"));
}

TEST_CASE("quantize_q8_1 rules", "[passes][fused-ops]") {
  CHECK_THAT(verifyError("  %b = quantize_q8_1 %x : f32[4, 256]\n"), Catch::Contains("result 0 must be q8_1[4, 256]"));
  CHECK_THAT(verifyError("  %b = quantize_q8_1 %xq : q8_1[4, 256]\n"), Catch::Contains("input must be f32"));
}
