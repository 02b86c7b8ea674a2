// The infrastructure passes on real builder output: they find nothing to do on a fresh
// build (so they report no change), and running them twice changes nothing the second time.
#include "ir/Printer.h"
#include "models/Builder.h"
#include "models/ModelLoader.h"
#include "passes/PassManager.h"

#include <catch2/catch.hpp>

using namespace reel;
using namespace reel::passes;

namespace {

std::unique_ptr<ir::Module> build(const std::string& model) {
  return models::buildModule(models::loadModelConfig(model), {models::QuantScheme::Q4_K_M});
}

bool run(ir::Module& module, const std::string& pipeline) {
  PassContext context;
  context.buckets = {1, 4};
  return PassManager(Pipeline::parse(pipeline)).run(module, context);
}

}  // namespace

TEST_CASE("cleanup passes report no change on fresh builder output", "[passes][cleanup]") {
  for (const char* model : {"tiny", "qwen2.5-0.5b", "mistral-7b-v0.1"}) {
    INFO(model);
    auto module = build(model);
    std::string before = ir::printModule(*module);
    for (const char* pass : {"canonicalize", "cse", "dce"}) {
      INFO(pass);
      CHECK_FALSE(run(*module, pass));
    }
    CHECK(ir::printModule(*module) == before);
  }
}

TEST_CASE("specialize-buckets runs once; cleanup after it is a fixed point", "[passes][cleanup]") {
  auto module = build("tiny");
  CHECK(run(*module, "specialize-buckets"));
  REQUIRE(module->graphs.size() == 3);
  CHECK(module->graphs[0]->name() == "decode.m1");
  CHECK(module->graphs[1]->name() == "decode.m4");
  CHECK(module->graphs[2]->name() == "prefill");
  CHECK(*module->graphs[2]->attrs().getInt("bucket") == 256);
  std::string specialised = ir::printModule(*module);
  CHECK(specialised.find("M]") == std::string::npos);
  CHECK(specialised.find("M,") == std::string::npos);
  CHECK_FALSE(run(*module, "specialize-buckets,canonicalize,cse,dce"));
  CHECK(ir::printModule(*module) == specialised);
}

TEST_CASE("specialize-buckets options override the context", "[passes][cleanup]") {
  auto module = build("tiny");
  PassContext context;
  CHECK(PassManager(Pipeline::parse("specialize-buckets{buckets=[2,3],prefill-tokens=0}")).run(*module, context));
  REQUIRE(module->graphs.size() == 2);
  CHECK(module->graphs[1]->name() == "decode.m3");
  CHECK(context.buckets == std::vector<int64_t>{2, 3});
  CHECK(context.prefillTokens == 0);
}
