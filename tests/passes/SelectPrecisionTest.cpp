#include "models/QuantPolicy.h"
#include "passes/CostModel.h"
#include "passes/DecisionTestSupport.h"

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <array>
#include <regex>
#include <set>

using namespace reel;
using namespace reel::passes;
using namespace reel::passes::testing;

namespace {

const char* kPipeline = "specialize-buckets,canonicalize,select-precision{dequant-hgemm=true}";

std::string kernelOf(const ir::Module& module, const char* graph, const char* value) {
  return attrOf(*module.findGraph(graph), value, "kernel");
}

/// The "(N B)" figure of the report's weight bytes.
int64_t reportedWeightBytes(const PassContext& context) {
  std::smatch match;
  const std::string& text = context.report.at("weight bytes on GPU");
  REQUIRE(std::regex_search(text, match, std::regex(R"(\((\d+) B\))")));
  return std::stoll(match[1]);
}

struct WeightTotals {
  int64_t stored = 0;
  int64_t fp8Copies = 0;  ///< one FP8 copy of every matmul weight
};

WeightTotals weightTotals(const models::ModelConfig& config) {
  WeightTotals totals;
  for (const models::WeightInfo& weight : models::modelWeights(config, {models::QuantScheme::Q4_K_M})) {
    totals.stored += *weight.type.numBytes(0, 0);
    bool matmulWeight = weight.type.rank() == 2 && weight.name != "token_embd.weight";
    if (matmulWeight) totals.fp8Copies += derivedWeightBytes(MatmulKernel::Fp8, weight.type);
  }
  return totals;
}

}  // namespace

/// A budget that holds every derived copy: the rules alone decide.
constexpr int64_t kRoomForCopies = int64_t{80} << 30;

TEST_CASE("select-precision follows the decision rules on an H100", "[passes][select-precision]") {
  PassContext context = contextFor(h100Like());
  context.memoryBudget = kRoomForCopies;
  std::unique_ptr<ir::Module> module =
      compile(llama3_8b(), "specialize-buckets,canonicalize,select-precision{mma=false,dequant-hgemm=true}", context);
  for (const char* value : {"l0.q", "l0.k", "l0.v", "l3.attn_out", "l3.gate", "l3.up", "l3.ffn_out", "logits"}) {
    INFO(value);
    CHECK(kernelOf(*module, "decode.m1", value) == "dp4a");
    CHECK(kernelOf(*module, "decode.m4", value) == "dp4a");  // M=4 < fp8-min-m=5
    CHECK(kernelOf(*module, "decode.m8", value) == "fp8");   // M=8 >= fp8-min-m
    CHECK(kernelOf(*module, "decode.m16", value) == "fp8");
    CHECK(kernelOf(*module, "decode.m64", value) == "hgemm");
    CHECK(kernelOf(*module, "prefill", value) == "hgemm");
  }
  std::vector<Decision> m4 = decisionsOf(context, "select-precision", "decode.m4");
  REQUIRE_FALSE(m4.empty());
  // One line per group of layers, quoting every alternative's figure.
  bool sawGate = false;
  for (const Decision& decision : m4) {
    if (decision.subject != "%l*.gate (32 layers)") continue;
    sawGate = true;
    CHECK(decision.choice == "dp4a");
    CHECK_THAT(decision.reason,
               Catch::Matches(R"(dp4a \d+\.\dus vs fp8 \d+\.\dus vs hgemm \d+\.\dus vs dequant-hgemm \d+\.\dus )"
                              R"(\(M=4, 14336x4096 q4_k; M=4 < fp8-min-m=5\)(; the cost model prefers \w+)?)"));
  }
  CHECK(sawGate);
}

