#include "passes/DecisionTestSupport.h"

#include <catch2/catch.hpp>

using namespace reel;
using namespace reel::passes;
using namespace reel::passes::testing;

namespace {

const ir::Op& attentionOf(const ir::Module& module, const char* graph, const char* value = "l0.attn") {
  const ir::Op* op = producerOf(*module.findGraph(graph), value);
  REQUIRE(op);
  REQUIRE(op->name() == "attention");
  return *op;
}

}  // namespace

TEST_CASE("select-attention: per bucket strategies and the long-context class", "[passes][select-attention]") {
  PassContext context = contextFor(h100Like(), {1, 4, 64});
  std::unique_ptr<ir::Module> module = compile(llama3_8b(), "specialize-buckets,select-attention", context);

  const ir::Op& m1 = attentionOf(*module, "decode.m1");
  CHECK(m1.attrs().getString("strategy") == std::optional<std::string>("decode"));
  CHECK(m1.attrs().getString("long_context_strategy") == std::optional<std::string>("flash-decoding"));
  int64_t splits1 = m1.attrs().getInt("splits").value_or(0);
  CHECK(splits1 >= 8);  // 32 CTAs alone cannot stream the cache
  CHECK(m1.attrs().getInt("context_threshold") == 1024);
  CHECK(module->findGraph("decode.m1")->attrs().getInt("context_threshold") == 1024);

  const ir::Op& m4 = attentionOf(*module, "decode.m4", "l31.attn");
  CHECK(m4.attrs().getString("strategy") == std::optional<std::string>("decode"));
  int64_t splits4 = m4.attrs().getInt("splits").value_or(0);
  CHECK(splits4 > 1);
  CHECK(splits4 <= splits1);

  // 64 sequences already make a wide grid: fewer splits than one sequence needs.
  const ir::Op& m64 = attentionOf(*module, "decode.m64");
  CHECK(m64.attrs().getString("strategy") == std::optional<std::string>("decode"));
  CHECK(m64.attrs().getInt("splits").value_or(1) < splits4);

  const ir::Op& prefill = attentionOf(*module, "prefill");
  CHECK(prefill.attrs().getString("strategy") == std::optional<std::string>("flash-prefill"));
  CHECK_FALSE(prefill.attrs().has("splits"));
  CHECK_FALSE(prefill.attrs().has("long_context_strategy"));
  CHECK_FALSE(module->findGraph("prefill")->attrs().has("context_threshold"));

  bool explained = false;
  for (const Decision& decision : decisionsOf(context, "select-attention", "decode.m1")) {
    if (decision.choice != "flash-decoding splits=" + std::to_string(splits1)) continue;
    explained = true;
    CHECK(decision.subject == "%l*.attn (32 layers)");
    CHECK_THAT(
        decision.reason,
        Catch::Matches(R"(above 1024 keys \(flash-min-context 1024\), at ctx 4096: decode \d+\.\dus vs splits=2 .* vs )"
                       R"(splits=32 \d+\.\dus \(M=1, 32 heads, 8 kv heads x 128\))"));
  }
  CHECK(explained);
}

TEST_CASE("select-attention: no long-context class where the context cannot exceed the threshold",
          "[passes][select-attention]") {
  SECTION("the model's context") {
    PassContext context = contextFor(h100Like(), {1});
    std::unique_ptr<ir::Module> module =
        compile(tinyModel(), "specialize-buckets,select-attention{flash-min-context=2048}", context);
    const ir::Op& op = attentionOf(*module, "decode.m1");
    CHECK(op.attrs().getString("strategy") == std::optional<std::string>("decode"));
    CHECK_FALSE(op.attrs().has("long_context_strategy"));
    CHECK_FALSE(module->findGraph("decode.m1")->attrs().has("context_threshold"));
  }
  SECTION("a sliding window") {
    models::ModelConfig config = llama3_8b();
    config.slidingWindow = 1024;
    PassContext context = contextFor(h100Like(), {2});
    std::unique_ptr<ir::Module> module = compile(config, "specialize-buckets,select-attention", context);
    CHECK_FALSE(attentionOf(*module, "decode.m2").attrs().has("long_context_strategy"));
  }
  SECTION("max-splits=1 turns flash-decoding off") {
    PassContext context = contextFor(h100Like(), {1});
    std::unique_ptr<ir::Module> module =
        compile(llama3_8b(), "specialize-buckets,select-attention{max-splits=1}", context);
    CHECK_FALSE(attentionOf(*module, "decode.m1").attrs().has("splits"));
  }
}

TEST_CASE("select-attention: the threshold comes from the profile", "[passes][select-attention]") {
  GpuProfile profile = h100Like();
  profile.flashDecodingMinContext = 512;
  PassContext context = contextFor(profile, {1});
  std::unique_ptr<ir::Module> module = compile(tinyModel(), "specialize-buckets,select-attention", context);
  CHECK(attentionOf(*module, "decode.m1").attrs().getInt("context_threshold") == 512);
}

TEST_CASE("select-attention leaves a generic graph alone and is idempotent", "[passes][select-attention]") {
  PassContext context = contextFor(h100Like(), {2});
  std::unique_ptr<ir::Module> module = models::buildModule(tinyModel(), {models::QuantScheme::Q4_K_M});
  CHECK_FALSE(PassManager(Pipeline::parse("select-attention")).run(*module, context));
  PassManager(Pipeline::parse("specialize-buckets,select-attention")).run(*module, context);
  CHECK_FALSE(PassManager(Pipeline::parse("select-attention")).run(*module, context));
}
