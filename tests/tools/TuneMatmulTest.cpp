// What `reel tune` measures of the matmuls, apart from the GPU: the weight shapes it finds, the
// launches of each kernel family, the families it skips and the prefill chunk it picks.
#include "tools/TuneMatmul.h"

#include "kernels/KernelCatalog.h"
#include "passes/CostModel.h"
#include "passes/DecisionTestSupport.h"
#include "passes/PassTable.h"
#include "support/Diagnostics.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <tuple>

using namespace reel;
using namespace reel::tools;
using ir::MatmulKernel;

namespace {

std::vector<std::string> ids(const TimedSegment& segment) {
  std::vector<std::string> out;
  for (const KernelCall& call : segment.calls) out.push_back(call.id);
  return out;
}

int64_t intOf(const KernelCall& call, const std::string& name) {
  for (const auto& [key, value] : call.ints)
    if (key == name) return value;
  FAIL("no int argument " << name << " in " << call.id);
  return -1;
}

/// Every call's int arguments are the kernel table's, and its check accepts them.
void checkAgainstCatalog(const FamilyPlan& plan) {
  for (const TimedSegment& segment : plan.segments) {
    for (const KernelCall& call : segment.calls) {
      INFO(call.id);
      const kernels::KernelInfo* info = kernels::findKernel(call.id);
      REQUIRE(info);
      REQUIRE(call.ints.size() == info->intArgs.size());
      std::array<int64_t, kernels::kMaxIntArgs> ints{};
      for (const auto& [name, value] : call.ints) {
        const int index = kernels::intArgIndex(*info, name);
        REQUIRE(index >= 0);
        ints[static_cast<size_t>(index)] = value;
      }
      CHECK(kernels::checkKernelArgs(call.id, ints.data()) == "");
    }
  }
}

}  // namespace

TEST_CASE("tune: each family's launches for one matmul, as lowering makes them", "[tools][tune]") {
  const MatmulWeight q4k{ir::ElemType::Q4_K, 11008, 4096, 64};
  const passes::Measurements none;

  FamilyPlan dp4a = familyPlan(MatmulKernel::Dp4a, q4k, 20, none, true);
  REQUIRE(dp4a.segments.size() == 2);
  CHECK(ids(dp4a.segments[0]) == std::vector<std::string>{"quantize_q8_1"});
  CHECK(intOf(dp4a.segments[0].calls[0], "m") == 20);
  CHECK(ids(dp4a.segments[1]) == std::vector<std::string>{"gemv_dp4a_q4_k"});
  const int64_t chunk = intOf(dp4a.segments[1].calls[0], "m");
  CHECK(chunk < 20);
  CHECK(dp4a.segments[1].repeat == (20 + chunk - 1) / chunk);  // a launch per row chunk
  checkAgainstCatalog(dp4a);

  const FamilyPlan mma = familyPlan(MatmulKernel::Mma, q4k, 20, none, true);
  REQUIRE(mma.segments.size() == 1);
  CHECK(ids(mma.segments[0]) == std::vector<std::string>{"quantize_q8_1", "mmq_q4_k"});
  CHECK(intOf(mma.segments[0].calls[1], "m") == 20);
  checkAgainstCatalog(mma);

  const FamilyPlan fp8 = familyPlan(MatmulKernel::Fp8, q4k, 20, none, true);
  REQUIRE(fp8.segments.size() == 1);
  CHECK(ids(fp8.segments[0]) == std::vector<std::string>{"fp8_quantize_act", "fp8_gemm_cublaslt"});
  CHECK(intOf(fp8.segments[0].calls[1], "per_row") == 1);
  checkAgainstCatalog(fp8);

  const FamilyPlan hgemm = familyPlan(MatmulKernel::Hgemm, q4k, 20, none, true);
  REQUIRE(hgemm.segments.size() == 1);
  CHECK(ids(hgemm.segments[0]) == std::vector<std::string>{"cast_f32_f16", "hgemm_cublas"});
  CHECK(intOf(hgemm.segments[0].calls[0], "count") == 20 * 4096);
  checkAgainstCatalog(hgemm);

  const FamilyPlan dequant = familyPlan(MatmulKernel::DequantHgemm, q4k, 20, none, true);
  REQUIRE(dequant.segments.size() == 1);
  CHECK(ids(dequant.segments[0]) == std::vector<std::string>{"cast_f32_f16", "dequant_f16_q4_k", "hgemm_cublas"});
  checkAgainstCatalog(dequant);

  const FamilyPlan mmaF16 = familyPlan(MatmulKernel::MmaF16, q4k, 20, none, true);
  REQUIRE(mmaF16.segments.size() == 1);
  CHECK(ids(mmaF16.segments[0]) == std::vector<std::string>{"cast_f32_f16", "mma_f16_q4_k"});
  checkAgainstCatalog(mmaF16);

  // The row sets of the GEMV follow a measurement where the profile has one.
  passes::Measurements twoRowSets;
  twoRowSets.gemv.push_back({{"gemv_dp4a_q4_k", 11008, 4096, 1}, {10.0, 5.0}});
  CHECK(intOf(familyPlan(MatmulKernel::Dp4a, q4k, 1, twoRowSets, true).segments[1].calls[0], "row_sets") == 2);
  twoRowSets.gemv.front().usByRowSets = {5.0, 10.0};
  CHECK(intOf(familyPlan(MatmulKernel::Dp4a, q4k, 1, twoRowSets, true).segments[1].calls[0], "row_sets") == 1);
}