TEST_CASE("by default the copy-free kernels replace FP8 and HGEMM from M = 9, and no copy is made",
          "[passes][select-precision][mma]") {
  PassContext context = contextFor(h100Like());
  std::unique_ptr<ir::Module> module = compile(llama3_8b(), kPipeline, context);
  // The narrow GQA k and v projections (1024 rows: 64 mma blocks) are left out: FP8 beats mma on
  // them, and their copies are the ones the default budget keeps.
  for (const char* value : {"l0.q", "l3.attn_out", "l3.gate", "l3.up", "l3.ffn_out", "logits"}) {
    INFO(value);
    CHECK(kernelOf(*module, "decode.m1", value) == "dp4a");
    CHECK(kernelOf(*module, "decode.m4", value) == "dp4a");
    // The rule's FP8 at M=8 needs a copy the default budget (1.1 x stored) cannot hold; mma is
    // below mma-min-m there and dequant-hgemm slower than the GEMV.
    CHECK(kernelOf(*module, "decode.m8", value) == "dp4a");
    // The dropped copies' uses take the cheapest copy-free kernel: mma at 16 and 32 rows,
    // dequant-hgemm in prefill (mma's tensor-core rate is the lower), either at 64 (near tie).
    CHECK(kernelOf(*module, "decode.m16", value) == "mma");
    CHECK(kernelOf(*module, "decode.m32", value) == "mma");
    const std::string m64 = kernelOf(*module, "decode.m64", value);
    CHECK((m64 == "mma" || m64 == "dequant-hgemm"));
    CHECK(kernelOf(*module, "prefill", value) == "dequant-hgemm");
  }
  const auto explained = [&](const char* graph, const char* kernel, const char* note) {
    bool found = false;
    for (const Decision& decision : decisionsOf(context, "select-precision", graph))
      found |= decision.choice == kernel && decision.reason.find(note) != std::string::npos;
    return found;
  };
  CHECK(explained("decode.m16", "mma", "fp8 copy dropped for the memory budget"));
  CHECK(explained("prefill", "dequant-hgemm", "hgemm copy dropped for the memory budget"));
  CHECK(kernelOf(*module, "decode.m32", "l0.k") == "fp8");
  WeightTotals totals = weightTotals(llama3_8b());
  CHECK(reportedWeightBytes(context) <= totals.stored * 11 / 10);
}

TEST_CASE("select-precision options override the profile", "[passes][select-precision]") {
  PassContext context = contextFor(h100Like(), {4, 16});
  context.memoryBudget = kRoomForCopies;
  std::unique_ptr<ir::Module> module =
      compile(llama3_8b(), "specialize-buckets,select-precision{fp8-min-m=4,mma=false,dequant-hgemm=true}", context);
  CHECK(kernelOf(*module, "decode.m4", "l3.gate") == "fp8");
  CHECK(kernelOf(*module, "decode.m16", "l3.gate") == "fp8");

  PassContext noFp8 = contextFor(h100Like(), {8});
  noFp8.memoryBudget = kRoomForCopies;
  module =
      compile(llama3_8b(), "specialize-buckets,select-precision{fp8=false,hgemm-min-m=8,dequant-hgemm=true}", noFp8);
  CHECK(kernelOf(*module, "decode.m8", "l3.gate") == "hgemm");

  PassContext laterMma = contextFor(h100Like(), {16, 32});
  module = compile(llama3_8b(), "specialize-buckets,select-precision{mma-min-m=17,dequant-hgemm=false}", laterMma);
  CHECK(kernelOf(*module, "decode.m16", "l3.gate") == "dp4a");  // M=16 < fp8-min-m=17 and < mma-min-m
  CHECK(kernelOf(*module, "decode.m32", "l3.gate") == "mma");

  // dequant-hgemm=false leaves prefill to mma without room for copies.
  PassContext noDequant = contextFor(h100Like(), {1});
  module = compile(llama3_8b(), "specialize-buckets,select-precision{dequant-hgemm=false}", noDequant);
  CHECK(kernelOf(*module, "prefill", "l3.gate") == "mma");
  for (const Decision& decision : decisionsOf(noDequant, "select-precision", "prefill"))
    CHECK(decision.reason.find("dequant-hgemm") == std::string::npos);
}

TEST_CASE("the copy-free kernels replace the rules' pick only where the cost model says they win",
          "[passes][select-precision]") {
  PassContext h100 = contextFor(h100Like(), {8, 16, 64});
  h100.memoryBudget = kRoomForCopies;
  std::unique_ptr<ir::Module> module =
      compile(llama3_8b(), "specialize-buckets,select-precision{dequant-hgemm=true}", h100);
  // With room for copies, FP8 and HGEMM on them are the cheaper: the rules' picks stay.
  CHECK(kernelOf(*module, "decode.m8", "l3.gate") == "fp8");
  CHECK(kernelOf(*module, "decode.m16", "l3.gate") == "fp8");
  CHECK(kernelOf(*module, "decode.m64", "l3.gate") == "hgemm");
  CHECK(kernelOf(*module, "prefill", "l3.gate") == "hgemm");
  // Where the rules keep the GEMV (no FP8), mma beats its two passes at M = 16 and its eight at
  // M = 64 (dequant-hgemm's pass over the f16 rows is the slower there).
  module =
      compile(llama3_8b(), "specialize-buckets,select-precision{fp8=false,hgemm-min-m=1000,dequant-hgemm=true}", h100);
  CHECK(kernelOf(*module, "decode.m8", "l3.gate") == "dp4a");
  CHECK(kernelOf(*module, "decode.m16", "l3.gate") == "mma");
  CHECK(kernelOf(*module, "decode.m64", "l3.gate") == "mma");

  GpuProfile noMma = h100Like();
  noMma.mma = false;  // the option does not override a missing feature
  PassContext context = contextFor(noMma, {16});
  context.memoryBudget = kRoomForCopies;
  module = compile(llama3_8b(), "specialize-buckets,select-precision{mma=true,dequant-hgemm=true}", context);
  CHECK(kernelOf(*module, "decode.m16", "l3.gate") == "fp8");
}

