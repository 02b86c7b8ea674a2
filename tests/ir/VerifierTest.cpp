#include "ir/Parser.h"
#include "ir/Verifier.h"

#include <catch2/catch.hpp>

using namespace reel::ir;

namespace {

std::string verifyError(const std::string& body) {
  std::string text =
      "module @m\ngraph @g {\n"
      "  %t = input {name = \"token_ids\"} : i32[M]\n"
      "  %pos = input {name = \"positions\"} : i32[M]\n"
      "  %w = weight {name = \"w\"} : q4_k[64, 256]\n"
      "  %x = embedding %t, %w : f32[M, 256]\n" +
      body + "}\n";
  std::unique_ptr<Module> module = parseModule(text, "v.ir");
  std::optional<std::string> error = findVerifyError(*module->graphs.front());
  return error.value_or("ok");
}

}  // namespace

TEST_CASE("matmul rules", "[ir][verifier]") {
  CHECK(verifyError("  %q = weight {name = \"q\"} : q4_k[512, 256]\n  %y = matmul %x, %q : f32[M, 512]\n") == "ok");
  CHECK_THAT(verifyError("  %q = weight {name = \"q\"} : q4_k[512, 512]\n  %y = matmul %x, %q : f32[M, 512]\n"),
             Catch::Contains("inner dims differ"));
  CHECK_THAT(verifyError("  %q = weight {name = \"q\"} : q4_k[512, 256]\n  %y = matmul %x, %q : f32[M, 256]\n"),
             Catch::Contains("result must be f32[M, 512]"));
  CHECK_THAT(verifyError("  %y = matmul %x, %x : f32[M, 256]\n"), Catch::Contains("must be a model weight"));
}

TEST_CASE("weight rules", "[ir][verifier]") {
  CHECK_THAT(verifyError("  %q = weight {name = \"q\"} : q4_k[512, 100]\n"),
             Catch::Contains("not a multiple of the q4_k block"));
  CHECK_THAT(verifyError("  %q = weight {name = \"q\"} : f32[M, 100]\n"), Catch::Contains("must be static"));
  CHECK_THAT(verifyError("  %q = weight {nam = \"q\"} : f32[100]\n"),
             Catch::Contains("needs a string attribute 'name'"));
}

TEST_CASE("rope rules", "[ir][verifier]") {
  std::string good =
      "  %r = rope %x, %pos {style = \"neox\", n_heads = 8, head_dim = 32, freq_base = 10000.0} : f32[M, 256]\n";
  CHECK(verifyError(good) == "ok");
  CHECK_THAT(
      verifyError(
          "  %r = rope %x, %pos {style = \"gptj\", n_heads = 8, head_dim = 32, freq_base = 1.0} : f32[M, 256]\n"),
      Catch::Contains("must be one of norm, neox"));
  CHECK_THAT(
      verifyError(
          "  %r = rope %x, %pos {style = \"norm\", n_heads = 4, head_dim = 32, freq_base = 1.0} : f32[M, 256]\n"),
      Catch::Contains("not n_heads * head_dim"));
  CHECK_THAT(verifyError("  %r = rope %x, %pos {style = \"norm\", n_heads = 8, head_dim = 32, freq_base = 1.0, scaling "
                         "= \"llama3\"} : f32[M, 256]\n"),
             Catch::Contains("needs a positive float attribute 'scale_factor'"));
}

TEST_CASE("attention rules", "[ir][verifier]") {
  std::string prelude =
      "  %len = input {name = \"kv_lens\"} : i32[M]\n"
      "  %kc = kv_cache {layer = 0, part = \"k\"} : f16[S, 2, 32]\n"
      "  %vc = kv_cache {layer = 0, part = \"v\"} : f16[S, 2, 32]\n"
      "  %kw = weight {name = \"k\"} : q4_k[64, 256]\n"
      "  %k = matmul %x, %kw : f32[M, 64]\n";
  CHECK(verifyError(prelude + "  %a = attention %x, %k, %k, %kc, %vc, %pos, %len {layer = 0, n_heads = 8, n_kv_heads = "
                              "2, head_dim = 32} : f32[M, 256]\n") == "ok");
  CHECK_THAT(verifyError(prelude + "  %a = attention %x, %k, %k, %kc, %vc, %pos, %len {layer = 0, n_heads = 8, "
                                   "n_kv_heads = 3, head_dim = 32} : f32[M, 256]\n"),
             Catch::Contains("not a multiple of n_kv_heads"));
  CHECK_THAT(verifyError(prelude + "  %a = attention %x, %k, %k, %kc, %kc, %pos, %len {layer = 0, n_heads = 8, "
                                   "n_kv_heads = 2, head_dim = 32, window = 0} : f32[M, 256]\n"),
             Catch::Contains("window must be positive"));
  CHECK_THAT(verifyError(prelude + "  %a = attention %x, %x, %k, %kc, %vc, %pos, %len {layer = 0, n_heads = 8, "
                                   "n_kv_heads = 2, head_dim = 32} : f32[M, 256]\n"),
             Catch::Contains("k must be f32[M, 64]"));
}

