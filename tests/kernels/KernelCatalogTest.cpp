// CPU tests of the kernel catalog: every entry is complete and self-consistent.
#include "kernels/KernelCatalog.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <set>

using namespace reel::kernels;

namespace {

/// Sets every argument of a signature to a distinct value, in visit order: pointers (int64_t
/// stands for them) 1, 2, ..., ints from 1000, floats from 0.5.
struct Filler {
  int64_t next = 1;
  void ptr(int64_t& p, std::string_view /*doc*/) { p = next++; }
  void integer(int64_t& i, std::string_view /*doc*/) { i = 1000 + next++; }
  void real(float& f, std::string_view /*doc*/) { f = 0.5f + static_cast<float>(next++); }
};

template <typename T>
bool allDistinct(const std::vector<T>& values) {
  return std::set<T>(values.begin(), values.end()).size() == values.size();
}

/// Checks that signature Args packs each argument once and unpacks to what it packed, that its
/// docs match its flat lists, and records its docs under its tag.
template <template <class> class Args>
void checkSignature(std::map<const void*, args::ArgDocs>& tested) {
  Args<int64_t> a;
  Filler filler;
  Args<int64_t>::fields(a, filler);
  const args::Flat<int64_t> flat = args::pack<Args>(a);
  // Distinct values: no field visited twice.
  CHECK(allDistinct(flat.ptrs));
  CHECK(allDistinct(flat.ints));
  CHECK(allDistinct(flat.floats));
  CHECK(flat.ptrs.size() + flat.ints.size() + flat.floats.size() == static_cast<size_t>(filler.next - 1));
  const Args<int64_t> back = args::unpack<Args, int64_t>(flat.ptrs.data(), flat.ints.data(), flat.floats.data());
  const args::Flat<int64_t> again = args::pack<Args>(back);
  CHECK(again.ptrs == flat.ptrs);
  CHECK(again.ints == flat.ints);
  CHECK(again.floats == flat.floats);
  const args::ArgDocs docs = args::argDocs<Args>();
  CHECK(docs.ptrs.size() == flat.ptrs.size());
  CHECK(docs.ints.size() == flat.ints.size());
  CHECK(docs.floats.size() == flat.floats.size());
  std::vector<std::string_view> names;
  for (const auto* list : {&docs.ptrs, &docs.ints, &docs.floats}) {
    for (std::string_view doc : *list) {
      CHECK(doc.find(": ") != std::string_view::npos);
      names.push_back(argName(doc));
    }
  }
  CHECK(allDistinct(names));
  tested[args::signatureTag<Args>()] = docs;
}

/// The names of a list of "name: meaning" docs.
std::vector<std::string_view> namesOf(const std::vector<std::string_view>& docs) {
  std::vector<std::string_view> names;
  for (std::string_view doc : docs) names.push_back(argName(doc));
  return names;
}

}  // namespace

TEST_CASE("typed signatures round-trip and every entry has one", "[catalog]") {
  std::map<const void*, args::ArgDocs> tested;
  checkSignature<args::Gemv>(tested);
  checkSignature<args::GemvGateUp>(tested);
  checkSignature<args::GemvStack2>(tested);
  checkSignature<args::GemvStack3>(tested);
  checkSignature<args::Mmq>(tested);
  checkSignature<args::MmaF16>(tested);
  checkSignature<args::DequantF16>(tested);
  checkSignature<args::QuantizeQ81>(tested);
  checkSignature<args::RmsNorm>(tested);
  checkSignature<args::AddRmsNorm>(tested);
  checkSignature<args::Rope>(tested);
  checkSignature<args::Embed>(tested);
  checkSignature<args::Add>(tested);
  checkSignature<args::Swiglu>(tested);
  checkSignature<args::SwigluQ81>(tested);
  checkSignature<args::BiasAdd>(tested);
  checkSignature<args::Cast>(tested);
  checkSignature<args::Argmax>(tested);
  checkSignature<args::Sample>(tested);
  checkSignature<args::KvAppend>(tested);
  checkSignature<args::AttnDecode>(tested);
  checkSignature<args::AttnPrefill>(tested);
  checkSignature<args::AttnPrefillFlash>(tested);
  checkSignature<args::AttnSplit>(tested);
  checkSignature<args::AttnDecodeRope>(tested);
  checkSignature<args::AttnSplitRope>(tested);
  checkSignature<args::AttnReduce>(tested);
  checkSignature<args::Fp8QuantizeAct>(tested);
  checkSignature<args::Fp8Gemm>(tested);
  checkSignature<args::Hgemm>(tested);
  CHECK(tested.size() == 30);  // distinct tags: no two signatures share one
  for (const KernelInfo& k : kernelCatalog()) {
    INFO(k.id);
    const auto found = tested.find(k.signature);
    REQUIRE(found != tested.end());
    // The entry's arguments are its signature's, by name and order (a _q8_1 form rewords its
    // output's doc only).
    CHECK(namesOf(k.ptrArgs) == namesOf(found->second.ptrs));
    CHECK(namesOf(k.intArgs) == namesOf(found->second.ints));
    CHECK(namesOf(k.floatArgs) == namesOf(found->second.floats));
  }
}