TEST_CASE("mma runs on the quantized weight types, not on float weights", "[passes][select-precision][mma]") {
  PassContext context = contextFor(h100Like(), {16});
  context.prefillTokens = 0;
  context.memoryBudget = kRoomForCopies;
  std::unique_ptr<ir::Module> module = models::buildModule(llama3_8b(), {models::QuantScheme::Q5_K_M});
  // Without FP8 the rules keep the GEMV, which mma beats at M = 16.
  PassManager(Pipeline::parse("specialize-buckets,canonicalize,select-precision{fp8=false,dequant-hgemm=true}"))
      .run(*module, context);
  const ir::Graph& graph = *module->findGraph("decode.m16");
  // Q5_K_M: q5_k weights, q6_k where llama.cpp gives more bits (layer 0's ffn_down).
  REQUIRE(producerOf(graph, "l3.gate")->operand(1)->type().elem == ir::ElemType::Q5_K);
  CHECK(kernelOf(*module, "decode.m16", "l3.gate") == "mma");
  REQUIRE(producerOf(graph, "l0.ffn_out")->operand(1)->type().elem == ir::ElemType::Q6_K);
  CHECK(kernelOf(*module, "decode.m16", "l0.ffn_out") == "mma");
  // f16 weights have no quantized kernel: FP8 (h100Like's fp8-min-m is 5) with room for copies.
  std::unique_ptr<ir::Module> f16 = models::buildModule(llama3_8b(), {models::QuantScheme::F16});
  PassManager(Pipeline::parse("specialize-buckets,canonicalize,select-precision{dequant-hgemm=true}"))
      .run(*f16, context);
  CHECK(kernelOf(*f16, "decode.m16", "l3.gate") == "fp8");
}

TEST_CASE("without FP8 the middle buckets go to mma, or stay on dp4a without it", "[passes][select-precision]") {
  PassContext context = contextFor(a100Like(), {8, 16, 32});
  std::unique_ptr<ir::Module> module =
      compile(llama3_8b(), "specialize-buckets,canonicalize,select-precision{mma=false,dequant-hgemm=false}", context);
  CHECK(kernelOf(*module, "decode.m8", "l3.gate") == "dp4a");
  CHECK(kernelOf(*module, "decode.m32", "l3.gate") == "dp4a");
  for (const Decision& decision : decisionsOf(context, "select-precision", "decode.m8"))
    CHECK_THAT(decision.reason, Catch::Contains("no fp8 on this GPU"));
  // dequant-hgemm (on by default) beats four 8-row GEMV passes at M = 32, not one at M = 8.
  PassContext withDequant = contextFor(a100Like(), {8, 32});
  module = compile(llama3_8b(), "specialize-buckets,canonicalize,select-precision{mma=false,dequant-hgemm=true}",
                   withDequant);
  CHECK(kernelOf(*module, "decode.m8", "l3.gate") == "dp4a");
  CHECK(kernelOf(*module, "decode.m32", "l3.gate") == "dequant-hgemm");

  PassContext withMma = contextFor(a100Like(), {8, 16, 32});
  module = compile(llama3_8b(), kPipeline, withMma);
  CHECK(kernelOf(*module, "decode.m8", "l3.gate") == "dp4a");  // below mma-min-m=9
  CHECK(kernelOf(*module, "decode.m16", "l3.gate") == "mma");
  CHECK(kernelOf(*module, "decode.m32", "l3.gate") == "mma");
}

TEST_CASE("select-precision leaves a graph generic in M alone", "[passes][select-precision]") {
  PassContext context = contextFor(h100Like());
  std::unique_ptr<ir::Module> module = models::buildModule(tinyModel(), {models::QuantScheme::Q4_K_M});
  CHECK_FALSE(PassManager(Pipeline::parse("select-precision")).run(*module, context));
  for (const ir::Op* op : opsNamed(*module->graphs.front(), "matmul")) CHECK_FALSE(op->attrs().has("kernel"));
}

