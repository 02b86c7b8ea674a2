#include "passes/GpuProfile.h"

#include "ir/DecisionAttrs.h"
#include "ir/Types.h"
#include "support/Diagnostics.h"

#include <fmt/format.h>
#include <catch2/catch.hpp>

using namespace reel::passes;

namespace {

std::string parseError(const std::string& text) {
  try {
    parseGpuProfile(text, "gpu.toml");
  } catch (const reel::Error& error) {
    return error.what();
  }
  return "(no error)";
}

const char* kMinimal =
    "[gpu]\n"
    "name = \"test\"\n"
    "compute_capability = 90\n"
    "sm_count = 10\n"
    "memory_bandwidth_gbs = 100\n"
    "l2_cache_mb = 1\n"
    "memory_gb = 8\n"
    "fp16_tflops = 10\n"
    "int8_tops = 5\n"
    "launch_cost_us = 3\n"
    "[features]\n"
    "dp4a = true\n"
    "fp8 = false\n"
    "wgmma = false\n"
    "mma = true\n";

std::optional<DetectedGpu> noGpu() {
  return std::nullopt;
}
std::optional<DetectedGpu> anL40s() {
  return DetectedGpu{"NVIDIA L40S", 142, 89};
}
std::optional<DetectedGpu> anH100Pcie() {
  return DetectedGpu{"NVIDIA H100 PCIe", 114, 90};
}

}  // namespace

TEST_CASE("the bundled profiles hold the published figures", "[passes][profile]") {
  CHECK(bundledGpuProfileNames() == std::vector<std::string>{"a100", "h100", "h200", "l40s", "rtx4090"});
  struct Expected {
    const char* name;
    int sms;
    double bandwidth;
    double l2;
    bool fp8;
    bool wgmma;
  };
  for (const Expected& e : {Expected{"h100", 132, 3100, 50, true, true}, Expected{"h200", 132, 4300, 50, true, true},
                            Expected{"a100", 108, 1750, 40, false, false}, Expected{"l40s", 142, 800, 96, true, false},
                            Expected{"rtx4090", 128, 950, 72, true, false}}) {
    INFO(e.name);
    GpuProfile profile = bundledGpuProfile(e.name);
    CHECK(profile.name == e.name);
    CHECK(profile.smCount == e.sms);
    CHECK(profile.memoryBandwidthGBs == e.bandwidth);
    CHECK(profile.l2CacheMB == e.l2);
    CHECK(profile.fp8 == e.fp8);
    CHECK(profile.wgmma == e.wgmma);
    CHECK(profile.dp4a);
    CHECK(profile.launchCostUs == 2.5);
    CHECK(profile.fp8MinM == (e.name == std::string("h100") || e.name == std::string("h200") ? 17 : 5));
    CHECK(profile.hgemmMinM == 64);
    CHECK(profile.flashDecodingMinContext == 1024);
    CHECK(profile.gateUpFuseMaxM == 8);
    CHECK(profile.source == std::string("<bundled>/") + e.name + ".toml");
  }
  CHECK(bundledGpuProfile("H100").name == "h100");
}

TEST_CASE("an unknown profile name lists the bundled ones", "[passes][profile]") {
  try {
    bundledGpuProfile("b200");
    FAIL("no error");
  } catch (const reel::Error& error) {
    CHECK(std::string(error.what()) ==
          "unknown GPU 'b200' (bundled profiles: a100, h100, h200, l40s, rtx4090; or give a file with --gpu-profile)");
  }
}

TEST_CASE("a user's profile: defaults for the optional keys", "[passes][profile]") {
  GpuProfile profile = parseGpuProfile(kMinimal, "gpu.toml");
  CHECK(profile.name == "test");
  CHECK(profile.source == "gpu.toml");
  CHECK(profile.fp8Tflops == 0);
  CHECK(profile.maxThreadsPerSm == 2048);
  CHECK(profile.gateUpFuseMinM == 2);
  CHECK(profile.gateUpFuseMaxM == 8);
  GpuProfile tuned = parseGpuProfile(
      std::string(kMinimal) + "[thresholds]\ngate_up_fuse_min_m = 1\ngate_up_fuse_max_m = 4\n", "gpu.toml");
  CHECK(tuned.gateUpFuseMinM == 1);
  CHECK(tuned.gateUpFuseMaxM == 4);
}

