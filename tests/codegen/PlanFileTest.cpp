#include "codegen/Compiler.h"
#include "codegen/PlanFile.h"
#include "models/ModelLoader.h"

#include <fmt/format.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <functional>

using namespace reel;
using namespace reel::codegen;

namespace {

Plan tinyPlan() {
  CompileRequest request;
  request.config = models::loadModelConfig("tiny");
  request.profile = passes::bundledGpuProfile("h100");
  request.buckets = {1, 2};
  request.prefillTokens = 16;
  request.maxContext = 256;
  return compileModel(request).plan;
}

std::string readError(const std::string& text) {
  try {
    planFromJson(text, "t.plan");
  } catch (const Error& error) {
    return error.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("the plan file round-trips", "[codegen][plan]") {
  Plan plan = tinyPlan();
  std::string json = planToJson(plan);
  Plan back = planFromJson(json, "t.plan");
  CHECK(back == plan);
  CHECK(planToJson(back) == json);
}

TEST_CASE("bad plan files are refused with the place", "[codegen][plan]") {
  nlohmann::json good = nlohmann::json::parse(planToJson(tinyPlan()));
  auto withEdit = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json doc = good;
    edit(doc);
    return readError(doc.dump());
  };
  CHECK(readError("{") == "t.plan: byte 2: not a plan file (invalid JSON)");
  CHECK(readError("[1, 2]") == "t.plan: not a reel plan file");
  CHECK(readError("{\"us\": 1e39741935485}") == "t.plan: not a plan file (invalid JSON: a number out of range)");
  CHECK(withEdit([](auto& d) { d["version"] = 99; }) ==
        fmt::format("t.plan: plan format version 99 is not supported (this reel reads version {}); recompile the plan",
                    kPlanFormatVersion));
  CHECK(withEdit([](auto& d) { d["buckets"][0]["steps"][0]["kernel"] = "embed_q9"; }) ==
        "t.plan: step 0 of @decode.m1 (embed_q9 for %x0): unknown kernel 'embed_q9'");
  CHECK(withEdit([](auto& d) { d.erase("max_context"); }) == "t.plan: max_context: missing");
  CHECK(withEdit([](auto& d) { d["max_context"] = "big"; }) == "t.plan: max_context: expected an integer");
  CHECK(withEdit([](auto& d) { d["buckets"][0]["steps"][0]["ints"].push_back(1); }) ==
        "t.plan: step 0 of @decode.m1 (embed_q4_k for %x0): kernel 'embed_q4_k' takes 3 pointers, 3 integers and 0 "
        "floats, not 3, 4 and 0");
  CHECK(withEdit([](auto& d) {
          d["buckets"][0]["steps"][0]["ptrs"][0] = {"weight", 100000, 0};
        }) == fmt::format("t.plan: step 0 of @decode.m1 (embed_q4_k for %x0): argument 'table' points to weight slot "
                          "100000, but the plan has {}",
                          good["weights"].size()));
  CHECK(withEdit([](auto& d) {
          d["buckets"][0]["steps"][0]["ptrs"][2] = {"arena", 0, int64_t(1) << 40};
        }) ==
        fmt::format("t.plan: step 0 of @decode.m1 (embed_q4_k for %x0): argument 'out' needs 1024 bytes at offset "
                    "{} but the arena holds {}",
                    int64_t(1) << 40, good["buckets"][0]["arena_bytes"].get<int64_t>()));
  CHECK(withEdit([](auto& d) {
          d["buckets"][0]["steps"][0]["ptrs"][2] = {"arena", 0, int64_t(1) << 43};
        }) == "t.plan: buckets[0].steps[0].ptrs[2][2]: 8796093022208 is out of range [0, 4398046511104]");
  CHECK(withEdit([](auto& d) { d["buckets"][0]["steps"][0]["ints"][0] = uint64_t(1) << 63; }) ==
        "t.plan: buckets[0].steps[0].ints[0]: 9223372036854775808 is out of range [-9223372036854775808, "
        "9223372036854775807]");
  CHECK(withEdit([](auto& d) { d["kv_cache"]["kv_heads"] = 0; }) ==
        "t.plan: kv_cache: layers, kv_heads and head_dim must be all positive, or all 0 (no KV cache)");
  CHECK(withEdit([](auto& d) {
          d["buckets"][0]["steps"][0]["ptrs"][2] = {"disk", 0, 0};
        }) == "t.plan: buckets[0].steps[0].ptrs[2][0]: unknown value \"disk\"");
  CHECK(withEdit([](auto& d) {
          d["buckets"][0]["steps"][0]["dims"]["grid"] = {0, 1, 1};
        }) == "t.plan: buckets[0].steps[0].dims.grid[0]: 0 is out of range [1, 2147483647]");
  size_t gemv = 0;
  while (good["buckets"][0]["steps"][gemv]["kernel"].get<std::string>().rfind("gemv", 0) != 0) ++gemv;
  CHECK(withEdit([&](auto& d) { d["buckets"][0]["steps"][gemv]["ints"][2] = 99; }) ==
        fmt::format("t.plan: step {} of @decode.m1 ({} for {}): m must be in 1..8", gemv,
                    good["buckets"][0]["steps"][gemv]["kernel"].get<std::string>(),
                    good["buckets"][0]["steps"][gemv]["op"].get<std::string>()));
  size_t withFloat = 0;
  while (good["buckets"][0]["steps"][withFloat]["floats"].empty()) ++withFloat;
  CHECK(withEdit([&](auto& d) { d["buckets"][0]["steps"][withFloat]["floats"][0] = 1e39; }) ==
        fmt::format("t.plan: buckets[0].steps[{}].floats[0]: 1e+39 is not a finite 32-bit float", withFloat));
  CHECK(withEdit([](auto& d) { d["bandwidth_gbs"] = -1.0; }) ==
        "t.plan: bandwidth_gbs: -1 is not a finite number >= 0");
}
