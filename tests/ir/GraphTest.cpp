#include "ir/Graph.h"
#include "ir/Verifier.h"

#include <catch2/catch.hpp>

using namespace reel::ir;

namespace {

Value* make(Graph& graph, llvm::StringRef name, llvm::ArrayRef<Value*> operands, const std::string& result,
            const TensorType& type, AttrDict attrs = {}) {
  OpSpec spec;
  spec.name = name;
  spec.operands.assign(operands.begin(), operands.end());
  spec.resultNames.push_back(result);
  spec.resultTypes.push_back(type);
  spec.attrs = std::move(attrs);
  return graph.create(spec)->result();
}

AttrDict named(const std::string& name) {
  AttrDict attrs;
  attrs.set("name", name);
  return attrs;
}

}  // namespace

TEST_CASE("use-lists follow operands and replace-all-uses", "[ir][graph]") {
  Graph graph("g");
  TensorType row(ElemType::F32, {kDimM, 64});
  Value* w = make(graph, "weight", {}, "w", TensorType(ElemType::F32, {64, 64}), named("w.weight"));
  Value* tokens = make(graph, "input", {}, "tokens", TensorType(ElemType::I32, {kDimM}), named("token_ids"));
  Value* a = make(graph, "embedding", {tokens, w}, "a", row);
  Value* b = make(graph, "embedding", {tokens, w}, "b", row);
  Value* sum = make(graph, "add", {a, a}, "sum", row);
  CHECK(a->uses().size() == 2);
  CHECK(w->uses().size() == 2);
  a->replaceAllUsesWith(b);
  CHECK_FALSE(a->hasUses());
  CHECK(b->uses().size() == 2);
  CHECK(sum->producer()->operand(0) == b);
  graph.erase(a->producer());
  CHECK(graph.size() == 4);
  CHECK(w->uses().size() == 1);
  CHECK_FALSE(findVerifyError(graph));
}

TEST_CASE("value names are made unique", "[ir][graph]") {
  Graph graph("g");
  Value* first = make(graph, "input", {}, "x", TensorType(ElemType::I32, {kDimM}), named("a"));
  Value* second = make(graph, "input", {}, "x", TensorType(ElemType::I32, {kDimM}), named("b"));
  CHECK(first->name() == "x");
  CHECK(second->name() == "x.1");
  CHECK(graph.lookup("x.1") == second);
}

TEST_CASE("erasing a used op is refused", "[ir][graph]") {
  Graph graph("g");
  Value* tokens = make(graph, "input", {}, "tokens", TensorType(ElemType::I32, {kDimM}), named("token_ids"));
  OpSpec out;
  out.name = "output";
  out.operands.push_back(tokens);
  out.attrs = named("t");
  graph.create(out);
  CHECK_THROWS_AS(graph.erase(tokens->producer()), reel::Error);
}

TEST_CASE("clone copies ops, names and uses", "[ir][graph]") {
  Graph graph("g");
  TensorType row(ElemType::F32, {kDimM, 32});
  Value* w = make(graph, "weight", {}, "w", TensorType(ElemType::F32, {8, 32}), named("w.weight"));
  Value* tokens = make(graph, "input", {}, "tokens", TensorType(ElemType::I32, {kDimM}), named("token_ids"));
  make(graph, "embedding", {tokens, w}, "e", row);
  std::unique_ptr<Graph> copy = graph.clone("copy");
  REQUIRE(copy->size() == 3);
  Value* e = copy->lookup("e");
  REQUIRE(e);
  CHECK(e->producer()->operand(1) == copy->lookup("w"));
  CHECK(copy->lookup("w") != w);
}