TEST_CASE("the qtype-parametrized families come from their type lists", "[catalog]") {
  for (QType t : GemvWeightTypes::values) {
    INFO(reel::quant::qtypeName(t));
    CHECK(findKernel(gemvKernelId(t)) != nullptr);
    CHECK(findKernel(gemvGateUpKernelId(t)) != nullptr);
    CHECK(findKernel(gemvStackedKernelId(t, 2)) != nullptr);
    CHECK(findKernel(gemvStackedKernelId(t, 3)) != nullptr);
  }
  for (QType t : EmbedTableTypes::values) CHECK(findKernel(embedKernelId(t)) != nullptr);
  // An mmq entry for exactly the GEMV weight types that have a tensor-core kernel.
  size_t mmqTypes = 0;
  for (QType t : GemvWeightTypes::values) {
    INFO(reel::quant::qtypeName(t));
    CHECK((findKernel(mmqKernelId(t)) != nullptr) == mmqSupports(t));
    mmqTypes += mmqSupports(t) ? 1 : 0;
  }
  CHECK(mmqTypes == std::size(GemvWeightTypes::values));  // every GEMV weight type has one
  // 4 GEMV entries per weight type, 2 per mixed stack, 1 per table type, and the rest.
  size_t gemv = 0, embed = 0, mmq = 0;
  for (const KernelInfo& k : kernelCatalog()) {
    gemv += k.family == "gemv" ? 1 : 0;
    embed += k.family == "embed" ? 1 : 0;
    mmq += k.family == "mmq" ? 1 : 0;
  }
  CHECK(mmq == mmqTypes);
  // A dequant_f16 entry for every GEMV weight type, and no other.
  size_t dequant = 0;
  for (const KernelInfo& k : kernelCatalog()) dequant += k.family == "dequant" ? 1 : 0;
  for (QType t : GemvWeightTypes::values) CHECK(findKernel(dequantF16KernelId(t)) != nullptr);
  CHECK(dequant == GemvWeightTypes::values.size());
  size_t mixed = 0;
  forEachGemvMixedStack([&](auto, auto) { mixed += 2; });
  CHECK(gemv == 4 * GemvWeightTypes::values.size() + mixed);
  CHECK(embed == EmbedTableTypes::values.size());
}

TEST_CASE("catalog entries are complete and unique", "[catalog]") {
  std::set<std::string> ids;
  for (const KernelInfo& k : kernelCatalog()) {
    INFO(k.id);
    CHECK(ids.insert(k.id).second);
    CHECK(k.dims != nullptr);
    CHECK(k.check != nullptr);
    CHECK(!k.doc.empty());
    CHECK(k.ptrArgs.size() <= static_cast<size_t>(kMaxPtrArgs));
    CHECK(k.intArgs.size() <= static_cast<size_t>(kMaxIntArgs));
    CHECK(k.floatArgs.size() <= static_cast<size_t>(kMaxFloatArgs));
    for (auto arg : k.ptrArgs) CHECK(arg.find(": ") != std::string_view::npos);
  }
  CHECK(findKernel("gemv_dp4a_q4_k") != nullptr);
  CHECK(findKernel("gemv_dp4a_gate_up_q6_k") != nullptr);
  CHECK(findKernel("attn_decode_split") != nullptr);
  CHECK(findKernel("nope") == nullptr);
  CHECK(describeCatalog().find("embed_q6_k") != std::string::npos);
}