TEST_CASE("structural rules", "[ir][verifier]") {
  CHECK_THAT(verifyError("  %y = add %x : f32[M, 256]\n"), Catch::Contains("takes 2 operands, got 1"));
  CHECK_THAT(verifyError("  %y = argmax %x : f32[M]\n"), Catch::Contains("result must be i32[M]"));
}

TEST_CASE("q8_1 results of norms and SwiGLU (folded quantizations)", "[ir][verifier]") {
  const std::string normWeight = "  %nw = weight {name = \"n\"} : f32[256]\n";
  CHECK(verifyError(normWeight + "  %n = rms_norm %x, %nw {eps = 1.0e-05} : q8_1[M, 256]\n") == "ok");
  CHECK(verifyError("  %s = silu_mul %x, %x : q8_1[M, 256]\n") == "ok");
  CHECK_THAT(verifyError(normWeight + "  %n = rms_norm %x, %nw {eps = 1.0e-05} : q8_1[M, 128]\n"),
             Catch::Contains("result 0 must have shape f32[M, 256]"));
  CHECK_THAT(verifyError(normWeight + "  %n = rms_norm %x, %nw {eps = 1.0e-05} : f16[M, 256]\n"),
             Catch::Contains("result 0 must be f32[M, 256] (or its q8_1 form)"));
  // The residual add has no Q8_1 epilogue.
  CHECK_THAT(verifyError("  %s = add %x, %x : q8_1[M, 256]\n"), Catch::Contains("result must be f32[M, 256]"));
  // Whole Q8_1 blocks only.
  CHECK_THAT(verifyError("  %w48 = weight {name = \"w48\"} : f32[64, 48]\n  %y = embedding %t, %w48 : f32[M, 48]\n"
                         "  %s = silu_mul %y, %y : q8_1[M, 48]\n"),
             Catch::Contains("a q8_1 result needs a static width that is a multiple of 32"));
}

TEST_CASE("rank-0 types are refused by the op that needs a rank, never indexed", "[ir][verifier]") {
  // The sources: a weight, an input and a KV cache of no dimensions.
  CHECK_THAT(verifyError("  %q = weight {name = \"q\"} : f32[]\n"),
             Catch::Contains("weight must have rank 1 (a vector) or 2 (a matrix), got f32[]"));
  CHECK_THAT(verifyError("  %q = weight {name = \"q\"} : q4_k[]\n"), Catch::Contains("got q4_k[]"));
  CHECK_THAT(verifyError("  %q = weight {name = \"q\"} : f32[2, 2, 256]\n"), Catch::Contains("got f32[2, 2, 256]"));
  CHECK_THAT(verifyError("  %i = input {name = \"kv_lens\"} : i32[]\n"),
             Catch::Contains("result must be i32 of rank 1 (one value per row), got i32[]"));
  CHECK_THAT(verifyError("  %c = kv_cache {layer = 0, part = \"k\"} : f16[]\n"),
             Catch::Contains("KV cache must be f16[S, n_kv_heads, head_dim], got f16[]"));
  // Results of no dimensions, on ops that derive their result type from their operands.
  const std::string normWeight = "  %nw = weight {name = \"n\"} : f32[256]\n";
  CHECK_THAT(verifyError(normWeight + "  %n = rms_norm %x, %nw {eps = 1.0e-05} : f32[]\n"),
             Catch::Contains("result 0 must be f32[M, 256]"));
  CHECK_THAT(verifyError(normWeight + "  %n = rms_norm %x, %nw {eps = 1.0e-05} : q8_1[]\n"),
             Catch::Contains("result 0 must have shape f32[M, 256]"));
  CHECK_THAT(verifyError("  %s = silu_mul %x, %x : q8_1[]\n"), Catch::Contains("result 0 must have shape"));
  CHECK_THAT(verifyError("  %s = add %x, %x : f32[]\n"), Catch::Contains("result must be f32[M, 256], got f32[]"));
  CHECK_THAT(verifyError("  %a = argmax %x : i32[]\n"), Catch::Contains("result must be i32[M], got i32[]"));
  CHECK_THAT(verifyError("  %q = weight {name = \"q\"} : q4_k[512, 256]\n  %y = matmul %x, %q : f32[]\n"),
             Catch::Contains("result must be f32[M, 512], got f32[]"));
}