TEST_CASE("tune: a family without a kernel for the weight is skipped, with the reason", "[tools][tune]") {
  const passes::Measurements none;
  const MatmulWeight f16{ir::ElemType::F16, 4096, 4096, 1};
  CHECK(familyPlan(MatmulKernel::Dp4a, f16, 8, none, true).why == "no DP4A kernel for f16 weights");
  CHECK(familyPlan(MatmulKernel::Mma, f16, 8, none, true).why == "no mma kernel for f16 weights");
  CHECK(familyPlan(MatmulKernel::DequantHgemm, f16, 8, none, true).why == "no dequantization kernel for f16 weights");
  CHECK(familyPlan(MatmulKernel::MmaF16, {ir::ElemType::Q6_K, 4096, 4096, 1}, 8, none, true).why ==
        "no mma-f16 kernel for q6_k weights");
  CHECK(familyPlan(MatmulKernel::Hgemm, f16, 8, none, true).why.empty());
  const MatmulWeight q5k{ir::ElemType::Q5_K, 4096, 4096, 1};
  if (!passes::hasMmaKernel(ir::ElemType::Q5_K))
    CHECK(familyPlan(MatmulKernel::Mma, q5k, 8, none, true).why == "no mma kernel for q5_k weights");
  CHECK(familyPlan(MatmulKernel::Fp8, q5k, 8, none, false).why == "no FP8 on this GPU");
  const MatmulWeight odd{ir::ElemType::F16, 4100, 4104, 1};
  CHECK(familyPlan(MatmulKernel::Fp8, odd, 8, none, true).why == "cuBLASLt FP8 needs n and k multiples of 16");
  for (const MatmulWeight& weight : {f16, q5k})
    for (MatmulKernel family : ir::kMatmulKernels) {
      const FamilyPlan plan = familyPlan(family, weight, 8, none, true);
      CHECK(plan.segments.empty() == !plan.why.empty());
    }
}

