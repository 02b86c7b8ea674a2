// loadModelConfig(): bundled names, files, directories, GGUF hook; and the bundled configs'
// published values. The bad-input fixtures in Inputs/ are checked here, message by message.
#include "ConfigTestSupport.h"
#include "models/ModelLoader.h"

#include <cmath>
#include <string>
#include <vector>

namespace reel::models {
namespace {

using test::errorMessage;
using test::inputPath;

std::string loadError(const std::string& modelArg) {
  return errorMessage([&] { loadModelConfig(modelArg); });
}

/// Published total parameter counts (embeddings included; tied ones once).
struct PublishedSize {
  const char* name;
  double parameters;
};

constexpr PublishedSize kPublishedSizes[] = {
    {"llama-2-7b", 6.74e9},     {"llama-3-8b", 8.03e9},      {"llama-3.2-1b", 1.24e9},
    {"tinyllama-1.1b", 1.10e9}, {"qwen2.5-0.5b", 0.494e9},   {"qwen2.5-1.5b", 1.54e9},
    {"qwen2.5-7b", 7.62e9},     {"mistral-7b-v0.1", 7.24e9}, {"tiny", 1639680},
};

/// The hyper-parameters two configs must share (not name or source).
void checkSameHyperParameters(const ModelConfig& a, const ModelConfig& b) {
  CHECK(a.architecture == b.architecture);
  CHECK(a.vocabSize == b.vocabSize);
  CHECK(a.hiddenSize == b.hiddenSize);
  CHECK(a.intermediateSize == b.intermediateSize);
  CHECK(a.numLayers == b.numLayers);
  CHECK(a.numHeads == b.numHeads);
  CHECK(a.numKvHeads == b.numKvHeads);
  CHECK(a.headDim == b.headDim);
  CHECK(a.maxContext == b.maxContext);
  CHECK(a.rmsNormEps == b.rmsNormEps);
  CHECK(a.ropeTheta == b.ropeTheta);
  CHECK(a.ropeStyle == b.ropeStyle);
  CHECK(a.ropeScaling.has_value() == b.ropeScaling.has_value());
  if (a.ropeScaling && b.ropeScaling) {
    CHECK(a.ropeScaling->factor == b.ropeScaling->factor);
    CHECK(a.ropeScaling->lowFreqFactor == b.ropeScaling->lowFreqFactor);
    CHECK(a.ropeScaling->highFreqFactor == b.ropeScaling->highFreqFactor);
    CHECK(a.ropeScaling->originalContext == b.ropeScaling->originalContext);
  }
  CHECK(a.tieEmbeddings == b.tieEmbeddings);
  CHECK(a.qkvBias == b.qkvBias);
  CHECK(a.slidingWindow == b.slidingWindow);
}

TEST_CASE("The bundled configs are the expected ones", "[models][loader]") {
  CHECK(bundledModelNames() == std::vector<std::string>{"llama-2-7b", "llama-3-8b", "llama-3.2-1b", "mistral-7b-v0.1",
                                                        "qwen2.5-0.5b", "qwen2.5-1.5b", "qwen2.5-7b", "tiny",
                                                        "tinyllama-1.1b"});
}

TEST_CASE("Every bundled config loads, validates and has its published size", "[models][loader]") {
  for (const PublishedSize& published : kPublishedSizes) {
    INFO(published.name);
    ModelConfig config = loadModelConfig(published.name);
    CHECK(config.name == published.name);  // the file's name key matches its file name
    CHECK(config.source == std::string("<bundled:") + published.name + ">");
    CHECK(config.headDim > 0);
    CHECK_NOTHROW(config.validate());
    double parameters = static_cast<double>(config.parameterCount());
    CHECK(std::abs(parameters - published.parameters) <= 0.03 * published.parameters);
  }
  CHECK(loadModelConfig("tiny").parameterCount() == 1639680);
}

TEST_CASE("Bundled configs carry the published hyper-parameters", "[models][loader]") {
  ModelConfig llama32 = loadModelConfig("llama-3.2-1b");
  CHECK(llama32.tieEmbeddings);
  CHECK(llama32.headDim == 64);
  CHECK(llama32.ropeTheta == 500000.0);
  REQUIRE(llama32.ropeScaling.has_value());
  CHECK(llama32.ropeScaling->factor == 32.0);
  CHECK(llama32.ropeScaling->lowFreqFactor == 1.0);
  CHECK(llama32.ropeScaling->highFreqFactor == 4.0);
  CHECK(llama32.ropeScaling->originalContext == 8192);

  for (const char* name : {"qwen2.5-0.5b", "qwen2.5-1.5b", "qwen2.5-7b"}) {
    INFO(name);
    ModelConfig qwen = loadModelConfig(name);
    CHECK(qwen.qkvBias);
    CHECK(qwen.ropeStyle == RopeStyle::Neox);
    CHECK(qwen.rmsNormEps == 1e-6);
    CHECK(qwen.ropeTheta == 1e6);
    CHECK(qwen.tieEmbeddings == (std::string(name) != "qwen2.5-7b"));
  }

  ModelConfig mistral = loadModelConfig("mistral-7b-v0.1");
  CHECK(mistral.slidingWindow == 4096);
  CHECK(mistral.ropeTheta == 10000.0);
  CHECK(mistral.maxContext == 32768);

  ModelConfig tiny = loadModelConfig("tiny");
  CHECK(tiny.numLayers == 2);
  CHECK(tiny.hiddenSize == 256);
  CHECK(tiny.numHeads == 8);
  CHECK(tiny.numKvHeads == 2);
  CHECK(tiny.headDim == 32);
  CHECK(tiny.intermediateSize == 512);
  CHECK(tiny.vocabSize == 1024);
  CHECK(tiny.maxContext == 512);
  CHECK(tiny.architecture == "llama");
}

TEST_CASE("Bundled names are case-insensitive", "[models][loader]") {
  CHECK(loadModelConfig("LLaMA-2-7B").name == "llama-2-7b");
  CHECK(loadModelConfig("Qwen2.5-0.5B").name == "qwen2.5-0.5b");
}

TEST_CASE("A bundled config and its file in models/configs agree", "[models][loader]") {
  for (const std::string& name : bundledModelNames()) {
    INFO(name);
    std::string path = std::string(REEL_SOURCE_DIR) + "/models/configs/" + name + ".toml";
    ModelConfig fromFile = loadModelConfig(path);
    CHECK(fromFile.source == path);
    checkSameHyperParameters(fromFile, loadModelConfig(name));
  }
}

TEST_CASE("Hugging Face configs match the bundled ones", "[models][loader]") {
  checkSameHyperParameters(loadModelConfig(inputPath("hf-llama-2-7b")), loadModelConfig("llama-2-7b"));
  checkSameHyperParameters(loadModelConfig(inputPath("hf-llama-3.2-1b/config.json")), loadModelConfig("llama-3.2-1b"));
  checkSameHyperParameters(loadModelConfig(inputPath("hf-qwen2.5-0.5b/")), loadModelConfig("qwen2.5-0.5b"));
  checkSameHyperParameters(loadModelConfig(inputPath("hf-mistral-7b-v0.1")), loadModelConfig("mistral-7b-v0.1"));
}

TEST_CASE("A directory is read through its config.json", "[models][loader]") {
  ModelConfig config = loadModelConfig(inputPath("hf-qwen2.5-0.5b"));
  CHECK(config.source == inputPath("hf-qwen2.5-0.5b/config.json"));
  CHECK(config.name == "hf-qwen2.5-0.5b");
  CHECK(loadError(inputPath("")) == inputPath("") + ": directory has no config.json");
}

TEST_CASE("Unknown names and missing files are one-line errors", "[models][loader]") {
  CHECK(loadError("llama-9b") ==
        "unknown model 'llama-9b': no such file, and no bundled config of that name (bundled: llama-2-7b, "
        "llama-3-8b, llama-3.2-1b, mistral-7b-v0.1, qwen2.5-0.5b, qwen2.5-1.5b, qwen2.5-7b, tiny, tinyllama-1.1b)");
  CHECK(loadError("no/such/model.toml") == "no/such/model.toml: cannot open: No such file or directory");
  CHECK(loadError("no/such/config.json") == "no/such/config.json: cannot open: No such file or directory");
  std::string notAConfig = std::string(REEL_SOURCE_DIR) + "/tests/models/CMakeLists.txt";
  CHECK(loadError(notAConfig) == notAConfig +
                                     ": not a model config: expected a .toml, .json or .gguf file, or a directory "
                                     "with config.json");
}

TEST_CASE("GGUF files are read by the GGUF config reader", "[models][loader]") {
  // The reader itself is tested with real files in the runtime tests (ReferenceSynthTest);
  // here: a .gguf path of any case goes to it, and its errors name the file in one line.
  for (const std::string path : {"no/such/m.gguf", "no/such/m.GGUF"}) {
    const std::string message = loadError(path);
    INFO(message);
    CHECK(message.rfind(path + ":", 0) == 0);
    CHECK(message.find('\n') == std::string::npos);
    CHECK(message.find("not a model config") == std::string::npos);
  }
}

TEST_CASE("Each bad-input fixture gives its one-line message", "[models][loader]") {
  auto expect = [](const std::string& fixture, const std::string& placeAndMessage) {
    INFO(fixture);
    CHECK(loadError(inputPath(fixture)) == inputPath(fixture) + placeAndMessage);
  };
  expect("bad-missing-key.toml", ":2:1: missing required key 'num_heads' in [model]");
  expect("bad-wrong-type.toml", ":14:21: 'num_heads' must be a positive integer, got \"32\"");
  expect("bad-unknown-key.toml", ":15:1: unknown key 'num_kv_head' in [model] (did you mean 'num_kv_heads'?)");
  expect("bad-hidden-not-divisible.toml",
         ":13:21: 'hidden_size' (250) must be divisible by 'num_heads' (8) when 'head_dim' is not given");
  expect("bad-heads-not-divisible.toml", ":15:21: 'num_kv_heads' (3) must divide 'num_heads' (8)");
  expect("bad-unknown-architecture.toml",
         ":4:21: 'architecture' must be one of \"llama\", \"qwen2\", \"mistral\", got \"gpt2\"");
  expect("bad-unknown-model-type.json",
         ": key 'model_type': unsupported model type \"gpt2\" (reel reads llama, qwen2, mistral)");
  expect("bad-wrong-type.json", ": key 'num_attention_heads': expected an integer, got string");
  expect("bad-rope-scaling.json",
         ": key 'rope_scaling.type': unsupported rope_scaling type \"yarn\" (reel supports "
         "\"llama3\")");
  expect("bad-malformed.json",
         ":5:21: malformed JSON: syntax error while parsing object - unexpected string literal; expected '}'");

  std::string malformed = loadError(inputPath("bad-malformed.toml"));
  CHECK(malformed.rfind(inputPath("bad-malformed.toml") + ":3:", 0) == 0);
  CHECK(malformed.find(": malformed TOML: ") != std::string::npos);
}

}  // namespace
}  // namespace reel::models