TEST_CASE("bad profiles are one-line errors with file:line:col", "[passes][profile]") {
  CHECK(parseError("[gpu\nname = 1").rfind("gpu.toml:1:", 0) == 0);
  CHECK(parseError(std::string(kMinimal) + "sm_cuont = 3\n") == "gpu.toml:16:1: unknown key 'sm_cuont' in [features]");
  std::string misspelt = kMinimal;
  misspelt.replace(misspelt.find("sm_count"), 8, "sm_cuont");
  CHECK(parseError(misspelt) == "gpu.toml:4:1: unknown key 'sm_cuont' in [gpu] (did you mean 'sm_count'?)");
  std::string wrongType = kMinimal;
  wrongType.replace(wrongType.find("10\n"), 2, "\"many\"");
  CHECK(parseError(wrongType) == "gpu.toml:4:12: 'sm_count' in [gpu] must be an integer >= 1, got 'many'");
  std::string missing = kMinimal;
  missing.erase(missing.find("memory_gb"), std::string("memory_gb = 8\n").size());
  CHECK(parseError(missing) == "gpu.toml:1:1: missing key 'memory_gb' in [gpu]");
  std::string fp8WithoutTflops = kMinimal;
  fp8WithoutTflops.replace(fp8WithoutTflops.find("fp8 = false"), 11, "fp8 = true");
  CHECK(parseError(fp8WithoutTflops) == "gpu.toml:13:7: 'fp8' in [features] needs fp8_tflops > 0 in [gpu], got true");
  CHECK(parseError("[gpus]\n") ==
        "gpu.toml:1:2: unknown table 'gpus' (a profile has [gpu], [features], [thresholds], [measured])");
  CHECK(parseError(std::string(kMinimal) + "[thresholds]\nfp8_min_m = 0\n") ==
        "gpu.toml:17:13: 'fp8_min_m' in [thresholds] must be an integer >= 1, got 0");
}

TEST_CASE("[measured]: reading, errors, lookups and the round trip", "[passes][profile]") {
  const std::string gemv = "[[measured.gemv]]\nkernel = \"gemv_dp4a_q4_k\"\nn = 4096\nk = 4096\nm = 1\n";
  const std::string attention =
      "[[measured.attention]]\nrows = 1\nheads = 32\nkv_heads = 8\nhead_dim = 128\ncontext = {}\nus = [{}, {}]\n";
  const std::string text = std::string(kMinimal) + "[measured]\ngpu = \"a GPU\"\n" + gemv + "us = [10.0, 8.0]\n" +
                           fmt::format(fmt::runtime(attention), 1024, 20.0, 15.0) +
                           fmt::format(fmt::runtime(attention), 2048, 40.0, 25.0);
  const GpuProfile profile = parseGpuProfile(text, "gpu.toml");
  const Measurements& m = profile.measured;
  CHECK(m.gpu == "a GPU");
  REQUIRE(m.gemv.size() == 1);
  CHECK(m.gemvUs({"gemv_dp4a_q4_k", 4096, 4096, 1}, 2) == 8.0);
  CHECK_FALSE(m.gemvUs({"gemv_dp4a_q4_k", 4096, 4096, 2}, 2));
  CHECK_FALSE(m.gemvUs({"gemv_dp4a_q4_k", 4096, 4096, 1}, 3));
  const AttentionKey key{1, 32, 8, 128, 1536};
  CHECK(m.attentionUs(key, 1) == Approx(30.0));  // halfway between 1024 and 2048
  CHECK(m.attentionUs(key, 2) == Approx(20.0));
  CHECK_FALSE(m.attentionUs(key, 4));                    // not measured
  CHECK_FALSE(m.attentionUs(key, 3));                    // not a power of two
  CHECK_FALSE(m.attentionUs({1, 32, 8, 128, 4096}, 1));  // past the measured contexts
  CHECK(m.attentionUs({1, 32, 8, 128, 2048}, 1) == Approx(40.0));

  // formatGpuProfile writes what parseGpuProfile reads back.
  const GpuProfile again = parseGpuProfile(formatGpuProfile(profile), "again.toml");
  CHECK(formatGpuProfile(again) == formatGpuProfile(profile));
  CHECK(again.measured.gemv.front().usByRowSets == std::vector<double>{10.0, 8.0});
  CHECK(again.launchCostUs == profile.launchCostUs);

  const std::string head = std::string(kMinimal) + "[measured]\ngpu = \"g\"\n";
  CHECK(parseError(head + "[[measured.gemv]]\nkernel = \"rms_norm\"\nn = 1\nk = 1\nm = 1\nus = [1.0]\n") ==
        "gpu.toml:19:10: 'kernel' in [[measured.gemv]] #1 must be a GEMV kernel id of the kernel table "
        "(gemv_dp4a_...), got 'rms_norm'");
  CHECK(parseError(head + gemv + "us = [1.0, 2.0, 3.0]\n") ==
        "gpu.toml:23:6: 'us' in [[measured.gemv]] #1 must be an array of 1 to 2 positive numbers, got an array");
  CHECK(parseError(head + gemv + "us = [0.0]\n") ==
        "gpu.toml:23:7: 'us' in [[measured.gemv]] #1 must be an array of 1 to 2 positive numbers, got 0.0");
  CHECK(parseError(head + gemv + "us = [1.0]\nrow_sets = 2\n") ==
        "gpu.toml:24:1: unknown key 'row_sets' in [[measured.gemv]] #1");
  CHECK(parseError(head + "gemv = 3\n") ==
        "gpu.toml:18:8: 'gemv' in [measured] must be an array of tables ([[measured.gemv]]), got 3");
}

