#include "passes/CostModel.h"
#include "passes/DecisionTestSupport.h"

#include <catch2/catch.hpp>

using namespace reel::passes;
using namespace reel::passes::testing;
using reel::ir::ElemType;

TEST_CASE("an estimate is max(memory, compute) plus launch cost", "[passes][cost-model]") {
  CostModel model(h100Like());
  KernelWork work;
  work.bytes = 3100e3 * 10;  // 10 us at full bandwidth
  work.ops = 1e6 * 5;
  work.peakOpsPerUs = 1e6;  // 5 us of compute
  Estimate estimate = model.kernel(work);
  CHECK(estimate.fill == 1.0);
  CHECK(estimate.memoryUs == Approx(10.0));
  CHECK(estimate.computeUs == Approx(5.0));
  CHECK(estimate.us == Approx(10.0 + 2.5));
  CHECK(estimate.launches == 1);

  work.ops = 1e6 * 40;
  CHECK(model.kernel(work).us == Approx(40.0 + 2.5));
}

TEST_CASE("a grid that cannot fill the SMs reaches a fraction of the bandwidth", "[passes][cost-model]") {
  CostModel model(h100Like());
  double perCta = 2048;
  CHECK(model.fill(0, perCta) == 1.0);  // library kernels fill the GPU
  CHECK(model.fill(4, perCta) < model.fill(24, perCta));
  CHECK(model.fill(24, perCta) < model.fill(1024, perCta));
  CHECK(model.fill(100000, perCta) == 1.0);
  // Little's law: 1.86 MB in flight saturate 3.1 TB/s at 0.6 us latency.
  CHECK(model.fill(4, perCta) == Approx(4 * 2048 / (3100e3 * 0.6)));
  // and one CTA per SM at most: 8 CTAs with huge loads still use 8 of 132 SMs.
  CHECK(model.fill(8, 1e9) == Approx(8 * 2.0 / 132));
}

TEST_CASE("sequences of kernels add their times and launches", "[passes][cost-model]") {
  CostModel model(rtx4090Like());
  Estimate add = model.residualAdd(4, 1536);
  Estimate norm = model.rmsNorm(4, 1536);
  Estimate both = add.then(norm);
  CHECK(both.us == Approx(add.us + norm.us));
  CHECK(both.launches == 2);
  CHECK(both.ctas == norm.ctas);  // the slower kernel is the main one
}

TEST_CASE("residual+RMSNorm fused on few CTAs loses at hidden 1536, M=4 on an RTX 4090", "[passes][cost-model]") {
  CostModel model(rtx4090Like());
  Estimate add = model.residualAdd(4, 1536);
  Estimate norm = model.rmsNorm(4, 1536);
  CHECK(add.ctas == 24);  // a (6, M) grid
  CHECK(norm.ctas == 4);  // (1, M)
  // A fused kernel of (1, M) CTAs of 256 threads with 8 bytes in flight each: the add's
  // traffic loses 6x parallelism and the fusion loses (docs/design.md, "Residual + RMSNorm
  // fusion").
  KernelWork narrowFused;
  narrowFused.family = "add_rms_norm (8 bytes in flight per thread)";
  narrowFused.bytes = 4.0 * 4 * 4 * 1536 + 4 * 1536;
  narrowFused.ctas = 4;
  narrowFused.bytesInFlightPerCta = 256 * 8;
  CHECK(model.kernel(narrowFused).us > add.then(norm).us);
  // reel's kernel keeps a float4 of each input in flight on up to 1024 threads per row: the
  // same (1, M) grid, 16x the bytes in flight, and the fusion wins, as the H200 figures in
  // docs/performance-log.md show.
  Estimate fused = model.addRmsNorm(4, 1536);
  CHECK(fused.ctas == 4);
  CHECK(fused.launches == 1);
  CHECK(fused.us < add.then(norm).us);
}

TEST_CASE("the fusion pays where launch cost dominates or the rows fill the GPU", "[passes][cost-model]") {
  SECTION("small hidden: the add's grid is no wider than the norm's") {
    CostModel model(h100Like());
    CHECK(model.addRmsNorm(1, 256).us < model.residualAdd(1, 256).then(model.rmsNorm(1, 256)).us);
    CHECK(model.addRmsNorm(4, 256).us < model.residualAdd(4, 256).then(model.rmsNorm(4, 256)).us);
  }
  SECTION("large hidden with enough rows to fill the SMs") {
    CostModel model(rtx4090Like());
    CHECK(model.addRmsNorm(256, 4096).us < model.residualAdd(256, 4096).then(model.rmsNorm(256, 4096)).us);
  }
  SECTION("a GPU with a high launch cost") {
    GpuProfile slowLaunch = rtx4090Like();
    slowLaunch.launchCostUs = 10;
    CostModel model(slowLaunch);
    CHECK(model.addRmsNorm(4, 1536).us < model.residualAdd(4, 1536).then(model.rmsNorm(4, 1536)).us);
  }
}