TEST_CASE("launch dims and checks", "[catalog]") {
  // The grid follows the row_sets argument (int 3): 8 rows per block with two, 4 with one.
  const int64_t gemv[kMaxIntArgs] = {4097, 4096, 3, 2};
  const LaunchDims d = kernelDims("gemv_dp4a_q4_k", gemv);
  CHECK(d.grid[0] == 513);
  CHECK(d.block[0] == 128);
  const int64_t narrow[kMaxIntArgs] = {2048, 4096, 1, 1};
  CHECK(kernelDims("gemv_dp4a_q6_k", narrow).grid[0] == 512);
  const int64_t gateUp2[kMaxIntArgs] = {11008, 4096, 2, 1};
  CHECK(kernelDims("gemv_dp4a_gate_up_q4_k", gateUp2).grid[0] == 2752);
  CHECK(checkKernelArgs("gemv_dp4a_q4_k", gemv).empty());
  const int64_t rowSets3[kMaxIntArgs] = {4096, 4096, 1, 3};
  CHECK(checkKernelArgs("gemv_dp4a_q4_k", rowSets3) == "row_sets must be 1 or 2, got 3");
  // A mixed stack's last (Q6_K) matrix starts on a multiple of 8 rows.
  const int64_t mixed[kMaxIntArgs] = {12288, 4096, 1, 2, 4096, 4096, 4096};
  CHECK(checkKernelArgs("gemv_dp4a_stack3_q4_k_q6_k", mixed).empty());
  const int64_t straddling[kMaxIntArgs] = {60, 512, 1, 1, 20, 24, 16};  // the Q6_K rows from row 44
  CHECK_FALSE(checkKernelArgs("gemv_dp4a_stack3_q4_k_q6_k", straddling).empty());
  // k: whole super-blocks for the K-quants, whole 32-element blocks for Q8_0, Q5_0, Q5_1 and Q4_0.
  const int64_t qwenK[kMaxIntArgs] = {896, 896, 1, 1};
  CHECK(checkKernelArgs("gemv_dp4a_q5_0", qwenK).empty());
  CHECK(checkKernelArgs("gemv_dp4a_q5_1", qwenK).empty());
  const int64_t qwenQkv[kMaxIntArgs] = {1152, 896, 1, 1, 896, 128, 128};
  CHECK(checkKernelArgs("gemv_dp4a_stack3_q5_1", qwenQkv).empty());
  const int64_t partBlock[kMaxIntArgs] = {896, 880, 1, 1};
  CHECK(checkKernelArgs("gemv_dp4a_q5_1", partBlock) == "k must be a positive multiple of 32 for q5_1 weights");
  CHECK(checkKernelArgs("gemv_dp4a_q4_0", qwenK).empty());
  CHECK(checkKernelArgs("gemv_dp4a_gate_up_q8_0", qwenK).empty());
  CHECK_FALSE(checkKernelArgs("gemv_dp4a_q4_k", qwenK).empty());
  CHECK(checkKernelArgs("gemv_dp4a_q5_k", qwenK) == "k must be a positive multiple of 256 for q5_k weights");
  const int64_t badK[kMaxIntArgs] = {4096, 4000, 1, 1};
  CHECK_FALSE(checkKernelArgs("gemv_dp4a_q4_k", badK).empty());
  const int64_t badM[kMaxIntArgs] = {4096, 4096, 9, 1};
  CHECK_FALSE(checkKernelArgs("gemv_dp4a_q4_k", badM).empty());
  const int64_t attn[kMaxIntArgs] = {5, 32, 8, 128, 4096, 0, 4096, 16};
  const LaunchDims a = kernelDims("attn_decode_split", attn);
  CHECK(a.grid == std::array<uint32_t, 3>{8, 5, 16});
  // Group 4, head_dim 128: 16 warps; queries [4][128], the warps' P*V sums [16][4][128], their
  // (max, sum) pairs [16][4][2], the RoPE table [128] and the combined pairs [4][2].
  CHECK(a.block == std::array<uint32_t, 3>{512, 1, 1});
  CHECK(a.smemBytes == 4 * (4 * (128 + 16 * (128 + 2)) + 128 + 2 * 4));
  const int64_t wideGroup8[kMaxIntArgs] = {1, 64, 8, 256, 4096, 0, 4096, 1};
  CHECK(kernelDims("attn_decode", wideGroup8).block == std::array<uint32_t, 3>{128, 1, 1});
  const int64_t badGroup[kMaxIntArgs] = {1, 64, 4, 128, 16, 0, 8192};
  CHECK_FALSE(checkKernelArgs("attn_decode", badGroup).empty());
  // attn_prefill_flash: 64 query rows of one head per block of 4 warps, static shared memory;
  // the head dims it has an instantiation for (attn_prefill takes any multiple of 8).
  const int64_t prefill[kMaxIntArgs] = {200, 32, 8, 128, 8192, 0, 6144};
  CHECK(checkKernelArgs("attn_prefill_flash", prefill).empty());
  const LaunchDims f = kernelDims("attn_prefill_flash", prefill);
  CHECK(f.grid == std::array<uint32_t, 3>{4, 32, 1});
  CHECK(f.block == std::array<uint32_t, 3>{128, 1, 1});
  CHECK(f.smemBytes == 0);
  const int64_t prefill80[kMaxIntArgs] = {200, 32, 8, 80, 8192, 0, 6144};
  CHECK(checkKernelArgs("attn_prefill_flash", prefill80) == "head_dim must be 32, 64 or 128");
  CHECK(checkKernelArgs("attn_prefill", prefill80).empty());
  CHECK(checkKernelArgs("nope", gemv) == "unknown kernel");
  // RoPE: one pair per thread, 128 threads per block, a row's pairs over several blocks.
  const int64_t rope[kMaxIntArgs] = {3, 32, 8, 128};
  const LaunchDims r = kernelDims("rope_norm", rope);
  CHECK(r.grid == std::array<uint32_t, 3>{3, 20, 1});
  CHECK(r.block[0] == 128);
  const int64_t q81Rows[kMaxIntArgs] = {2, 4100};
  CHECK(checkKernelArgs("rms_norm_q8_1", q81Rows) == "n must be a multiple of 32 (whole Q8_1 blocks)");
  CHECK(checkKernelArgs("rms_norm", q81Rows).empty());
}

