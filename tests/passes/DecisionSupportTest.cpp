#include "ir/Parser.h"
#include "ir/Printer.h"
#include "passes/DecisionSupport.h"
#include "passes/PassTable.h"

#include <catch2/catch.hpp>

using namespace reel;
using namespace reel::passes;

TEST_CASE("bucket shapes come from the graph attributes", "[passes][decision-support]") {
  ir::Graph generic("step");
  CHECK_FALSE(bucketShape(generic));
  ir::Graph decode("decode.m4");
  decode.attrs().set("phase", std::string("decode"));
  decode.attrs().set("bucket", int64_t{4});
  REQUIRE(bucketShape(decode));
  CHECK(bucketShape(decode)->m == 4);
  CHECK_FALSE(bucketShape(decode)->prefill);
  CHECK(describeBucket(*bucketShape(decode)) == "M=4");
  ir::Graph prefill("prefill");
  prefill.attrs().set("phase", std::string("prefill"));
  prefill.attrs().set("bucket", int64_t{256});
  CHECK(describeBucket(*bucketShape(prefill)) == "prefill M=256");
}

TEST_CASE("layer numbers are hidden to group decisions", "[passes][decision-support]") {
  CHECK(layerPattern("l3.gate") == "l*.gate");
  CHECK(layerPattern("l31.attn_in") == "l*.attn_in");
  CHECK(layerPattern("logits") == "logits");
  CHECK(layerPattern("l.x") == "l.x");
  CHECK(layerPattern("l3") == "l3");

  PassContext context;
  DecisionGroups groups("p", "decode.m1");
  groups.add("l0.gate", "dp4a", "same");
  groups.add("l1.gate", "dp4a", "same");
  groups.add("l2.gate", "fp8", "other");
  groups.add("logits", "dp4a", "same");
  groups.flush(context);
  REQUIRE(context.decisions.size() == 3);
  CHECK(context.decisions[0].subject == "%l*.gate (2 layers)");
  CHECK(context.decisions[1].subject == "%l2.gate");
  CHECK(context.decisions[2].subject == "%logits");
  CHECK(context.decisions[0].graph == "decode.m1");
}

TEST_CASE("a fused op takes over the names of the results it replaces", "[passes][decision-support]") {
  registerBuiltinPasses();
  std::unique_ptr<ir::Module> module = ir::parseModule(
      "module @m\n"
      "graph @g attributes {phase = \"decode\", bucket = 1} {\n"
      "  %t = input {name = \"token_ids\"} : i32[1]\n"
      "  %e = weight {name = \"e\"} : f32[16, 32]\n"
      "  %x = embedding %t, %e : f32[1, 32]\n"
      "  %w = weight {name = \"w\"} : f32[32]\n"
      "  %h = add %x, %x : f32[1, 32]\n"
      "  %n = rms_norm %h, %w {eps = 1.0e-05} : f32[1, 32]\n"
      "  %o = add %h, %n : f32[1, 32]\n"
      "  output %o {name = \"o\"}\n"
      "}\n",
      "fuse.ir");
  ir::Graph& graph = *module->graphs.front();
  ir::Op* add = graph.lookup("h")->producer();
  ir::Op* norm = graph.lookup("n")->producer();
  ir::OpSpec spec;
  spec.name = "add_rms_norm";
  spec.operands = {add->operand(0), add->operand(1), norm->operand(1)};
  spec.resultTypes = {add->result()->type(), norm->result()->type()};
  spec.attrs = norm->attrs();
  ir::Op* fused = replaceByFusedOp(graph, spec, {add->result(), norm->result()}, norm);
  CHECK(fused->result(0)->name() == "h");
  CHECK(fused->result(1)->name() == "n");
  CHECK(ir::printOp(*graph.lookup("o")->producer()) == "%o = add %h, %n : f32[1, 32]");
  CHECK(graph.size() == 7);  // the add and the norm became one op
  OpOrder order(graph);
  CHECK(order.of(fused) < order.of(graph.lookup("o")->producer()));
}