TEST_CASE("matmul kernels cross over from DP4A to FP8 between M=4 and M=8 on an RTX 4090", "[passes][cost-model]") {
  CostModel model(rtx4090Like());
  auto cost = [&](int64_t m, MatmulKernel kernel) {
    return model.matmulWithPrep({m, 14336, 4096, ElemType::Q4_K}, kernel).us;
  };
  // DP4A wins at small M (the weight read dominates; FP8 reads 1.8x the bytes) ...
  CHECK(cost(1, MatmulKernel::Dp4a) < cost(1, MatmulKernel::Fp8));
  CHECK(cost(4, MatmulKernel::Dp4a) < cost(4, MatmulKernel::Fp8));
  // ... HGEMM does not beat it at M=4 (FP16's 3.6x bytes) ...
  CHECK(cost(4, MatmulKernel::Dp4a) < cost(4, MatmulKernel::Hgemm));
  // ... and FP8 wins at M=8, where the DP4A GEMV has become compute bound.
  CHECK(cost(8, MatmulKernel::Fp8) < cost(8, MatmulKernel::Dp4a));
  Estimate dp4a8 = model.matmul({8, 14336, 4096, ElemType::Q4_K}, MatmulKernel::Dp4a);
  CHECK(dp4a8.computeUs > dp4a8.memoryUs);
  // FP8 needs the GPU feature.
  CostModel a100(a100Like());
  CHECK(std::isinf(a100.matmul({8, 4096, 4096, ElemType::Q4_K}, MatmulKernel::Fp8).us));
}

TEST_CASE("llama.cpp's DP4A throughput at batch 8 on an H100", "[passes][cost-model]") {
  // docs/design.md, "Anchors": 805 tok/s aggregate at batch 8 on Llama-2-7B, i.e. 9.9 ms
  // per step; the matmuls of one step at M=8 (6.5e9 weights) must fit in that.
  CostModel model(h100Like());
  double stepUs = 0;
  for (int layer = 0; layer < 32; ++layer) {
    stepUs += 4 * model.matmul({8, 4096, 4096, ElemType::Q4_K}, MatmulKernel::Dp4a).us;
    stepUs += 3 * model.matmul({8, 11008, 4096, ElemType::Q4_K}, MatmulKernel::Dp4a).us;
  }
  CHECK(stepUs > 5000);
  CHECK(stepUs < 9900);
}

TEST_CASE("the DP4A GEMV is costed as select-launch-config launches it", "[passes][cost-model]") {
  CostModel model(h100Like());
  // The kernel table's grid for the policy's row sets: 4 rows per CTA and row set.
  CHECK(model.matmul({1, 4096, 4096, ElemType::Q4_K}, MatmulKernel::Dp4a).ctas == 512);    // two row sets
  CHECK(model.matmul({1, 2048, 2048, ElemType::Q4_K}, MatmulKernel::Dp4a).ctas == 512);    // one
  CHECK(model.matmul({2, 11008, 4096, ElemType::Q4_K}, MatmulKernel::Dp4a).ctas == 1376);  // two
  // Above the GEMV's 8 rows, one launch per chunk of 8, each over every weight.
  const Estimate m8 = model.matmul({8, 4096, 4096, ElemType::Q4_K}, MatmulKernel::Dp4a);
  const Estimate m16 = model.matmul({16, 4096, 4096, ElemType::Q4_K}, MatmulKernel::Dp4a);
  CHECK(m16.launches == 2);
  CHECK(m16.us == Approx(2 * m8.us));
}

namespace {

/// One of each matmul shape of a Llama-2-7B Q4_K_M layer (q4_k, q6_k for attn_v and ffn_down)
/// and the output matrix, at M = 1.
std::vector<MatmulShape> llama2Shapes() {
  return {MatmulShape{1, 4096, 4096, ElemType::Q4_K}, MatmulShape{1, 4096, 4096, ElemType::Q6_K},
          MatmulShape{1, 11008, 4096, ElemType::Q4_K}, MatmulShape{1, 4096, 11008, ElemType::Q6_K},
          MatmulShape{1, 32000, 4096, ElemType::Q6_K}};
}

/// The matmuls of one Llama-2-7B Q4_K_M step of M rows with `kernel` (activation conversions
/// included), in milliseconds: per layer q, k, o and gate, up on q4_k, v and down on q6_k, then
/// the output matrix.
double llama2StepMs(const CostModel& model, int64_t m, MatmulKernel kernel) {
  const auto us = [&](int64_t n, int64_t k, ElemType type) { return model.matmulWithPrep({m, n, k, type}, kernel).us; };
  const double layer = 3 * us(4096, 4096, ElemType::Q4_K) + us(4096, 4096, ElemType::Q6_K) +
                       2 * us(11008, 4096, ElemType::Q4_K) + us(4096, 11008, ElemType::Q6_K);
  return (32 * layer + us(32000, 4096, ElemType::Q6_K)) / 1e3;
}

}  // namespace

