// Synthetic model files and the GGUF config reader: a config survives the trip through a
// GGUF file (llama, qwen2, Llama-3 RoPE scaling, a sliding window), the file carries what
// llama.cpp needs, missing keys and oversized dimensions give clean errors before anything
// is sized from them, synthetic files too big for the disk or the memory budget are
// refused before writing, and synthetic magnitudes keep deep models finite.

#include "models/GgufConfig.h"
#include "models/TomlConfig.h"
#include "runtime/synth/ModelSynth.h"
#include "support/FormatBytes.h"
#include "tests/runtime/gguf/GgufTestSupport.h"
#include "tests/runtime/reference/ReferenceTestSupport.h"

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>

using namespace reel;
using namespace reel::decode;
using namespace reel::reference;
using namespace reel::test;
using Catch::Matchers::Contains;

namespace {

void checkSameConfig(const models::ModelConfig& expected, const models::ModelConfig& actual) {
  CHECK(actual.name == expected.name);
  CHECK(actual.architecture == expected.architecture);
  CHECK(actual.vocabSize == expected.vocabSize);
  CHECK(actual.hiddenSize == expected.hiddenSize);
  CHECK(actual.intermediateSize == expected.intermediateSize);
  CHECK(actual.numLayers == expected.numLayers);
  CHECK(actual.numHeads == expected.numHeads);
  CHECK(actual.numKvHeads == expected.numKvHeads);
  CHECK(actual.headDim == expected.headDim);
  CHECK(actual.maxContext == expected.maxContext);
  CHECK(actual.rmsNormEps == expected.rmsNormEps);
  CHECK(actual.ropeTheta == expected.ropeTheta);
  CHECK(actual.ropeStyle == expected.ropeStyle);
  CHECK(actual.tieEmbeddings == expected.tieEmbeddings);
  CHECK(actual.qkvBias == expected.qkvBias);
  CHECK(actual.slidingWindow == expected.slidingWindow);
  REQUIRE(actual.ropeScaling.has_value() == expected.ropeScaling.has_value());
  if (expected.ropeScaling) {
    CHECK(actual.ropeScaling->factor == expected.ropeScaling->factor);
    CHECK(actual.ropeScaling->lowFreqFactor == expected.ropeScaling->lowFreqFactor);
    CHECK(actual.ropeScaling->highFreqFactor == expected.ropeScaling->highFreqFactor);
    CHECK(actual.ropeScaling->originalContext == expected.ropeScaling->originalContext);
  }
}

/// Decodes a few tokens through the compiled model; every logit must be finite.
void expectFiniteDecode(const models::ModelConfig& config, const synth::OpenWeights& weights) {
  std::unique_ptr<ir::Module> module =
      compileModule(config, *weights.source, {"specialize-buckets,select-precision", {1, 2}, 4});
  DecodeOptions options;
  options.keepLogits = true;
  const DecodeReport report = runGreedyDecode(findStepGraphs(*module), *weights.source,
                                              {staggeredPrompts(2, config.vocabSize), 3, {}}, options);
  for (const SequenceOutput& sequence : report.sequences)
    for (const std::vector<float>& logits : sequence.logits) {
      for (float value : logits) REQUIRE(std::isfinite(value));
      CHECK(topTwoMargin(logits) >= 0.0);
      CHECK(rms(logits) > 0.05);
    }
}

models::ModelConfig variant(const std::string& name) {
  models::ModelConfig config = tinyConfig();
  config.name = name;
  config.source.clear();
  return config;
}

}  // namespace

TEST_CASE("a synthetic GGUF file carries the config and what llama.cpp needs", "[synth][gguf]") {
  const models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = syntheticWeights(config);
  const GgufMetadata& metadata = weights.file->metadata();
  CHECK(metadata.entries().front().key == "general.architecture");
  CHECK(metadata.getString("general.architecture") == "llama");
  CHECK(metadata.getString("tokenizer.ggml.model") == "no_vocab");
  CHECK(metadata.getU32("llama.vocab_size") == 1024);
  CHECK(metadata.getU32("general.alignment") == 32);
  CHECK(metadata.getU32("general.file_type") == 15);
  CHECK(metadata.getU32("llama.rope.dimension_count") == 32);
  CHECK(!metadata.contains("llama.attention.key_length"));  // head_dim = hidden / heads
  CHECK(weights.file->tensor("output.weight").type == quant::QType::Q6_K);
  CHECK(weights.file->tensor("blk.0.ffn_gate.weight").type == quant::QType::Q4_K);
  CHECK(weights.file->tensor("blk.0.ffn_gate.weight").ne[0] == 256);  // ne[0] = row length
  CHECK(weights.file->tensor("blk.0.ffn_gate.weight").ne[1] == 512);
  CHECK(weights.file->tensor("blk.1.attn_norm.weight").type == quant::QType::F32);
  checkSameConfig(config, models::configFromGguf(*weights.file));
}