TEST_CASE("[[measured.matmul]] and prefill_tokens: reading, errors, lookups and the round trip", "[passes][profile]") {
  const std::string matmul =
      "[[measured.matmul]]\nfamily = \"{}\"\nqtype = \"{}\"\nn = 4096\nk = 11008\nm = {}\nus = {}\n";
  const std::string head = std::string(kMinimal) + "[measured]\ngpu = \"g\"\n";
  const std::string text = head + "prefill_tokens = 128\n" +
                           fmt::format(fmt::runtime(matmul), "mma", "q4_k", 32, "41.25") +
                           fmt::format(fmt::runtime(matmul), "dequant-hgemm", "q6_k", 32, "55") +
                           fmt::format(fmt::runtime(matmul), "mma", "q4_k", 64, "60.5");
  const GpuProfile profile = parseGpuProfile(text, "gpu.toml");
  const Measurements& m = profile.measured;
  CHECK(m.prefillTokens == 128);
  REQUIRE(m.matmul.size() == 3);
  CHECK(m.matmulUs({reel::ir::MatmulKernel::Mma, reel::ir::ElemType::Q4_K, 4096, 11008, 32}) == 41.25);
  CHECK(m.matmulUs({reel::ir::MatmulKernel::DequantHgemm, reel::ir::ElemType::Q6_K, 4096, 11008, 32}) == 55.0);
  CHECK(m.matmulUs({reel::ir::MatmulKernel::Mma, reel::ir::ElemType::Q4_K, 4096, 11008, 64}) == 60.5);
  CHECK_FALSE(m.matmulUs({reel::ir::MatmulKernel::Mma, reel::ir::ElemType::Q6_K, 4096, 11008, 32}));   // another qtype
  CHECK_FALSE(m.matmulUs({reel::ir::MatmulKernel::Dp4a, reel::ir::ElemType::Q4_K, 4096, 11008, 32}));  // another family
  CHECK_FALSE(m.matmulUs({reel::ir::MatmulKernel::Mma, reel::ir::ElemType::Q4_K, 4096, 11008, 16}));   // another M

  const GpuProfile again = parseGpuProfile(formatGpuProfile(profile), "again.toml");
  CHECK(formatGpuProfile(again) == formatGpuProfile(profile));
  CHECK(again.measured.prefillTokens == 128);
  REQUIRE(again.measured.matmul.size() == 3);
  CHECK(again.measured.matmul[1].key == m.matmul[1].key);
  CHECK(again.measured.matmul[1].us == 55.0);

  const std::string one = head + fmt::format(fmt::runtime(matmul), "mma", "q4_k", 32, "41.2");
  CHECK(
      parseError(head + fmt::format(fmt::runtime(matmul), "wmma", "q4_k", 32, "1.0")) ==
      "gpu.toml:19:10: 'family' in [[measured.matmul]] #1 must be dp4a, mma, fp8, hgemm, dequant-hgemm or mma-f16, got "
      "'wmma'");
  CHECK(parseError(head + fmt::format(fmt::runtime(matmul), "mma", "q9_k", 32, "1.0")) ==
        "gpu.toml:20:9: 'qtype' in [[measured.matmul]] #1 must be a weight type (q4_k, q6_k, q8_0, f16, ...), got "
        "'q9_k'");
  CHECK(parseError(head + fmt::format(fmt::runtime(matmul), "mma", "q4_k", 0, "1.0")) ==
        "gpu.toml:23:5: 'm' in [[measured.matmul]] #1 must be an integer >= 1, got 0");
  CHECK(parseError(head + fmt::format(fmt::runtime(matmul), "mma", "q4_k", 32, "-3.0")) ==
        "gpu.toml:24:6: 'us' in [[measured.matmul]] #1 must be a positive number, got -3.0");
  CHECK(parseError(head + fmt::format(fmt::runtime(matmul), "mma", "q4_k", 32, "\"fast\"")) ==
        "gpu.toml:24:6: 'us' in [[measured.matmul]] #1 must be a positive number, got 'fast'");
  CHECK(parseError(one + "kernel = \"mmq_q4_k\"\n") == "gpu.toml:25:1: unknown key 'kernel' in [[measured.matmul]] #1");
  CHECK(parseError(one + fmt::format(fmt::runtime(matmul), "mma", "q4_k", 32, "50.0")) ==
        "gpu.toml:30:5: 'm' in [[measured.matmul]] #2 repeats an earlier record's family, qtype, n, k and m, got 32");
  CHECK(parseError(head + "prefill_tokens = 0\n") ==
        "gpu.toml:18:18: 'prefill_tokens' in [measured] must be an integer >= 1, got 0");
  CHECK(parseError(head + "prefill_tokens = 100000\n") ==
        "gpu.toml:18:18: 'prefill_tokens' in [measured] must be an integer from 1 to 65536, got 100000");
  CHECK(parseError(head + "matmul = [1, 2]\n") ==
        "gpu.toml:18:10: 'matmul' in [measured] must be an array of tables ([[measured.matmul]]), got an array");
}