TEST_CASE("tune: the weight shapes of a compiled model, fused matmuls counted per weight", "[tools][tune]") {
  const models::ModelConfig config = passes::testing::tinyModel();
  passes::PassContext context = passes::testing::contextFor(passes::testing::h100Like(), {1, 8});
  const std::unique_ptr<ir::Module> module =
      passes::testing::compile(config, passes::PassRegistry::global().defaultPipeline(), context);
  std::vector<MatmulWeight> expected;
  for (const models::WeightInfo& weight : models::modelWeights(config, {models::QuantScheme::Q4_K_M})) {
    if (weight.type.rank() != 2 || weight.name == "token_embd.weight") continue;
    MatmulWeight shape{weight.type.elem, weight.type.shape[0], weight.type.shape[1], 0};
    auto it = std::find_if(expected.begin(), expected.end(), [&](const MatmulWeight& w) {
      return w.type == shape.type && w.n == shape.n && w.k == shape.k;
    });
    if (it == expected.end()) it = expected.insert(expected.end(), shape);
    ++it->uses;
  }
  std::vector<MatmulWeight> found = matmulWeights(*module);
  const auto order = [](const MatmulWeight& a, const MatmulWeight& b) {
    return std::tie(a.type, a.n, a.k) < std::tie(b.type, b.n, b.k);
  };
  std::sort(found.begin(), found.end(), order);
  std::sort(expected.begin(), expected.end(), order);
  CHECK(found == expected);
  CHECK(found.size() >= 4);
}

TEST_CASE("tune: the prefill chunk is the smallest within 5% of the fewest us per token", "[tools][tune]") {
  const std::vector<MatmulWeight> weights{{ir::ElemType::Q4_K, 4096, 4096, 3}, {ir::ElemType::Q6_K, 4096, 4096, 1}};
  passes::Measurements measured;
  const auto add = [&](const MatmulWeight& w, MatmulKernel family, int64_t m, double us) {
    measured.matmul.push_back({{family, w.type, w.n, w.k, m}, us});
  };
  // Per token: chunk 64: (3 x 64 + 64) / 64 = 4.0; 128: (3 x 100 + 105) / 128 = 3.16; 256:
  // (3 x 195 + 200) / 256 = 3.07; 512: (3 x 390 + 390) / 512 = 3.05, the fewest, and 128 is the
  // smallest within 5% of it.
  for (const auto& [m, q4, q6] : std::vector<std::tuple<int64_t, double, double>>{
           {64, 64, 64}, {128, 100, 105}, {256, 195, 200}, {512, 390, 390}}) {
    add(weights[0], MatmulKernel::Mma, m, q4);
    add(weights[0], MatmulKernel::Hgemm, m, q4 * 2);  // the fastest family counts
    add(weights[1], MatmulKernel::DequantHgemm, m, q6);
  }
  std::string table;
  CHECK(choosePrefillTokens(weights, measured, {64, 128, 256, 512}, &table) == 128);
  CHECK(table.find("prefill chunk   128: 3.164 us of matmuls per token") != std::string::npos);
  // A chunk where one weight has no measurement does not count.
  measured.matmul.erase(std::remove_if(measured.matmul.begin(), measured.matmul.end(),
                                       [](const passes::MatmulMeasurement& r) { return r.key.m == 128; }),
                        measured.matmul.end());
  add(weights[0], MatmulKernel::Mma, 128, 100);
  table.clear();
  CHECK(choosePrefillTokens(weights, measured, {64, 128, 256, 512}, &table) == 256);
  CHECK(table.find("prefill chunk   128: not every weight measured") != std::string::npos);
  CHECK(choosePrefillTokens(weights, measured, {1024}) == 0);
  CHECK(choosePrefillTokens(weights, measured, {}) == 0);
}

TEST_CASE("tune: --families", "[tools][tune]") {
  CHECK(parseFamilies("mma,dp4a", "--families") == std::vector<MatmulKernel>{MatmulKernel::Mma, MatmulKernel::Dp4a});
  CHECK(parseFamilies("dequant-hgemm", "--families") == std::vector<MatmulKernel>{MatmulKernel::DequantHgemm});
  const auto error = [](const std::string& text) {
    try {
      parseFamilies(text, "--families");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  CHECK(error("mma,wmma") ==
        "--families mma,wmma: unknown family 'wmma' (dp4a, mma, fp8, hgemm, dequant-hgemm, mma-f16)");
  CHECK(error("mma,mma") == "--families mma,mma: 'mma' is named twice");
  CHECK(error("") == "--families : unknown family '' (dp4a, mma, fp8, hgemm, dequant-hgemm, mma-f16)");
}