TEST_CASE("mmq: token tiles by row blocks, any m, whole units of k", "[catalog][mmq]") {
  // n, k, m: Llama-2-7B's FFN down projection at 33 rows.
  const int64_t down[kMaxIntArgs] = {4096, 11008, 33};
  const LaunchDims d = kernelDims("mmq_q6_k", down);
  CHECK(d.grid == std::array<uint32_t, 3>{1, 256, 1});  // one 64-token tile, 4096 / 16 row blocks
  CHECK(d.block == std::array<uint32_t, 3>{128, 1, 1});
  CHECK(d.smemBytes == 0);
  CHECK(checkKernelArgs("mmq_q6_k", down).empty());
  // A prefill chunk of 200 rows: four tiles of 64; a partial row block at n = 4100.
  const int64_t prefill[kMaxIntArgs] = {4100, 4096, 200};
  CHECK(kernelDims("mmq_q4_k", prefill).grid == std::array<uint32_t, 3>{4, 257, 1});
  CHECK(checkKernelArgs("mmq_q4_k", prefill).empty());
  // Q8_0: whole 32-element blocks (Qwen2.5-0.5B's 896); the K-quants whole super-blocks.
  const int64_t qwen[kMaxIntArgs] = {896, 896, 16};
  CHECK(checkKernelArgs("mmq_q8_0", qwen).empty());
  CHECK(checkKernelArgs("mmq_q4_k", qwen) == "k must be a positive multiple of 256 for q4_k weights");
  const int64_t noRows[kMaxIntArgs] = {4096, 4096, 0};
  CHECK(checkKernelArgs("mmq_q4_k", noRows) == "m must be positive");
  const int64_t tooTall[kMaxIntArgs] = {65535 * 16 + 1, 256, 1};
  CHECK_FALSE(checkKernelArgs("mmq_q8_0", tooTall).empty());
  // No mmq kernel for a float weight.
  CHECK(findKernel("mmq_f16") == nullptr);
  // Footprints: weights in the GEMV's layout (Q6_K row-planar, rounded to 16 bytes), m Q8_1 rows
  // of k, the f32 outputs.
  const Footprint f = findKernel("mmq_q6_k")->footprint(down);
  const auto q6Row = static_cast<int64_t>(reel::quant::planarRowBytes(QType::Q6_K, 11008));
  CHECK(f[0].bytes == 4096 * q6Row);
  CHECK(f[0].use == PtrUse::Read);
  CHECK(f[1].bytes == 33 * static_cast<int64_t>(reel::quant::q81RowBytes(11008)));
  CHECK(f[2].bytes == 33 * 4096 * 4);
  CHECK(f[2].use == PtrUse::Write);
}