TEST_CASE("configs survive a trip through GGUF: qwen2, llama3 scaling, sliding window", "[synth][gguf]") {
  models::ModelConfig config = variant("tiny-qwen2");
  SECTION("qwen2: neox rope, qkv biases, tied embeddings") {
    setQwen2Traits(config);
  }
  SECTION("llama3 rope scaling, head_dim != hidden / heads") {
    config.name = "tiny-llama3";
    config.headDim = 64;
    config.ropeTheta = 500000.0;
    config.ropeScaling = models::Llama3RopeScaling{32.0, 1.0, 4.0, 64};
  }
  SECTION("mistral: a sliding window") {
    config.name = "tiny-mistral";
    config.architecture = "mistral";
    config.slidingWindow = 3;
  }
  config.finalize();
  const synth::OpenWeights& weights = syntheticWeights(config);
  checkSameConfig(config, models::configFromGguf(*weights.file));
  if (config.ropeScaling) {
    CHECK(weights.file->tensor("rope_freqs.weight").ne[0] == 32);
    CHECK(weights.file->metadata().getU32("llama.attention.key_length") == 64);
  }
  if (config.architecture == "qwen2") {
    CHECK(weights.file->metadata().getString("general.architecture") == "qwen2");
    CHECK(weights.file->findTensor("output.weight") == nullptr);
  }
  expectFiniteDecode(config, weights);
}

TEST_CASE("a .gguf path is a model once the reader is registered", "[synth][gguf]") {
  TempDir dir;
  const auto path = dir.file("tiny.gguf");
  synth::writeSyntheticModel(tinyConfig(), {models::QuantScheme::Q8_0, 7, 2}, path);
  const models::ModelConfig config = models::loadModelConfig(path.string());
  CHECK(config.name == "tiny");
  CHECK(config.source == path.string());
  CHECK(GgufFile::open(path).tensor("blk.0.attn_q.weight").type == quant::QType::Q8_0);
}

TEST_CASE("GGUF config errors are one line naming the file and the key", "[synth][gguf]") {
  GgufMetadata metadata;
  metadata.set("general.architecture", "llama");
  metadata.set("llama.embedding_length", uint32_t{256});
  const GgufFile file = GgufFile::fromMemory(serializeGguf(metadata, {}), "m.gguf");
  CHECK_THROWS_WITH(models::configFromGguf(file),
                    Contains("m.gguf: missing GGUF metadata key 'llama.vocab_size' (needed for the model config)"));

  metadata.set("llama.vocab_size", uint32_t{64});
  CHECK_THROWS_WITH(models::configFromGguf(GgufFile::fromMemory(serializeGguf(metadata, {}), "m.gguf")),
                    Contains("missing GGUF metadata key 'llama.feed_forward_length'"));

  metadata.set("general.architecture", "gpt2");
  CHECK_THROWS_WITH(models::configFromGguf(GgufFile::fromMemory(serializeGguf(metadata, {}), "m.gguf")),
                    Contains("m.gguf: architecture 'gpt2' is not supported (expected llama or qwen2)"));
}

TEST_CASE("synthetic magnitudes keep 22 layers finite", "[synth][deep]") {
  models::ModelConfig config = variant("tiny-deep");
  config.numLayers = 22;
  const synth::OpenWeights& weights = syntheticWeights(config);
  expectFiniteDecode(config, weights);
}

// Opt-in (hidden tag; run with `reel_reference_tests "[.tinyllama]"`): the real TinyLlama
// shape, 22 layers of 2048, ~0.6 GB of synthetic Q4_K_M weights.
TEST_CASE("synthetic TinyLlama decodes finite, varied logits", "[.tinyllama]") {
  const models::ModelConfig config = models::loadModelConfig("tinyllama-1.1b");
  const synth::OpenWeights& weights = syntheticWeights(config);
  expectFiniteDecode(config, weights);
}

