// ModelConfig::validate(), parameterCount() and the quantization scheme names.
#include "ConfigTestSupport.h"
#include "models/ModelConfig.h"
#include "models/QuantPolicy.h"

#include <cmath>
#include <limits>

namespace reel::models {
namespace {

using test::errorMessage;

/// The bundled "tiny" model, built in code.
ModelConfig tinyConfig() {
  ModelConfig config;
  config.name = "tiny";
  config.architecture = "llama";
  config.source = "m.toml";
  config.vocabSize = 1024;
  config.hiddenSize = 256;
  config.intermediateSize = 512;
  config.numLayers = 2;
  config.numHeads = 8;
  config.numKvHeads = 2;
  config.headDim = 32;
  config.maxContext = 512;
  return config;
}

/// The message validate() gives for tinyConfig() after `edit`.
template <typename Edit>
std::string validationError(Edit&& edit) {
  ModelConfig config = tinyConfig();
  edit(config);
  return errorMessage([&] { config.validate(); });
}

TEST_CASE("A consistent config validates", "[models][config]") {
  ModelConfig config = tinyConfig();
  CHECK_NOTHROW(config.validate());
  config.headDim = 0;  // derived: 256 / 8 = 32
  CHECK_NOTHROW(config.validate());
  config.ropeScaling = Llama3RopeScaling{};
  config.slidingWindow = 128;
  CHECK_NOTHROW(config.validate());
}

TEST_CASE("finalize() fills a missing head_dim", "[models][config]") {
  ModelConfig config = tinyConfig();
  config.headDim = 0;
  config.finalize();
  CHECK(config.headDim == 32);

  config.headDim = 64;  // a given head_dim is kept, even if not hidden / heads
  config.finalize();
  CHECK(config.headDim == 64);
}

TEST_CASE("validate() names the file and the field", "[models][config]") {
  CHECK(validationError([](ModelConfig& c) { c.numHeads = 0; }) ==
        "m.toml: 'num_heads' must be a positive integer, got 0");
  CHECK(validationError([](ModelConfig& c) { c.vocabSize = -5; }) ==
        "m.toml: 'vocab_size' must be a positive integer, got -5");
  CHECK(validationError([](ModelConfig& c) { c.maxContext = 0; }) ==
        "m.toml: 'max_context' must be a positive integer, got 0");
  CHECK(validationError([](ModelConfig& c) { c.name.clear(); }) == "m.toml: 'name' must not be empty");
  CHECK(validationError([](ModelConfig& c) { c.name = "a\nb"; }) ==
        "m.toml: 'name' must not contain control characters");
  CHECK(validationError([](ModelConfig& c) { c.architecture = "gpt2"; }) ==
        "m.toml: 'architecture' must be one of \"llama\", \"qwen2\", \"mistral\", got \"gpt2\"");
}

TEST_CASE("validate() checks the attention shape", "[models][config]") {
  CHECK(validationError([](ModelConfig& c) { c.numKvHeads = 3; }) ==
        "m.toml: 'num_kv_heads' (3) must divide 'num_heads' (8)");
  CHECK(validationError([](ModelConfig& c) {
          c.headDim = 0;
          c.hiddenSize = 250;
        }) == "m.toml: 'hidden_size' (250) must be divisible by 'num_heads' (8) when 'head_dim' is not given");
  CHECK(validationError([](ModelConfig& c) {
          c.headDim = 0;
          c.hiddenSize = 264;  // 264 / 8 = 33
        }) == "m.toml: 'hidden_size' / 'num_heads' gives head dimension 33, which must be even (rotary embeddings)");
  CHECK(validationError([](ModelConfig& c) { c.headDim = 33; }) ==
        "m.toml: 'head_dim' must be even (rotary embeddings rotate pairs), got 33");
  CHECK(validationError([](ModelConfig& c) { c.headDim = -2; }) ==
        "m.toml: 'head_dim' must be a positive integer, got -2");
}

TEST_CASE("validate() bounds sizes so later products cannot overflow", "[models][config]") {
  CHECK(validationError([](ModelConfig& c) { c.hiddenSize = (int64_t{1} << 16) + 256; }) ==
        "m.toml: 'hidden_size' must be at most 65536, got 65792");
  CHECK(validationError([](ModelConfig& c) { c.intermediateSize = std::numeric_limits<int64_t>::max(); }) ==
        "m.toml: 'intermediate_size' must be at most 262144, got 9223372036854775807");
  CHECK(validationError([](ModelConfig& c) { c.intermediateSize = int64_t{1} << 19; }) ==
        "m.toml: 'intermediate_size' must be at most 262144, got 524288");
  CHECK(validationError([](ModelConfig& c) { c.numLayers = 1025; }) ==
        "m.toml: 'num_layers' must be at most 1024, got 1025");
  CHECK(validationError([](ModelConfig& c) { c.vocabSize = (int64_t{1} << 22) + 1; }) ==
        "m.toml: 'vocab_size' must be at most 4194304, got 4194305");
  CHECK(validationError([](ModelConfig& c) { c.maxContext = int64_t{1} << 30; }) ==
        "m.toml: 'max_context' must be at most 16777216, got 1073741824");
  CHECK(validationError([](ModelConfig& c) { c.numHeads = c.numKvHeads = 2048; }) ==
        "m.toml: 'num_heads' must be at most 1024, got 2048");
  CHECK(validationError([](ModelConfig& c) { c.numKvHeads = 4096; }) ==
        "m.toml: 'num_kv_heads' must be at most 1024, got 4096");
  CHECK(validationError([](ModelConfig& c) { c.headDim = int64_t{1} << 21; }) ==
        "m.toml: 'head_dim' must be at most 1024, got 2097152");
  CHECK(validationError([](ModelConfig& c) {
          c.numHeads = c.numKvHeads = 256;
          c.headDim = 1024;
        }) == "m.toml: 'num_heads' times the head dimension must be at most 131072, got 256 * 1024");
  // A head dimension derived from hidden_size / num_heads is bounded as a given one is.
  CHECK(validationError([](ModelConfig& c) {
          c.headDim = 0;
          c.hiddenSize = 65536;
          c.numHeads = c.numKvHeads = 32;
        }) == "m.toml: 'hidden_size' / 'num_heads' gives head dimension 2048, which must be at most 1024");
  // The largest config within every bound still counts its parameters without overflow.
  ModelConfig largest = tinyConfig();
  largest.hiddenSize = int64_t{1} << 16;
  largest.intermediateSize = int64_t{1} << 18;
  largest.numLayers = 1024;
  largest.vocabSize = int64_t{1} << 22;
  largest.numHeads = largest.numKvHeads = 128;
  largest.headDim = 1024;
  REQUIRE_NOTHROW(largest.validate());
  CHECK(largest.parameterCount() > int64_t{1} << 45);
  CHECK(largest.parameterCount() < int64_t{1} << 47);
}

TEST_CASE("validate() checks norms, rope and the sliding window", "[models][config]") {
  CHECK(validationError([](ModelConfig& c) { c.rmsNormEps = 0; }) ==
        "m.toml: 'rms_norm_eps' must be a positive number, got 0");
  CHECK(validationError([](ModelConfig& c) { c.ropeTheta = std::nan(""); }) ==
        "m.toml: 'rope_theta' must be a positive number, got nan");
  CHECK(validationError([](ModelConfig& c) { c.ropeTheta = std::numeric_limits<double>::infinity(); }) ==
        "m.toml: 'rope_theta' must be a positive number, got inf");
  CHECK(validationError([](ModelConfig& c) {
          c.ropeScaling = Llama3RopeScaling{-1.0, 1.0, 4.0, 8192};
        }) == "m.toml: 'rope_scaling.factor' must be a positive number, got -1");
  CHECK(validationError([](ModelConfig& c) {
          c.ropeScaling = Llama3RopeScaling{8.0, 4.0, 1.0, 8192};
        }) == "m.toml: 'rope_scaling.high_freq_factor' (1) must be greater than 'rope_scaling.low_freq_factor' (4)");
  CHECK(validationError([](ModelConfig& c) {
          c.ropeScaling = Llama3RopeScaling{8.0, 1.0, 4.0, 0};
        }) == "m.toml: 'rope_scaling.original_context' must be a positive integer, got 0");
  CHECK(validationError([](ModelConfig& c) { c.slidingWindow = 0; }) ==
        "m.toml: 'sliding_window' must be a positive integer, got 0");
}

TEST_CASE("validate() without a source still names something", "[models][config]") {
  CHECK(validationError([](ModelConfig& c) {
          c.source.clear();
          c.numLayers = 0;
        }) == "<model config>: 'num_layers' must be a positive integer, got 0");
}

TEST_CASE("validate(locator) spells and places fields as the reader says", "[models][config]") {
  ModelConfig config = tinyConfig();
  config.numKvHeads = 3;
  FieldLocator locate = [](ConfigField field) {
    return FieldOrigin{std::string("x_") + tomlKeyOf(field), SourceLoc{"f.json", 4, 2}};
  };
  CHECK(errorMessage([&] { config.validate(locate); }) ==
        "f.json:4:2: 'x_num_kv_heads' (3) must divide 'x_num_heads' (8)");
}

TEST_CASE("parameterCount() counts every weight", "[models][config]") {
  ModelConfig config = tinyConfig();
  // embeddings 2 * 1024 * 256; per layer: q 256*256, k and v 256*64, o 256*256,
  // ffn 3 * 256 * 512, two norms 2 * 256; final norm 256.
  const int64_t perLayer = 65536 + 2 * 16384 + 65536 + 393216 + 512;
  CHECK(config.parameterCount() == 2 * 1024 * 256 + 2 * perLayer + 256);

  config.tieEmbeddings = true;
  CHECK(config.parameterCount() == 1024 * 256 + 2 * perLayer + 256);

  config.qkvBias = true;  // + q, k, v biases: 256 + 64 + 64 per layer
  CHECK(config.parameterCount() == 1024 * 256 + 2 * (perLayer + 384) + 256);
}

TEST_CASE("Quantization schemes parse and print", "[models][config]") {
  for (QuantScheme scheme : {QuantScheme::Q4_K_M, QuantScheme::Q4_K, QuantScheme::Q8_0, QuantScheme::F16,
                             QuantScheme::Q4_0, QuantScheme::Q5_K_M, QuantScheme::BF16})
    CHECK(parseQuantScheme(quantSchemeName(scheme)) == scheme);
  CHECK(parseQuantScheme("Q5_K_M") == QuantScheme::Q5_K_M);
  CHECK(parseQuantScheme("q4_0") == QuantScheme::Q4_0);
  CHECK(std::string(quantSchemeName(QuantScheme::Q4_K_M)) == "q4_k_m");
  CHECK(std::string(quantSchemeName(QuantScheme::Q8_0)) == "q8_0");
  CHECK(parseQuantScheme("Q4_K_M") == QuantScheme::Q4_K_M);
  CHECK(parseQuantScheme("F16") == QuantScheme::F16);
  CHECK_FALSE(parseQuantScheme("q5_k").has_value());
  CHECK_FALSE(parseQuantScheme("").has_value());
  CHECK_FALSE(parseQuantScheme("q4_k_m ").has_value());
}

TEST_CASE("q5_k_m and q4_0 place weight types as llama.cpp does", "[models][config]") {
  using ir::ElemType;
  ModelConfig config = tinyConfig();
  config.numLayers = 32;  // more bits in layers 0..3, 28..31 and every third between (6, 9, ...)
  const auto type = [&](QuantScheme scheme, WeightRole role, int64_t layer, int64_t rowLength = 4096) {
    return weightType(config, scheme, {role, layer, rowLength});
  };
  CHECK(type(QuantScheme::Q5_K_M, WeightRole::AttnQ, 5) == ElemType::Q5_K);
  CHECK(type(QuantScheme::Q5_K_M, WeightRole::FfnGate, 0) == ElemType::Q5_K);
  CHECK(type(QuantScheme::Q5_K_M, WeightRole::AttnV, 0) == ElemType::Q6_K);
  CHECK(type(QuantScheme::Q5_K_M, WeightRole::FfnDown, 6) == ElemType::Q6_K);
  CHECK(type(QuantScheme::Q5_K_M, WeightRole::FfnDown, 7) == ElemType::Q5_K);
  CHECK(type(QuantScheme::Q5_K_M, WeightRole::Output, -1) == ElemType::Q6_K);
  CHECK(type(QuantScheme::Q5_K_M, WeightRole::TokenEmbd, -1) == ElemType::Q5_K);
  CHECK(type(QuantScheme::Q5_K_M, WeightRole::Norm, 3) == ElemType::F32);
  // Rows that are not whole super-blocks (Qwen2.5-0.5B's 896): Q5_K -> Q5_1, Q6_K -> Q8_0, as
  // llama.cpp's quantizer writes them; Q4_K_M's Q4_K -> Q5_0.
  CHECK(type(QuantScheme::Q5_K_M, WeightRole::AttnQ, 5, 896) == ElemType::Q5_1);
  CHECK(type(QuantScheme::Q5_K_M, WeightRole::FfnDown, 7, 896) == ElemType::Q5_1);
  CHECK(type(QuantScheme::Q5_K_M, WeightRole::AttnV, 0, 896) == ElemType::Q8_0);
  CHECK(type(QuantScheme::Q5_K_M, WeightRole::Output, -1, 896) == ElemType::Q8_0);
  CHECK(type(QuantScheme::Q4_K_M, WeightRole::AttnQ, 5, 896) == ElemType::Q5_0);

  CHECK(type(QuantScheme::BF16, WeightRole::Output, -1) == ElemType::BF16);
  CHECK(type(QuantScheme::BF16, WeightRole::Bias, 1) == ElemType::F32);
  CHECK(type(QuantScheme::Q4_0, WeightRole::AttnV, 0) == ElemType::Q4_0);
  CHECK(type(QuantScheme::Q4_0, WeightRole::FfnDown, 9, 896) == ElemType::Q4_0);
  CHECK(type(QuantScheme::Q4_0, WeightRole::TokenEmbd, -1) == ElemType::Q4_0);
  CHECK(type(QuantScheme::Q4_0, WeightRole::Output, -1) == ElemType::Q6_K);
  config.tieEmbeddings = true;  // the tied table is the output matrix
  CHECK(type(QuantScheme::Q4_0, WeightRole::TokenEmbd, -1) == ElemType::Q6_K);
  CHECK(type(QuantScheme::Q5_K_M, WeightRole::TokenEmbd, -1) == ElemType::Q6_K);
}

}  // namespace
}  // namespace reel::models