TEST_CASE("dequant_f16: a thread per 32 elements, whole blocks of k, f16 rows out", "[catalog][dequant]") {
  // n, k: Llama-2-7B's FFN down projection.
  const int64_t down[kMaxIntArgs] = {4096, 11008};
  const LaunchDims d = kernelDims("dequant_f16_q6_k", down);
  CHECK(d.grid == std::array<uint32_t, 3>{4096 * 11008 / 32 / 256, 1, 1});
  CHECK(d.block == std::array<uint32_t, 3>{256, 1, 1});
  CHECK(checkKernelArgs("dequant_f16_q6_k", down).empty());
  // A partial last block of threads.
  const int64_t odd[kMaxIntArgs] = {3, 256};
  CHECK(kernelDims("dequant_f16_q4_k", odd).grid[0] == 1);
  // Q8_0: whole 32-element blocks (Qwen2.5-0.5B's 896); the K-quants whole super-blocks.
  const int64_t qwen[kMaxIntArgs] = {896, 896};
  CHECK(checkKernelArgs("dequant_f16_q8_0", qwen).empty());
  CHECK(checkKernelArgs("dequant_f16_q5_k", qwen) == "k must be a positive multiple of 256 for q5_k weights");
  const int64_t noRows[kMaxIntArgs] = {0, 4096};
  CHECK(checkKernelArgs("dequant_f16_q4_0", noRows) == "n must be positive");
  CHECK(findKernel("dequant_f16_f16") == nullptr);
  // Footprints: the weights in the GEMV's layout (Q6_K row-planar, Q4_K GGUF rows), f16 out.
  const Footprint f = findKernel("dequant_f16_q6_k")->footprint(down);
  CHECK(f[0].bytes == 4096 * static_cast<int64_t>(reel::quant::planarRowBytes(QType::Q6_K, 11008)));
  CHECK(f[0].use == PtrUse::Read);
  CHECK(f[1].bytes == 4096 * 11008 * 2);
  CHECK(f[1].use == PtrUse::Write);
  const Footprint q4 = findKernel("dequant_f16_q4_k")->footprint(down);
  CHECK(q4[0].bytes == 4096 * static_cast<int64_t>(reel::quant::rowBytes(QType::Q4_K, 11008)));
}

TEST_CASE("sample: one block per row, a bit of shared memory per column, vocabularies up to 262144",
          "[catalog][sampling]") {
  const int64_t qwen[kMaxIntArgs] = {8, 151936};
  const LaunchDims d = kernelDims("sample", qwen);
  CHECK(d.grid[0] == 8);
  CHECK(d.block[0] == 1024);
  CHECK(d.smemBytes == 151936 / 8);  // 1187 granules of 16 bytes
  CHECK(checkKernelArgs("sample", qwen).empty());
  const int64_t widest[kMaxIntArgs] = {1, kSampleMaxVocab};
  CHECK(checkKernelArgs("sample", widest).empty());
  CHECK(kernelDims("sample", widest).smemBytes == kSampleMaxVocab / 8);
  const int64_t tooWide[kMaxIntArgs] = {1, kSampleMaxVocab + 1};
  CHECK(checkKernelArgs("sample", tooWide) == "n 262145 is above the sample kernel's 262144");
  // The key order is argmax's: a larger value first, then the lower index; -0 equals +0; NaN last.
  CHECK(candidateKey(2.0f, 5) > candidateKey(1.0f, 0));
  CHECK(candidateKey(1.0f, 3) > candidateKey(1.0f, 4));
  CHECK(candidateKey(-0.0f, 1) < candidateKey(0.0f, 0));
  CHECK(candidateKey(-0.0f, 0) > candidateKey(0.0f, 1));
  CHECK(candidateKey(-INFINITY, 9) > 0);
  CHECK(candidateKey(NAN, 0) == 0);
  CHECK(keyValue(candidateKey(-3.5f, 7)) == -3.5f);
  CHECK(keyIndex(candidateKey(-3.5f, 7)) == 7);
}