TEST_CASE("derived copies are counted once per weight, however many buckets use them", "[passes][select-precision]") {
  PassContext context = contextFor(h100Like(), {8, 16, 32});
  context.prefillTokens = 0;  // no prefill graph: its HGEMM would add FP16 copies
  context.memoryBudget = kRoomForCopies;
  compile(llama3_8b(), "specialize-buckets,select-precision{mma=false,dequant-hgemm=true}", context);
  WeightTotals totals = weightTotals(llama3_8b());
  CHECK(reportedWeightBytes(context) == totals.stored + totals.fp8Copies);
  CHECK_THAT(context.report.at("weight bytes on GPU"), Catch::Contains("f16 copies 0 B"));
}

TEST_CASE("over the memory budget, the least beneficial copies go first", "[passes][select-precision]") {
  WeightTotals totals = weightTotals(llama3_8b());
  PassContext context = contextFor(h100Like(), {8});
  context.prefillTokens = 0;
  context.memoryBudget = totals.stored + totals.fp8Copies / 2;  // an explicit budget overrides the default
  std::unique_ptr<ir::Module> module =
      compile(llama3_8b(), "specialize-buckets,select-precision{dequant-hgemm=true}", context);
  CHECK(reportedWeightBytes(context) <= *context.memoryBudget);
  CHECK(reportedWeightBytes(context) > totals.stored);

  std::set<std::string> kernels;
  for (const ir::Op* op : opsNamed(*module->findGraph("decode.m8"), "matmul"))
    kernels.insert(op->attrs().getString("kernel").value_or(""));
  CHECK(kernels == std::set<std::string>{"dp4a", "fp8"});  // some copies kept, some dropped

  int drops = 0;
  for (const Decision& decision : context.decisions) {
    if (decision.choice != "drop fp8 copy") continue;
    ++drops;
    CHECK_THAT(decision.reason, Catch::Contains("benefit") && Catch::Contains("over budget"));
  }
  CHECK(drops > 0);
}

TEST_CASE("the default budget is 1.1 x the stored weights, within the profile's memory", "[passes][select-precision]") {
  // Without mma, FP8 copies at M = 8 would take 1.7 x the stored weights: only the most
  // beneficial tenth's worth is kept.
  WeightTotals totals = weightTotals(llama3_8b());
  PassContext context = contextFor(h100Like(), {8});
  context.prefillTokens = 0;
  compile(llama3_8b(), "specialize-buckets,select-precision{mma=false,dequant-hgemm=true}", context);
  CHECK(reportedWeightBytes(context) <= totals.stored * 11 / 10);
  CHECK(reportedWeightBytes(context) > totals.stored);
  CHECK_THAT(context.report.at("weight bytes on GPU"),
             Catch::Contains(fmt::format("budget {}", formatBytes(static_cast<double>(totals.stored) * 1.1))));
  // A profile with less memory than that caps it, and stored weights over it are an error
  // naming the profile.
  GpuProfile small = h100Like();
  small.memoryGB = 1;
  PassContext tight = contextFor(small, {1});
  CHECK_THROWS_WITH(compile(llama3_8b(), kPipeline, tight),
                    Catch::Contains("over the memory budget of 1.00 GB (the h100-like profile's memory)"));
}

TEST_CASE("stored weights over the budget are an error", "[passes][select-precision]") {
  PassContext context = contextFor(h100Like(), {1});
  context.memoryBudget = 1000;
  CHECK_THROWS_WITH(compile(tinyModel(), kPipeline, context), Catch::Contains("over the memory budget"));
}

namespace {

/// The h100-like profile with [[measured.matmul]] times for the 14336x4096 q4_k weights (gate,
/// up) at `m`, one per family in `us` (dp4a, mma, fp8, hgemm, dequant-hgemm; < 0: not measured).
void addMeasured(GpuProfile& profile, int64_t m, const std::array<double, 5>& us) {
  const std::array<MatmulKernel, 5> families{MatmulKernel::Dp4a, MatmulKernel::Mma, MatmulKernel::Fp8,
                                             MatmulKernel::Hgemm, MatmulKernel::DequantHgemm};
  for (size_t i = 0; i < families.size(); ++i)
    if (us[i] > 0) profile.measured.matmul.push_back({{families[i], ir::ElemType::Q4_K, 14336, 4096, m}, us[i]});
}

}  // namespace