TEST_CASE("mma's step times follow the H100 measurements of Llama-2-7B", "[passes][cost-model][mma]") {
  // Measured on an H100, all matmuls of a Llama-2-7B Q4_K_M step on mma: the model's
  // mmaEfficiency is fitted to them (linear in the padded tokens from 32 rows on).
  CostModel model(h100Like());
  CHECK(llama2StepMs(model, 16, MatmulKernel::Mma) == Approx(4.46).epsilon(0.2));
  CHECK(llama2StepMs(model, 32, MatmulKernel::Mma) == Approx(6.44).epsilon(0.05));
  CHECK(llama2StepMs(model, 64, MatmulKernel::Mma) == Approx(11.3).epsilon(0.05));
  CHECK(llama2StepMs(model, 128, MatmulKernel::Mma) == Approx(21.9).epsilon(0.05));
  CHECK(llama2StepMs(model, 512, MatmulKernel::Mma) == Approx(81.1).epsilon(0.05));
}

TEST_CASE("dequant-hgemm: a pass over the weight and its f16 rows, then the HGEMM", "[passes][cost-model]") {
  CostModel model(h100Like());
  const MatmulShape down{256, 4096, 11008, ElemType::Q6_K};
  const Estimate estimate = model.matmul(down, MatmulKernel::DequantHgemm);
  CHECK(estimate.launches == 2);
  // The dequantization moves the stored bytes and 2 bytes per element at the fraction of the
  // bandwidth its stores allow (its grid fills the GPU); the HGEMM is the one on an f16 weight.
  const double stored = 4096.0 * 11008 / 256 * 210;
  const double dequantUs = (stored + 2.0 * 4096 * 11008) / CostModelParams{}.dequantBandwidthFraction / 3100e3 + 2.5;
  MatmulShape f16 = down;
  f16.weightType = ElemType::F16;
  CHECK(estimate.us == Approx(dequantUs + model.matmul(f16, MatmulKernel::Hgemm).us));
  // Against the HGEMM on a held f16 copy it pays the dequantization, nothing else.
  CHECK(estimate.us == Approx(dequantUs + model.matmul(down, MatmulKernel::Hgemm).us));
  // Its activations are f16, cast as for hgemm.
  CHECK(model.activationPrep(down, MatmulKernel::DequantHgemm).us ==
        Approx(model.activationPrep(down, MatmulKernel::Hgemm).us));
  // The H100 outcome on Llama-2-7B: a prefill chunk of 256 rows runs faster than on mma (which
  // measured 3x slower than HGEMM on f16 copies for a 512-token prompt), every shape; at 8 rows
  // and below the DP4A GEMV is cheaper.
  for (const MatmulShape& shape : llama2Shapes()) {
    INFO(shape.n << "x" << shape.k);
    MatmulShape at = shape;
    at.m = 256;
    CHECK(model.matmulWithPrep(at, MatmulKernel::DequantHgemm).us < model.matmulWithPrep(at, MatmulKernel::Mma).us);
    for (const int64_t m : {1, 8}) {
      at.m = m;
      CHECK(model.matmulWithPrep(at, MatmulKernel::Dp4a).us < model.matmulWithPrep(at, MatmulKernel::DequantHgemm).us);
    }
  }
  CHECK(llama2StepMs(model, 256, MatmulKernel::Mma) > 2.5 * llama2StepMs(model, 256, MatmulKernel::DequantHgemm));
}

