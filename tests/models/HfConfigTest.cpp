// Hugging Face config.json: the mapping of llama, qwen2 and mistral configs, and errors.
#include "ConfigTestSupport.h"
#include "models/HfConfig.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <string>

namespace reel::models {
namespace {

using test::errorMessage;
using test::inputPath;

std::string readFixture(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

ModelConfig readFixtureConfig(const std::string& directory) {
  std::string path = inputPath(directory + "/config.json");
  return readHfConfig(readFixture(path), path);
}

using Json = nlohmann::json;

/// A minimal llama config.json (Llama 2 7B's sizes).
Json llamaJson() {
  return Json{{"model_type", "llama"},           {"vocab_size", 32000},     {"hidden_size", 4096},
              {"intermediate_size", 11008},      {"num_hidden_layers", 32}, {"num_attention_heads", 32},
              {"max_position_embeddings", 4096}, {"rms_norm_eps", 1e-5}};
}

/// A minimal qwen2 config.json (Qwen2.5 0.5B's sizes).
Json qwenJson() {
  return Json{{"model_type", "qwen2"},    {"vocab_size", 151936},
              {"hidden_size", 896},       {"intermediate_size", 4864},
              {"num_hidden_layers", 24},  {"num_attention_heads", 14},
              {"num_key_value_heads", 2}, {"max_position_embeddings", 32768},
              {"rms_norm_eps", 1e-6},     {"rope_theta", 1e6}};
}

/// `base` with the keys of `changes` set (a null value sets null), as text.
std::string with(Json base, const Json& changes) {
  for (const auto& [key, value] : changes.items()) base[key] = value;
  return base.dump();
}

/// with(), the changes written as JSON text.
std::string patched(const Json& base, std::string_view changes) {
  return with(base, Json::parse(changes));
}

ModelConfig readJson(const std::string& text) {
  return readHfConfig(text, "models/m/config.json");
}

std::string jsonError(const std::string& text) {
  return errorMessage([&] { readHfConfig(text, "f.json"); });
}

TEST_CASE("Llama 2 config.json", "[models][hf]") {
  ModelConfig config = readFixtureConfig("hf-llama-2-7b");
  CHECK(config.name == "Llama-2-7b-hf");  // from _name_or_path
  CHECK(config.architecture == "llama");
  CHECK(config.source == inputPath("hf-llama-2-7b/config.json"));
  CHECK(config.vocabSize == 32000);
  CHECK(config.hiddenSize == 4096);
  CHECK(config.intermediateSize == 11008);
  CHECK(config.numLayers == 32);
  CHECK(config.numHeads == 32);
  CHECK(config.numKvHeads == 32);
  CHECK(config.headDim == 128);
  CHECK(config.maxContext == 4096);
  CHECK(config.rmsNormEps == 1e-5);
  CHECK(config.ropeTheta == 10000.0);  // absent: the default
  CHECK(config.ropeStyle == RopeStyle::Norm);
  CHECK_FALSE(config.ropeScaling.has_value());  // null
  CHECK_FALSE(config.tieEmbeddings);
  CHECK_FALSE(config.qkvBias);
  CHECK_FALSE(config.slidingWindow.has_value());
}

TEST_CASE("Llama 3.2 config.json with llama3 rope scaling", "[models][hf]") {
  ModelConfig config = readFixtureConfig("hf-llama-3.2-1b");
  CHECK(config.name == "hf-llama-3.2-1b");  // no _name_or_path: the directory's name
  CHECK(config.numKvHeads == 8);
  CHECK(config.headDim == 64);
  CHECK(config.maxContext == 131072);
  CHECK(config.ropeTheta == 500000.0);
  CHECK(config.tieEmbeddings);
  REQUIRE(config.ropeScaling.has_value());
  CHECK(config.ropeScaling->factor == 32.0);
  CHECK(config.ropeScaling->lowFreqFactor == 1.0);
  CHECK(config.ropeScaling->highFreqFactor == 4.0);
  CHECK(config.ropeScaling->originalContext == 8192);
}

TEST_CASE("Qwen2.5 config.json", "[models][hf]") {
  ModelConfig config = readFixtureConfig("hf-qwen2.5-0.5b");
  CHECK(config.architecture == "qwen2");
  CHECK(config.hiddenSize == 896);
  CHECK(config.numHeads == 14);
  CHECK(config.numKvHeads == 2);
  CHECK(config.headDim == 64);
  CHECK(config.rmsNormEps == 1e-6);
  CHECK(config.ropeTheta == 1e6);
  CHECK(config.ropeStyle == RopeStyle::Neox);
  CHECK(config.qkvBias);
  CHECK(config.tieEmbeddings);
  CHECK_FALSE(config.slidingWindow.has_value());  // use_sliding_window is false
}

TEST_CASE("Mistral config.json", "[models][hf]") {
  ModelConfig config = readFixtureConfig("hf-mistral-7b-v0.1");
  CHECK(config.architecture == "mistral");
  CHECK(config.intermediateSize == 14336);
  CHECK(config.numKvHeads == 8);
  CHECK(config.maxContext == 32768);
  CHECK(config.ropeStyle == RopeStyle::Norm);
  CHECK_FALSE(config.qkvBias);
  CHECK(config.slidingWindow == 4096);
}

TEST_CASE("config.json defaults and nulls", "[models][hf]") {
  ModelConfig config =
      readJson(patched(llamaJson(), R"({"num_key_value_heads": null, "head_dim": null, "rope_scaling": null})"));
  CHECK(config.numKvHeads == 32);
  CHECK(config.headDim == 128);
  CHECK_FALSE(config.ropeScaling.has_value());
  CHECK_FALSE(config.tieEmbeddings);

  CHECK(readJson(patched(llamaJson(), R"({"head_dim": 256})")).headDim == 256);
  CHECK(readJson(patched(llamaJson(), R"({"rope_theta": 500000})")).ropeTheta == 500000.0);
  CHECK(readJson(patched(llamaJson(), R"({"rope_scaling": {"rope_type": "default"}})")).ropeScaling == std::nullopt);

  ModelConfig mistral = readJson(with(llamaJson(), {{"model_type", "mistral"}, {"sliding_window", nullptr}}));
  CHECK(mistral.architecture == "mistral");
  CHECK_FALSE(mistral.slidingWindow.has_value());
}

TEST_CASE("The model name comes from _name_or_path or the directory", "[models][hf]") {
  CHECK(readJson(patched(llamaJson(), R"({"_name_or_path": "meta-llama/Llama-2-7b-hf"})")).name == "Llama-2-7b-hf");
  CHECK(readJson(patched(llamaJson(), R"({"_name_or_path": "/data/models/my-llama/"})")).name == "my-llama");
  CHECK(readJson(patched(llamaJson(), R"({"_name_or_path": ""})")).name == "m");
  CHECK(readJson(llamaJson().dump()).name == "m");
  CHECK(readHfConfig(llamaJson().dump(), "./x/../y/config.json").name == "y");
}

TEST_CASE("transformers v5 rope_parameters", "[models][hf]") {
  ModelConfig plain =
      readJson(patched(llamaJson(), R"({"rope_parameters": {"rope_theta": 500000.0, "rope_type": "default"}})"));
  CHECK(plain.ropeTheta == 500000.0);
  CHECK_FALSE(plain.ropeScaling.has_value());

  ModelConfig scaled = readJson(
      patched(llamaJson(), R"({"rope_parameters": {"rope_theta": 500000.0, "rope_type": "llama3", "factor": 32.0,
          "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}})"));
  REQUIRE(scaled.ropeScaling.has_value());
  CHECK(scaled.ropeScaling->factor == 32.0);
  CHECK(scaled.ropeScaling->originalContext == 8192);

  CHECK(jsonError(
            patched(llamaJson(), R"({"rope_parameters": {"rope_type": "llama3", "factor": -1.0, "low_freq_factor": 1.0,
          "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}})")) ==
        "f.json: 'rope_parameters.factor' must be a positive number, got -1");
}

TEST_CASE("Qwen2's sliding window applies only when every layer slides", "[models][hf]") {
  CHECK_FALSE(readJson(patched(qwenJson(), R"({"use_sliding_window": false, "sliding_window": 4096})")).slidingWindow);
  CHECK_FALSE(
      readJson(patched(qwenJson(), R"({"use_sliding_window": true, "sliding_window": 4096, "max_window_layers": 24})"))
          .slidingWindow);
  CHECK(readJson(patched(qwenJson(), R"({"use_sliding_window": true, "sliding_window": 4096, "max_window_layers": 0})"))
            .slidingWindow == 4096);
  CHECK(jsonError(
            patched(qwenJson(), R"({"use_sliding_window": true, "sliding_window": 4096, "max_window_layers": 21})")) ==
        "f.json: key 'max_window_layers': sliding attention in layers 21 and up only is not supported (reel slides "
        "all layers or none)");
  CHECK_FALSE(
      readJson(patched(qwenJson(), R"({"layer_types": ["full_attention", "full_attention"], "sliding_window": 9})"))
          .slidingWindow);
  CHECK(readJson(patched(qwenJson(), R"({"layer_types": ["sliding_attention"], "sliding_window": 9})")).slidingWindow ==
        9);
  CHECK(jsonError(
            patched(qwenJson(), R"({"layer_types": ["sliding_attention", "full_attention"], "sliding_window": 9})")) ==
        "f.json: key 'layer_types': mixes sliding and full attention layers, which reel does not support");
}

TEST_CASE("Malformed JSON gives line and column", "[models][hf]") {
  CHECK(jsonError("{\n  \"model_type\": \"llama\"\n  \"vocab_size\": 3\n}") ==
        "f.json:3:14: malformed JSON: syntax error while parsing object - unexpected string literal; expected '}'");
  CHECK(jsonError("") ==
        "f.json:1:1: malformed JSON: syntax error while parsing value - unexpected end of input; expected '[', '{', "
        "or a literal");
  CHECK(jsonError("[1, 2]") == "f.json: expected a JSON object at the top level, got array");
  CHECK(jsonError(R"({"rope_theta": 12e8000})") == "f.json: malformed JSON: number overflow parsing '12e8000'");
}

TEST_CASE("A key that appears twice in one object is an error naming it", "[models][hf]") {
  // The dump of llamaJson() is one object; a second "hidden_size" goes before its closing brace.
  std::string text = llamaJson().dump();
  text.insert(text.size() - 1, R"(,"hidden_size":8)");
  CHECK(jsonError(text) == "f.json: key 'hidden_size' appears twice; each key may appear once");
  // Nested objects name the key by its path; the same key in two objects is fine.
  CHECK(jsonError(R"({"rope_scaling": {"factor": 8.0, "factor": 32.0}})") ==
        "f.json: key 'rope_scaling.factor' appears twice; each key may appear once");
  CHECK(jsonError(R"({"a": [{"k": 1}, {"k": 2, "k": 3}]})") ==
        "f.json: key 'a.k' appears twice; each key may appear once");
  ModelConfig config = readJson(patched(llamaJson(), R"({"rope_scaling": {"rope_type": "llama3", "factor": 32.0,
      "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
      "extra": {"factor": 1}, "list": [{"factor": 1}, {"factor": 2}]})"));
  CHECK(config.ropeScaling->factor == 32.0);
}

TEST_CASE("A value of the wrong type names the key", "[models][hf]") {
  CHECK(jsonError(R"({"model_type": "llama", "num_attention_heads": "32"})") == "f.json: missing key 'vocab_size'");
  CHECK(jsonError(with(llamaJson(), {{"num_attention_heads", "32"}})) ==
        "f.json: key 'num_attention_heads': expected an integer, got string");
  CHECK(jsonError(patched(llamaJson(), R"({"num_key_value_heads": 8.5})")) ==
        "f.json: key 'num_key_value_heads': expected an integer, got floating-point number");
  CHECK(jsonError(patched(llamaJson(), R"({"num_key_value_heads": 18446744073709551615})")) ==
        "f.json: key 'num_key_value_heads': integer 18446744073709551615 is out of range");
  CHECK(jsonError(patched(llamaJson(), R"({"tie_word_embeddings": "yes"})")) ==
        "f.json: key 'tie_word_embeddings': expected true or false, got string");
  CHECK(jsonError(patched(llamaJson(), R"({"rope_theta": "big"})")) ==
        "f.json: key 'rope_theta': expected a number, got string");
  CHECK(jsonError(patched(llamaJson(), R"({"rope_scaling": [1]})")) ==
        "f.json: key 'rope_scaling': expected an object, got array");
  CHECK(jsonError(R"({"model_type": 7})") == "f.json: key 'model_type': expected a string, got integer");
  CHECK(jsonError(R"({"vocab_size": 7})") == "f.json: missing key 'model_type'");
}

TEST_CASE("Unsupported models and features are refused by name", "[models][hf]") {
  CHECK(jsonError(R"({"model_type": "gpt2", "n_embd": 768})") ==
        "f.json: key 'model_type': unsupported model type \"gpt2\" (reel reads llama, qwen2, mistral)");
  CHECK(jsonError(patched(llamaJson(), R"({"rope_scaling": {"type": "yarn", "factor": 4.0}})")) ==
        "f.json: key 'rope_scaling.type': unsupported rope_scaling type \"yarn\" (reel supports \"llama3\")");
  CHECK(jsonError(patched(llamaJson(), R"({"rope_scaling": {"rope_type": "dynamic", "factor": 4.0}})")) ==
        "f.json: key 'rope_scaling.rope_type': unsupported rope_scaling type \"dynamic\" (reel supports \"llama3\")");
  CHECK(jsonError(patched(llamaJson(), R"({"rope_scaling": {"factor": 4.0}})")) ==
        "f.json: key 'rope_scaling': has neither 'rope_type' nor 'type'");
  CHECK(jsonError(patched(llamaJson(), R"({"rope_scaling": {"rope_type": "llama3", "factor": 4.0}})")) ==
        "f.json: missing key 'rope_scaling.low_freq_factor'");
  CHECK(jsonError(patched(llamaJson(), R"({"hidden_act": "gelu"})")) ==
        "f.json: key 'hidden_act': unsupported activation \"gelu\" (reel supports \"silu\")");
  CHECK(jsonError(patched(llamaJson(), R"({"attention_bias": true})")) ==
        "f.json: key 'attention_bias': biased attention projections are not supported for llama");
  CHECK(jsonError(patched(llamaJson(), R"({"mlp_bias": true})")) ==
        "f.json: key 'mlp_bias': biased MLP projections are not supported");
}

TEST_CASE("Inconsistent sizes are reported with config.json's key names", "[models][hf]") {
  CHECK(jsonError(patched(llamaJson(), R"({"num_key_value_heads": 5})")) ==
        "f.json: 'num_key_value_heads' (5) must divide 'num_attention_heads' (32)");
  CHECK(jsonError(with(llamaJson(), {{"num_attention_heads", 48}})) ==
        "f.json: 'hidden_size' (4096) must be divisible by 'num_attention_heads' (48) when 'head_dim' is not given");
  CHECK(jsonError(with(llamaJson(), {{"head_dim", 0}})) == "f.json: key 'head_dim': must be a positive integer, got 0");
  CHECK(jsonError(with(llamaJson(), {{"num_hidden_layers", 0}})) ==
        "f.json: 'num_hidden_layers' must be a positive integer, got 0");
  CHECK(
      jsonError(patched(llamaJson(), R"({"rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
          "high_freq_factor": 4.0, "original_max_position_embeddings": -1}})")) ==
      "f.json: 'rope_scaling.original_max_position_embeddings' must be a positive integer, got -1");
}

}  // namespace
}  // namespace reel::models