TEST_CASE("attribute values are quoted with control characters escaped", "[ir][verifier]") {
  CHECK_THAT(verifyError("  %r = rope %x, %pos {style = \"\x1b[31mred\", n_heads = 8, head_dim = 32, freq_base = 1.0} "
                         ": f32[M, 256]\n"),
             Catch::EndsWith("must be one of norm, neox, got '\\x1b[31mred'"));
}

TEST_CASE("decision attributes follow their schema (ir/DecisionAttrs.h)", "[ir][verifier][decisions]") {
  const std::string matmul = "  %q = weight {name = \"q\"} : q4_k[512, 256]\n  %y = matmul %x, %q {kernel = ";
  CHECK(verifyError(matmul + "\"mma\"} : f32[M, 512]\n") == "ok");
  CHECK_THAT(
      verifyError(matmul + "\"wmma\"} : f32[M, 512]\n"),
      Catch::Contains("attribute 'kernel' must be one of dp4a, mma, hgemm, fp8, dequant-hgemm, mma-f16, got 'wmma'"));
  CHECK_THAT(verifyError(matmul + "3} : f32[M, 512]\n"), Catch::Contains("attribute 'kernel' must be a string"));

  const std::string prelude =
      "  %len = input {name = \"kv_lens\"} : i32[M]\n"
      "  %kc = kv_cache {layer = 0, part = \"k\"} : f16[S, 2, 32]\n"
      "  %vc = kv_cache {layer = 0, part = \"v\"} : f16[S, 2, 32]\n"
      "  %kw = weight {name = \"k\"} : q4_k[64, 256]\n"
      "  %k = matmul %x, %kw : f32[M, 64]\n"
      "  %a = attention %x, %k, %k, %kc, %vc, %pos, %len {layer = 0, n_heads = 8, n_kv_heads = 2, head_dim = 32";
  auto attention = [&](const std::string& attrs) { return verifyError(prelude + attrs + "} : f32[M, 256]\n"); };
  CHECK(attention(", strategy = \"decode\"") == "ok");
  CHECK(attention(", strategy = \"flash-prefill\"") == "ok");
  // The op's attributes hold; the graph lacks its threshold (the next test case has one).
  CHECK(attention(", strategy = \"decode\", long_context_strategy = \"flash-decoding\", splits = 4, "
                  "context_threshold = 2048") ==
        "graph @g: %a has a long-context variant, but the graph has no context_threshold");
  CHECK_THAT(attention(", strategy = \"paged\""),
             Catch::Contains("attribute 'strategy' must be one of decode, prefill, flash-prefill, got 'paged'"));
  CHECK_THAT(attention(", strategy = \"decode\", long_context_strategy = \"flash-decoding\", splits = 1, "
                       "context_threshold = 2048"),
             Catch::Contains("attribute 'splits' must be at least 2, got 1"));
  CHECK_THAT(attention(", strategy = \"decode\", long_context_strategy = \"flash-decoding\", splits = 4"),
             Catch::Contains("needs 'splits' and 'context_threshold'"));
  CHECK_THAT(attention(", strategy = \"decode\", splits = 4"),
             Catch::Contains("attributes 'splits' and 'context_threshold' need 'long_context_strategy'"));
  CHECK_THAT(attention(", strategy = \"prefill\", long_context_strategy = \"flash-decoding\", splits = 4, "
                       "context_threshold = 8"),
             Catch::Contains("strategy prefill has no long-context variant"));
  CHECK_THAT(attention(", strategy = \"flash-prefill\", long_context_strategy = \"flash-decoding\", splits = 4, "
                       "context_threshold = 8"),
             Catch::Contains("strategy flash-prefill has no long-context variant"));
  CHECK_THAT(verifyError("  %y = add %x, %x {strategy = \"decode\"} : f32[M, 256]\n"),
             Catch::Contains("attribute 'strategy' belongs on attention ops only"));

  CHECK(verifyError("  %y = add %x, %x {offsets = [256]} : f32[M, 256]\n") == "ok");
  CHECK_THAT(verifyError("  %y = add %x, %x {offsets = [0, 256]} : f32[M, 256]\n"),
             Catch::Contains("attribute 'offsets' has 2 entries for 1 results"));
  CHECK_THAT(verifyError("  %y = add %x, %x {offsets = [-8]} : f32[M, 256]\n"),
             Catch::Contains("offsets[0] is -8 (an arena offset >= 0, or -1)"));
}