namespace {

/// The metadata of a small llama GGUF header (tiny's sizes), to which a test adds a bad key.
GgufMetadata tinyGgufMetadata() {
  GgufMetadata metadata;
  metadata.set("general.architecture", "llama");
  metadata.set("llama.vocab_size", uint32_t{64});
  metadata.set("llama.embedding_length", uint32_t{256});
  metadata.set("llama.feed_forward_length", uint32_t{512});
  metadata.set("llama.block_count", uint32_t{2});
  metadata.set("llama.attention.head_count", uint32_t{8});
  metadata.set("llama.context_length", uint32_t{512});
  metadata.set("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  return metadata;
}

/// configFromGguf's error for a header of `metadata` with a rope_freqs.weight tensor (which
/// makes the reader compute the expected RoPE factors from the head dimension).
std::string ggufConfigError(const GgufMetadata& metadata) {
  const std::vector<GgufTensorBlob> tensors{patternTensor("rope_freqs.weight", quant::QType::F32, {16})};
  const std::vector<uint8_t> bytes = serializeGguf(metadata, tensors);
  CHECK(bytes.size() < 1024);
  try {
    (void)models::configFromGguf(GgufFile::fromMemory(bytes, "m.gguf"));
  } catch (const Error& error) {
    return error.what();
  }
  return "<no error>";
}

/// What "fails fast" allows: refusing is planning alone (no tensor data), which takes about
/// 0.1 s for the largest config; sanitizer builds run it about ten times slower.
#if defined(__SANITIZE_ADDRESS__)
constexpr double kFastSeconds = 10.0;
#else
constexpr double kFastSeconds = 1.0;
#endif

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("a GGUF header's sizes are checked before anything is sized from them", "[synth][gguf]") {
  const auto start = std::chrono::steady_clock::now();
  GgufMetadata metadata = tinyGgufMetadata();
  metadata.set("llama.attention.key_length", uint32_t{1} << 21);
  CHECK(ggufConfigError(metadata) == "m.gguf: 'llama.attention.key_length' must be at most 1024, got 2097152");
  metadata.set("llama.attention.key_length", uint32_t{4294967294u});  // 8 GB of factors if sized first
  CHECK(ggufConfigError(metadata) == "m.gguf: 'llama.attention.key_length' must be at most 1024, got 4294967294");

  metadata = tinyGgufMetadata();
  metadata.set("llama.embedding_length", uint32_t{1} << 30);
  metadata.set("llama.attention.head_count", uint32_t{1});
  CHECK(ggufConfigError(metadata) == "m.gguf: 'llama.embedding_length' must be at most 65536, got 1073741824");

  metadata = tinyGgufMetadata();
  metadata.set("llama.attention.head_count_kv", uint32_t{3});
  CHECK(ggufConfigError(metadata) ==
        "m.gguf: 'llama.attention.head_count_kv' (3) must divide 'llama.attention.head_count' (8)");
  CHECK(secondsSince(start) < kFastSeconds);
}

TEST_CASE("the synthetic file's size is known before it is written", "[synth][gguf]") {
  TempDir dir;
  models::ModelConfig config = variant("tiny-size");
  SECTION("plain") {}
  SECTION("with rope_freqs.weight") {
    config.ropeScaling = models::Llama3RopeScaling{32.0, 1.0, 4.0, 64};
  }
  const synth::SynthOptions options{models::QuantScheme::Q8_0, 1, 2};
  const uint64_t planned = synth::syntheticModelBytes(config, options);
  const SynthReport report = synth::writeSyntheticModel(config, options, dir.file("m.gguf"));
  CHECK(planned == report.fileBytes);
  CHECK(planned == std::filesystem::file_size(dir.file("m.gguf")));
}

TEST_CASE("synthetic weights over the memory budget or the free disk are refused before writing", "[synth][gguf]") {
  TempDir dir;
  const auto path = dir.file("m.gguf");
  const synth::SynthOptions options{models::QuantScheme::Q8_0, 0, 2};
  const uint64_t bytes = synth::syntheticModelBytes(tinyConfig(), options);
  CHECK_THROWS_WITH(synth::writeSyntheticModel(tinyConfig(), options, path, 1000),
                    fmt::format("{}: synthetic q8_0 weights of tiny need {} ({} bytes), over the memory budget of "
                                "1.0 kB (1000 bytes)",
                                path.string(), support::formatBytes(static_cast<double>(bytes)), bytes));
  CHECK_FALSE(std::filesystem::exists(path));

  // One byte more than the directory has free.
  const uint64_t available = std::filesystem::space(dir.file("")).available;
  CHECK_THROWS_WITH(synth::requireRoomForSynthetic(tinyConfig(), options, available + 1, path),
                    Contains(fmt::format("need {} ({} bytes), but {} has only", support::formatBytes(available + 1.0),
                                         available + 1, path.parent_path().string())));
  CHECK_NOTHROW(synth::requireRoomForSynthetic(tinyConfig(), options, 1, path));
}

TEST_CASE("a TOML config of huge dimensions fails fast and writes nothing", "[synth][gguf]") {
  // Within every size bound, but about 43 TB of Q4_K_M weights.
  const models::ModelConfig config = models::readTomlConfig(R"([model]
name = "huge"
architecture = "llama"
vocab_size = 4194304
hidden_size = 65536
intermediate_size = 262144
num_layers = 1024
num_heads = 64
num_kv_heads = 64
max_context = 16777216
rms_norm_eps = 1e-5
rope_theta = 10000.0
tie_embeddings = false
qkv_bias = false
)",
                                                            "huge.toml");
  TempDir dir;
  auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(synth::writeSyntheticModel(config, {}, dir.file("huge.gguf")),
                    Contains("synthetic q4_k_m weights of huge need") && Contains("free"));
  CHECK(secondsSince(start) < kFastSeconds);
  start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(synth::openSyntheticWeights(config, {}), Contains("over the memory budget"));
  CHECK(secondsSince(start) < kFastSeconds);
  CHECK(std::filesystem::is_empty(dir.file("")));
}