TEST_CASE("--gpu auto matches the device by name and SM count", "[passes][profile]") {
  std::string note;
  setGpuDetector(nullptr);
  CHECK(resolveGpuProfile("auto", &note).name == "h100");
  CHECK(note == "--gpu auto: reel was built without CUDA; using the h100 profile");

  setGpuDetector(noGpu);
  CHECK(resolveGpuProfile("auto", &note).name == "h100");
  CHECK(note == "--gpu auto: no CUDA device is visible; using the h100 profile");

  setGpuDetector(anL40s);
  CHECK(resolveGpuProfile("auto", &note).name == "l40s");
  CHECK(note == "--gpu auto: NVIDIA L40S -> the l40s profile");

  setGpuDetector(anH100Pcie);
  GpuProfile pcie = resolveGpuProfile("auto", &note);
  CHECK(pcie.name == "h100");
  CHECK(pcie.smCount == 114);
  CHECK(note == "--gpu auto: 'NVIDIA H100 PCIe' has 114 SMs; using the h100 profile with that SM count");
  setGpuDetector(nullptr);

  // What CUDA reports on our H100 SXM (seen with the detector of tools/PassFlags.cpp).
  note.clear();
  GpuProfile sxm = matchGpuProfile({"NVIDIA H100 80GB HBM3", 132, 90}, &note);
  CHECK(sxm.name == "h100");
  CHECK(sxm.smCount == 132);
  CHECK(note.empty());
  CHECK(matchGpuProfile({"NVIDIA GeForce RTX 4090", 128, 89}).name == "rtx4090");
  CHECK(matchGpuProfile({"NVIDIA H200", 132, 90}).name == "h200");
  CHECK(matchGpuProfile({"NVIDIA A100-SXM4-80GB", 108, 80}).name == "a100");
  CHECK(matchGpuProfile({"Tesla T4", 40, 75}, &note).name == "h100");
  CHECK(note == "no bundled GPU profile matches 'Tesla T4' (40 SMs); using the h100 profile");
}