TEST_CASE("a graph's context_threshold is at least 1", "[ir][verifier][decisions]") {
  const std::string text =
      "module @m\ngraph @g attributes {context_threshold = 0} {\n"
      "  %t = input {name = \"token_ids\"} : i32[M]\n"
      "}\n";
  std::unique_ptr<Module> module = parseModule(text, "v.ir");
  CHECK(findVerifyError(*module->graphs.front()) ==
        std::optional<std::string>("graph @g: attribute 'context_threshold' must be at least 1, got 0"));
}

TEST_CASE("an op's long-context variant switches at its graph's context_threshold", "[ir][verifier][decisions]") {
  auto graphWith = [](const std::string& graphAttrs, int64_t opThreshold) {
    const std::string text =
        "module @m\ngraph @g" + graphAttrs +
        " {\n"
        "  %t = input {name = \"token_ids\"} : i32[M]\n"
        "  %pos = input {name = \"positions\"} : i32[M]\n"
        "  %len = input {name = \"kv_lens\"} : i32[M]\n"
        "  %w = weight {name = \"w\"} : q4_k[64, 256]\n"
        "  %x = embedding %t, %w : f32[M, 256]\n"
        "  %kc = kv_cache {layer = 0, part = \"k\"} : f16[S, 2, 32]\n"
        "  %vc = kv_cache {layer = 0, part = \"v\"} : f16[S, 2, 32]\n"
        "  %kw = weight {name = \"k\"} : q4_k[64, 256]\n"
        "  %k = matmul %x, %kw : f32[M, 64]\n"
        "  %a = attention %x, %k, %k, %kc, %vc, %pos, %len {layer = 0, n_heads = 8, n_kv_heads = 2, head_dim = 32, "
        "strategy = \"decode\", long_context_strategy = \"flash-decoding\", splits = 4, context_threshold = " +
        std::to_string(opThreshold) + "} : f32[M, 256]\n}\n";
    std::unique_ptr<Module> module = parseModule(text, "v.ir");
    return findVerifyError(*module->graphs.front()).value_or("ok");
  };
  CHECK(graphWith(" attributes {context_threshold = 1024}", 1024) == "ok");
  CHECK(graphWith(" attributes {context_threshold = 1024}", 2048) ==
        "graph @g: %a switches at context_threshold 2048, the graph at 1024");
  CHECK(graphWith("", 1024) == "graph @g: %a has a long-context variant, but the graph has no context_threshold");
}