TEST_CASE("measured matmul times decide where they cover every family, the cost model elsewhere",
          "[passes][select-precision][measured]") {
  const char* pipeline = "specialize-buckets,select-precision{dequant-hgemm=true}";
  PassContext estimated = contextFor(h100Like(), {4, 16, 32});
  estimated.memoryBudget = kRoomForCopies;
  std::unique_ptr<ir::Module> module = compile(llama3_8b(), pipeline, estimated);
  CHECK(kernelOf(*module, "decode.m4", "l3.gate") == "dp4a");  // M=4 < fp8-min-m=5
  CHECK(kernelOf(*module, "decode.m16", "l3.gate") == "fp8");  // M=16 >= fp8-min-m
  CHECK(kernelOf(*module, "decode.m32", "l3.gate") == "fp8");
  CHECK(kernelOf(*module, "prefill", "l3.gate") == "hgemm");
  for (const Decision& decision : estimated.decisions) CHECK(decision.reason.find("measured") == std::string::npos);

  GpuProfile profile = h100Like();
  // M=4: fp8 fastest of the candidates (mma, faster still, is below mma-min-m=9).
  addMeasured(profile, 4, {50.0, 20.0, 30.0, 40.0, 60.0});
  // M=16: the GEMV, which the rules would not take past fp8-min-m.
  addMeasured(profile, 16, {10.0, 30.0, 40.0, 50.0, 60.0});
  // M=32: no dp4a time, so the rules and the cost model decide.
  addMeasured(profile, 32, {-1.0, 30.0, 40.0, 50.0, 5.0});
  // Prefill: dequant-hgemm.
  addMeasured(profile, 256, {900.0, 300.0, 200.0, 150.0, 100.0});
  PassContext measured = contextFor(profile, {4, 16, 32});
  measured.memoryBudget = kRoomForCopies;
  module = compile(llama3_8b(), pipeline, measured);
  CHECK(kernelOf(*module, "decode.m4", "l3.gate") == "fp8");
  CHECK(kernelOf(*module, "decode.m16", "l3.gate") == "dp4a");
  CHECK(kernelOf(*module, "decode.m32", "l3.gate") == "fp8");
  CHECK(kernelOf(*module, "prefill", "l3.gate") == "dequant-hgemm");
  // Other weight shapes are not measured: the rules as before.
  CHECK(kernelOf(*module, "decode.m16", "l3.ffn_out") == "fp8");

  const auto reasonOf = [&](const char* graph) {
    for (const Decision& decision : decisionsOf(measured, "select-precision", graph))
      if (decision.subject.rfind("%l*.gate", 0) == 0) return decision.reason;
    return std::string("(none)");
  };
  CHECK(reasonOf("decode.m16") ==
        "dp4a 10.0us (measured) < mma 30.0us (measured) < fp8 40.0us (measured) < hgemm 50.0us (measured) < "
        "dequant-hgemm 60.0us (measured) (M=16, 14336x4096 q4_k; the fastest measured)");
  CHECK(reasonOf("decode.m4") ==
        "mma 20.0us (measured) < fp8 30.0us (measured) < hgemm 40.0us (measured) < dp4a 50.0us (measured) < "
        "dequant-hgemm 60.0us (measured) (M=4, 14336x4096 q4_k; the fastest measured with mma from mma-min-m=9 on); "
        "the measurement prefers mma");
  CHECK(reasonOf("decode.m32").find("measured") == std::string::npos);
}

TEST_CASE("measured matmul times stay within the options and the memory budget",
          "[passes][select-precision][measured]") {
  GpuProfile profile = h100Like();
  addMeasured(profile, 16, {40.0, 30.0, 10.0, 50.0, 60.0});
  // fp8=false: the fastest measured of the rest.
  PassContext noFp8 = contextFor(profile, {16});
  noFp8.memoryBudget = kRoomForCopies;
  std::unique_ptr<ir::Module> module =
      compile(llama3_8b(), "specialize-buckets,select-precision{fp8=false,dequant-hgemm=true}", noFp8);
  CHECK(kernelOf(*module, "decode.m16", "l3.gate") == "mma");
  // dequant-hgemm off (the default): its time is not needed for the measurement to decide.
  PassContext fits = contextFor(profile, {16});
  fits.memoryBudget = kRoomForCopies;
  module = compile(llama3_8b(), "specialize-buckets,select-precision", fits);
  CHECK(kernelOf(*module, "decode.m16", "l3.gate") == "fp8");
  // Without room for any copy: the fastest measured copy-free kernel instead.
  PassContext tight = contextFor(profile, {16});
  tight.memoryBudget = weightTotals(llama3_8b()).stored;
  module = compile(llama3_8b(), "specialize-buckets,select-precision", tight);
  CHECK(kernelOf(*module, "decode.m16", "l3.gate") == "mma");
}