TEST_CASE("mma reads each weight once, tiles the tokens, and beats the copy-free kernels at 16 and 32 rows",
          "[passes][cost-model][mma]") {
  CostModel model(h100Like());
  // One launch on the kernel table's grid: 64-token tiles by 16-row blocks.
  const Estimate m33 = model.matmul({33, 4096, 11008, ElemType::Q6_K}, MatmulKernel::Mma);
  CHECK(m33.launches == 1);
  CHECK(m33.ctas == 1 * 256);
  CHECK(model.matmul({256, 4096, 4096, ElemType::Q4_K}, MatmulKernel::Mma).ctas == 4 * 256);
  // The weight bytes are read once for all rows: M = 8 and 16 take the same memory time (the
  // activations and outputs aside), where the DP4A GEMV streams the weights once per 8 rows.
  const Estimate m8 = model.matmul({8, 4096, 4096, ElemType::Q4_K}, MatmulKernel::Mma);
  const Estimate m16 = model.matmul({16, 4096, 4096, ElemType::Q4_K}, MatmulKernel::Mma);
  CHECK(m16.memoryUs == Approx(m8.memoryUs).epsilon(0.02));
  CHECK(model.matmul({16, 4096, 4096, ElemType::Q4_K}, MatmulKernel::Dp4a).launches == 2);
  // Compute grows with the padded tokens: 64 rows cost more than 16, prefill much more.
  const Estimate m256 = model.matmul({256, 4096, 4096, ElemType::Q4_K}, MatmulKernel::Mma);
  CHECK(m256.computeUs > 4 * model.matmul({64, 4096, 4096, ElemType::Q4_K}, MatmulKernel::Mma).computeUs * 0.99);
  // Llama-2-7B's shapes (Q4_K_M): mma is cheaper than the DP4A GEMV and than dequant-hgemm at
  // 16 and 32 rows, where the weight bytes dominate.
  for (const MatmulShape& shape : llama2Shapes()) {
    for (const int64_t m : {16, 32}) {
      MatmulShape at = shape;
      at.m = m;
      INFO(shape.n << "x" << shape.k << " at M = " << m);
      const double mma = model.matmulWithPrep(at, MatmulKernel::Mma).us;
      CHECK(mma < model.matmulWithPrep(at, MatmulKernel::Dp4a).us);
      CHECK(mma < model.matmulWithPrep(at, MatmulKernel::DequantHgemm).us);
    }
  }
  CHECK(hasMmaKernel(ElemType::Q8_0));
  CHECK(hasMmaKernel(ElemType::Q5_K));
  CHECK_FALSE(hasMmaKernel(ElemType::F16));
}

TEST_CASE("derived weight copies cost bytes per element", "[passes][cost-model]") {
  reel::ir::TensorType q4k(ElemType::Q4_K, {14336, 4096});
  reel::ir::TensorType f16(ElemType::F16, {14336, 4096});
  CHECK(derivedWeightBytes(MatmulKernel::Fp8, q4k) == 14336 * 4096 + 4 * 14336);
  CHECK(derivedWeightBytes(MatmulKernel::Hgemm, q4k) == 2 * 14336 * 4096);
  CHECK(derivedWeightBytes(MatmulKernel::Hgemm, f16) == 0);
  CHECK(derivedWeightBytes(MatmulKernel::Dp4a, q4k) == 0);
  CHECK(derivedWeightBytes(MatmulKernel::Mma, q4k) == 0);
  CHECK(derivedWeightBytes(MatmulKernel::DequantHgemm, q4k) == 0);  // a transient workspace, not a copy
  CHECK(hasQuantizedKernel(ElemType::Q6_K));
  CHECK_FALSE(hasQuantizedKernel(ElemType::F16));
  CHECK(parseMatmulKernel("fp8") == MatmulKernel::Fp8);
  CHECK(parseMatmulKernel("dequant-hgemm") == MatmulKernel::DequantHgemm);
  CHECK_FALSE(parseMatmulKernel("fp4"));
}

TEST_CASE("flash-decoding splits help a lone sequence at long context", "[passes][cost-model]") {
  CostModel model(h100Like());
  AttentionShape shape{1, 32, 8, 128, 4096};
  Estimate batched = model.decodeAttention(shape, 1);
  Estimate split = model.decodeAttention(shape, 16);
  CHECK(batched.ctas == 32);  // one CTA per query head
  CHECK(split.ctas == 32 * 16);
  CHECK(split.launches == 2);  // split kernel + reduce
  CHECK(split.us < batched.us / 4);
  // With 64 sequences the batched grid is 64x wider: fewer splits are worth their
  // partial results.
  auto bestSplits = [&](const AttentionShape& attention) {
    int64_t best = 1;
    for (int64_t splits = 2; splits <= 32; splits *= 2)
      if (model.decodeAttention(attention, splits).us < model.decodeAttention(attention, best).us) best = splits;
    return best;
  };
  AttentionShape wide{64, 32, 8, 128, 4096};
  CHECK(bestSplits(shape) >= 8);
  CHECK(bestSplits(wide) < bestSplits(shape));
}

TEST_CASE("figures print for explanations", "[passes][cost-model]") {
  CHECK(formatUs(41.23) == "41.2us");
  CHECK(formatUs(1234.0) == "1.23ms");
  CHECK(formatBytes(4.92e9) == "4.92 GB");
  CHECK(formatBytes(310.5e6) == "310.5 MB");
  CostModel model(rtx4090Like());
  CHECK_THAT(model.rmsNorm(4, 1536).detail(), Catch::Matches(R"(\d+\.\dus on 4 CTAs at \d+\.\d% of bandwidth)"));
}