TEST_CASE("tensor-parallel rules: weight pieces and collectives", "[ir][verifier][shard]") {
  auto rankGraph = [](const std::string& graphAttrs, const std::string& body) {
    std::string text = "module @m\ngraph @g" + graphAttrs +
                       " {\n"
                       "  %t = input {name = \"token_ids\"} : i32[M]\n"
                       "  %e = weight {name = \"e\", shard_axis = 0, shard_parts = 2} : q8_0[32, 64]\n" +
                       body + "}\n";
    std::unique_ptr<Module> module = parseModule(text, "v.ir");
    return findVerifyError(*module->graphs.front()).value_or("ok");
  };
  const std::string lookup = "  %x = vocab_parallel_embedding %t, %e : f32[M, 64]\n";
  const std::string sum = "  %s = all_reduce %x : f32[M, 64]\n";
  CHECK(rankGraph(" attributes {tp = 2}", lookup + sum + "  %g = all_gather %s : f32[M, 128]\n") == "ok");
  CHECK(rankGraph(" attributes {tp = 4}", lookup) ==
        "v.ir:5:3: graph @g: op 'vocab_parallel_embedding' (%x): table %e must be split by vocabulary into the "
        "graph's tp 4 parts (shard_axis = 0)");
  CHECK_THAT(rankGraph(" attributes {tp = 2}", lookup + "  %g = all_gather %x : f32[M, 64]\n"),
             Catch::Contains("result must be f32[M, 128] (tp 2 x the input's columns), got f32[M, 64]"));
  CHECK_THAT(rankGraph(" attributes {tp = 3}", ""),
             Catch::Contains("shard_parts 2 must be at least 2 and divide the graph's tp 3"));
  CHECK_THAT(rankGraph("", ""), Catch::Contains("shard_parts 2 must be at least 2 and divide the graph's tp 1"));
  CHECK_THAT(rankGraph(" attributes {tp = 0}", ""),
             Catch::Contains("graph @g: attribute 'tp' must be an integer from 1 to 65536"));
  CHECK_THAT(rankGraph(" attributes {tp = 2}",
                       "  %w = weight {name = \"w\", shard_axis = 2, shard_parts = 2} : q8_0[32, 64]\n"),
             Catch::Contains("shard_axis 2 is not a dim of q8_0[32, 64]"));
  CHECK_THAT(rankGraph(" attributes {tp = 2}", "  %w = weight {name = \"w\", shard_parts = 2} : q8_0[32, 64]\n"),
             Catch::Contains("attributes 'shard_axis' and 'shard_parts' go together"));
}

TEST_CASE("a sharded module's heads are the model's over its ranks", "[ir][verifier][shard]") {
  auto moduleWith = [](const std::string& graphAttrs, int64_t heads, int64_t kvHeads) {
    const std::string text =
        "module @m attributes {heads = 8, kv_heads = 2, tp = 2}\ngraph @g" + graphAttrs +
        " {\n"
        "  %t = input {name = \"token_ids\"} : i32[M]\n"
        "  %pos = input {name = \"positions\"} : i32[M]\n"
        "  %len = input {name = \"kv_lens\"} : i32[M]\n"
        "  %w = weight {name = \"w\"} : f32[64, " +
        std::to_string(heads * 32) +
        "]\n"
        "  %x = embedding %t, %w : f32[M, " +
        std::to_string(heads * 32) + "]\n  %kc = kv_cache {layer = 0, part = \"k\"} : f16[S, " +
        std::to_string(kvHeads) + ", 32]\n  %vc = kv_cache {layer = 0, part = \"v\"} : f16[S, " +
        std::to_string(kvHeads) + ", 32]\n  %kw = weight {name = \"k\"} : f32[" + std::to_string(kvHeads * 32) + ", " +
        std::to_string(heads * 32) + "]\n  %k = matmul %x, %kw : f32[M, " + std::to_string(kvHeads * 32) +
        "]\n  %a = attention %x, %k, %k, %kc, %vc, %pos, %len {layer = 0, n_heads = " + std::to_string(heads) +
        ", n_kv_heads = " + std::to_string(kvHeads) + ", head_dim = 32} : f32[M, " + std::to_string(heads * 32) +
        "]\n}\n";
    std::unique_ptr<Module> module = parseModule(text, "v.ir");
    try {
      verifyModule(*module);
    } catch (const reel::Error& error) {
      return std::string(error.what());
    }
    return std::string("ok");
  };
  CHECK(moduleWith(" attributes {tp = 2}", 4, 1) == "ok");
  CHECK(moduleWith(" attributes {tp = 2}", 8, 2) ==
        "graph @g: op 'attention' (%a) has n_heads 8 and n_kv_heads 2, but a model of 8 heads and 2 KV heads on tp 2 "
        "ranks has 4 and 1 per rank");
  CHECK(moduleWith("", 4, 1) == "module @m has tp 2, its graph @g tp 1");
}
