// Synthetic weights: the file reads back with the requested metadata and shapes, the
// values follow the requested distribution after quantization, and the output does not
// depend on the thread count.

#include "runtime/synth/SyntheticGguf.h"
#include "tests/runtime/gguf/GgufTestSupport.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <iterator>

using namespace reel;
using namespace reel::test;
using Catch::Matchers::Contains;
using quant::QType;

namespace {

SynthSpec smallSpec() {
  SynthSpec spec;
  spec.arch = "llama";
  spec.metadata.set("llama.block_count", uint32_t{1});
  spec.metadata.set("llama.rope.freq_base", 10000.0f);
  spec.metadata.set("tokenizer.ggml.model", "no_vocab");
  spec.metadata.set("tokenizer.ggml.tokens", GgufArray::ofStrings({"<unk>", "<s>", "</s>"}));
  spec.tensors = {
      {"token_embd.weight", QType::Q4_K, {256, 40}, 0.02f, 0.0f},
      {"blk.0.attn_norm.weight", QType::F32, {256}, 0.01f, 1.0f},
      {"blk.0.attn_q.weight", QType::Q8_0, {256, 33}, 0.05f, 0.0f},
      {"blk.0.ffn_down.weight", QType::Q6_K, {512, 3}, 0.02f, 0.0f},
      {"blk.0.attn_v.weight", QType::Q5_0, {64, 5}, 0.02f, 0.0f},
      {"blk.0.ffn_norm.weight", QType::BF16, {256}, 0.01f, 1.0f},
      {"output.weight", QType::F16, {256, 7}, 0.02f, 0.0f},
  };
  spec.fixedTensors.push_back(patternTensor("rope_freqs.weight", QType::F32, {16}));
  spec.seed = 42;
  return spec;
}

std::vector<uint8_t> readAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("synthetic GGUF reads back with its metadata and tensors", "[gguf][synth]") {
  const SynthSpec spec = smallSpec();
  TempDir dir;
  const auto path = dir.file("synth.gguf");
  const SynthReport report = writeSyntheticGguf(spec, path);
  CHECK(report.fileBytes == std::filesystem::file_size(path));

  const GgufFile file = GgufFile::open(path);
  const GgufMetadata& metadata = file.metadata();
  CHECK(metadata.entries()[0].key == "general.architecture");
  CHECK(metadata.getString("general.architecture") == "llama");
  CHECK(metadata.getU32("general.alignment") == 32);
  CHECK(metadata.getString("tokenizer.ggml.model") == "no_vocab");
  CHECK(metadata.getStringArray("tokenizer.ggml.tokens").size() == 3);
  CHECK(metadata.getF32("llama.rope.freq_base") == 10000.0f);
  REQUIRE(file.tensors().size() == spec.tensors.size() + 1);
  const std::span<const uint8_t> fixed = file.tensorData("rope_freqs.weight");
  CHECK(std::vector<uint8_t>(fixed.begin(), fixed.end()) == spec.fixedTensors[0].data);

  for (const SynthTensor& expected : spec.tensors) {
    INFO(expected.name);
    const GgufTensorInfo& info = file.tensor(expected.name);
    CHECK(info.type == expected.type);
    CHECK(std::vector<int64_t>(info.dims().begin(), info.dims().end()) == expected.ne);
    // Dequantized values are close to the generated ones and follow mean and scale.
    const auto count = static_cast<size_t>(info.elementCount());
    std::vector<float> generated(count);
    std::vector<float> stored(count);
    synthesizeRows(expected, spec.seed, 0, info.rowCount(), generated.data());
    quant::dequantizeRow(info.type, file.tensorData(info).data(), stored.data(), info.elementCount());
    double sum = 0;
    double sumSquares = 0;
    double maxError = 0;
    for (size_t i = 0; i < count; ++i) {
      sum += stored[i];
      sumSquares += (stored[i] - expected.mean) * (stored[i] - expected.mean);
      maxError = std::max(maxError, double{std::abs(stored[i] - generated[i])});
    }
    CHECK(sum / count == Approx(expected.mean).margin(4 * expected.scale / std::sqrt(count)));
    CHECK(std::sqrt(sumSquares / count) == Approx(expected.scale).epsilon(0.15));
    CHECK(maxError < 0.25 * expected.scale * 3.5);
  }
}

TEST_CASE("synthetic GGUF is the same for any thread count", "[gguf][synth]") {
  SynthSpec spec = smallSpec();
  // A tensor larger than one chunk, so that chunks really are split across workers.
  spec.tensors.push_back({"big", QType::Q8_0, {1024, 2100}, 0.02f, 0.0f});
  TempDir dir;
  spec.threads = 1;
  writeSyntheticGguf(spec, dir.file("one.gguf"));
  spec.threads = 3;
  writeSyntheticGguf(spec, dir.file("three.gguf"));
  CHECK(readAll(dir.file("one.gguf")) == readAll(dir.file("three.gguf")));
  spec.seed = 43;
  writeSyntheticGguf(spec, dir.file("other.gguf"));
  CHECK(readAll(dir.file("one.gguf")) != readAll(dir.file("other.gguf")));
}

TEST_CASE("synthetic GGUF rejects a bad spec and leaves no file", "[gguf][synth]") {
  TempDir dir;
  const auto path = dir.file("bad.gguf");
  SynthSpec spec = smallSpec();
  spec.tensors[2].ne = {100, 2};
  CHECK_THROWS_WITH(writeSyntheticGguf(spec, path),
                    Contains("tensor 'blk.0.attn_q.weight': invalid shape [100, 2] for q8_0"));
  spec = smallSpec();
  spec.tensors[1].scale = -1.0f;
  CHECK_THROWS_WITH(writeSyntheticGguf(spec, path), Contains("tensor 'blk.0.attn_norm.weight': scale -1 and mean 1"));
  spec = smallSpec();
  spec.tensors[3].name = spec.tensors[0].name;
  CHECK_THROWS_WITH(writeSyntheticGguf(spec, path), Contains("tensor 'token_embd.weight': the name appears twice"));
  spec = smallSpec();
  spec.fixedTensors[0].data.pop_back();
  CHECK_THROWS_WITH(writeSyntheticGguf(spec, path), Contains("tensor 'rope_freqs.weight': 63 bytes of data given, 64"));
  CHECK_FALSE(std::filesystem::exists(path));
  CHECK_FALSE(std::filesystem::exists(path.string() + ".partial"));
}

// Hidden (run with "[.perf]", in a release build): a Llama-2-7B-shaped Q4_K_M mix, ~3.9 GB.
TEST_CASE("synthetic 7B Q4_K_M-shaped file timing", "[.perf]") {
  constexpr int64_t kDim = 4096;
  constexpr int64_t kFfn = 11008;
  constexpr int64_t kVocab = 32000;
  SynthSpec spec;
  spec.arch = "llama";
  spec.metadata.set("tokenizer.ggml.model", "no_vocab");
  spec.tensors.push_back({"token_embd.weight", QType::Q4_K, {kDim, kVocab}});
  for (int layer = 0; layer < 32; ++layer) {
    const std::string prefix = "blk." + std::to_string(layer) + ".";
    const QType mixed = layer % 2 == 0 ? QType::Q6_K : QType::Q4_K;
    spec.tensors.push_back({prefix + "attn_norm.weight", QType::F32, {kDim}, 0.01f, 1.0f});
    spec.tensors.push_back({prefix + "attn_q.weight", QType::Q4_K, {kDim, kDim}});
    spec.tensors.push_back({prefix + "attn_k.weight", QType::Q4_K, {kDim, kDim}});
    spec.tensors.push_back({prefix + "attn_v.weight", mixed, {kDim, kDim}});
    spec.tensors.push_back({prefix + "attn_output.weight", QType::Q4_K, {kDim, kDim}});
    spec.tensors.push_back({prefix + "ffn_norm.weight", QType::F32, {kDim}, 0.01f, 1.0f});
    spec.tensors.push_back({prefix + "ffn_gate.weight", QType::Q4_K, {kDim, kFfn}});
    spec.tensors.push_back({prefix + "ffn_up.weight", QType::Q4_K, {kDim, kFfn}});
    spec.tensors.push_back({prefix + "ffn_down.weight", mixed, {kFfn, kDim}});
  }
  spec.tensors.push_back({"output_norm.weight", QType::F32, {kDim}, 0.01f, 1.0f});
  spec.tensors.push_back({"output.weight", QType::Q6_K, {kDim, kVocab}});
  TempDir dir;
  const SynthReport report = writeSyntheticGguf(spec, dir.file("7b.gguf"));
  WARN("7B synthetic: " << report.fileBytes / 1e9 << " GB, " << report.elements / 1e9 << " G elements in "
                        << report.seconds << " s");
  const GgufFile file = GgufFile::open(dir.file("7b.gguf"));
  CHECK(file.tensors().size() == spec.tensors.size());
}
