// reel's model TOML: what it reads, and the one-line message for each kind of mistake.
#include "ConfigTestSupport.h"
#include "models/TomlConfig.h"

#include <string>
#include <string_view>

namespace reel::models {
namespace {

using test::errorMessage;

// Line numbers matter: the tests below name them.
constexpr std::string_view kTinyToml = R"([model]
name = "tiny"
architecture = "llama"
vocab_size = 1024
hidden_size = 256
intermediate_size = 512
num_layers = 2
num_heads = 8
num_kv_heads = 2
max_context = 512
rms_norm_eps = 1e-5
rope_theta = 10000.0
tie_embeddings = false
qkv_bias = false
)";

/// kTinyToml with the line of `key` replaced by `line` (removed when `line` is empty).
std::string tinyWith(std::string_view key, std::string_view line) {
  std::string text(kTinyToml);
  size_t start = text.find("\n" + std::string(key) + " =");
  REQUIRE(start != std::string::npos);
  start += 1;
  size_t end = text.find('\n', start) + 1;
  text.replace(start, end - start, line.empty() ? std::string() : std::string(line) + "\n");
  return text;
}

std::string tomlError(const std::string& text) {
  return errorMessage([&] { readTomlConfig(text, "t.toml"); });
}

TEST_CASE("A model TOML reads into ModelConfig", "[models][toml]") {
  ModelConfig config = readTomlConfig(kTinyToml, "t.toml");
  CHECK(config.name == "tiny");
  CHECK(config.architecture == "llama");
  CHECK(config.source == "t.toml");
  CHECK(config.vocabSize == 1024);
  CHECK(config.hiddenSize == 256);
  CHECK(config.intermediateSize == 512);
  CHECK(config.numLayers == 2);
  CHECK(config.numHeads == 8);
  CHECK(config.numKvHeads == 2);
  CHECK(config.headDim == 32);  // derived
  CHECK(config.maxContext == 512);
  CHECK(config.rmsNormEps == 1e-5);
  CHECK(config.ropeTheta == 10000.0);
  CHECK(config.ropeStyle == RopeStyle::Norm);
  CHECK_FALSE(config.ropeScaling.has_value());
  CHECK_FALSE(config.tieEmbeddings);
  CHECK_FALSE(config.qkvBias);
  CHECK_FALSE(config.slidingWindow.has_value());
}

TEST_CASE("Optional model keys", "[models][toml]") {
  std::string text = std::string(kTinyToml) + "head_dim = 64\nsliding_window = 128\nrope_style = \"neox\"\n";
  ModelConfig config = readTomlConfig(text, "t.toml");
  CHECK(config.headDim == 64);
  CHECK(config.slidingWindow == 128);
  CHECK(config.ropeStyle == RopeStyle::Neox);

  // An integer where a number is expected is fine.
  CHECK(readTomlConfig(tinyWith("rope_theta", "rope_theta = 500000"), "t.toml").ropeTheta == 500000.0);
}

TEST_CASE("rope_style defaults by architecture", "[models][toml]") {
  CHECK(readTomlConfig(tinyWith("architecture", "architecture = \"mistral\""), "t.toml").ropeStyle == RopeStyle::Norm);
  CHECK(readTomlConfig(tinyWith("architecture", "architecture = \"qwen2\""), "t.toml").ropeStyle == RopeStyle::Neox);
  std::string normQwen = tinyWith("architecture", "architecture = \"qwen2\"") + "rope_style = \"norm\"\n";
  CHECK(readTomlConfig(normQwen, "t.toml").ropeStyle == RopeStyle::Norm);
}

TEST_CASE("[rope_scaling] reads Llama 3.1-style scaling", "[models][toml]") {
  std::string text = std::string(kTinyToml) +
                     "[rope_scaling]\ntype = \"llama3\"\nfactor = 32.0\nlow_freq_factor = 2.0\n"
                     "high_freq_factor = 8\noriginal_context = 256\n";
  ModelConfig config = readTomlConfig(text, "t.toml");
  REQUIRE(config.ropeScaling.has_value());
  CHECK(config.ropeScaling->factor == 32.0);
  CHECK(config.ropeScaling->lowFreqFactor == 2.0);
  CHECK(config.ropeScaling->highFreqFactor == 8.0);
  CHECK(config.ropeScaling->originalContext == 256);

  std::string defaults =
      std::string(kTinyToml) + "[rope_scaling]\ntype = \"llama3\"\nfactor = 8\noriginal_context = 256\n";
  ModelConfig withDefaults = readTomlConfig(defaults, "t.toml");
  REQUIRE(withDefaults.ropeScaling.has_value());
  CHECK(withDefaults.ropeScaling->lowFreqFactor == 1.0);
  CHECK(withDefaults.ropeScaling->highFreqFactor == 4.0);
}

TEST_CASE("Malformed TOML reports the parser's place", "[models][toml]") {
  std::string message = tomlError(tinyWith("name", "name = \"tiny"));
  CHECK(message.rfind("t.toml:2:", 0) == 0);
  CHECK(message.find(": malformed TOML: ") != std::string::npos);

  CHECK(tomlError(std::string(kTinyToml) + "num_layers = 3\n").rfind("t.toml:15:", 0) == 0);  // redefinition

  // Inputs on which toml++ 3.3 would assert: parse errors, not aborts.
  CHECK(tomlError("[\nname = 1\n").rfind("t.toml:1:2: malformed TOML: ", 0) == 0);
  CHECK(tomlError("[[[model]]]\n").rfind("t.toml:1:3: malformed TOML: ", 0) == 0);
  CHECK(tomlError("[model]\nx = [}\n").rfind("t.toml:2:6: malformed TOML: ", 0) == 0);
  CHECK(tomlError("[model]\nx = 1979-05-27T:00Z\n").rfind("t.toml:2:", 0) == 0);
  // On some non-ASCII code points toml++ 3.3 reaches __builtin_unreachable (found by fuzzing):
  // reel's TOML is ASCII, checked first.
  CHECK(tomlError("[model]\nrms_norm_eps = \xc7\x9a-5\n") ==
        "t.toml:2:16: non-ASCII byte 0xc7: reel's TOML files are ASCII");
}

TEST_CASE("A missing key is reported at its table", "[models][toml]") {
  CHECK(tomlError(tinyWith("num_heads", "")) == "t.toml:1:1: missing required key 'num_heads' in [model]");
  CHECK(tomlError(tinyWith("tie_embeddings", "")) == "t.toml:1:1: missing required key 'tie_embeddings' in [model]");
  CHECK(tomlError(std::string(kTinyToml) + "\n[rope_scaling]\ntype = \"llama3\"\nfactor = 8.0\n") ==
        "t.toml:16:1: missing required key 'original_context' in [rope_scaling]");
  CHECK(tomlError("# nothing here\n") == "t.toml: missing the [model] table");
}

TEST_CASE("A value of the wrong type is reported at the value", "[models][toml]") {
  CHECK(tomlError(tinyWith("num_heads", "num_heads = \"32\"")) ==
        "t.toml:8:13: 'num_heads' must be a positive integer, got \"32\"");
  CHECK(tomlError(tinyWith("num_heads", "num_heads = 8.0")) ==
        "t.toml:8:13: 'num_heads' must be a positive integer, got 8.0");
  CHECK(tomlError(tinyWith("num_heads", "num_heads = [8]")) ==
        "t.toml:8:13: 'num_heads' must be a positive integer, got an array");
  CHECK(tomlError(tinyWith("rms_norm_eps", "rms_norm_eps = \"tiny\"")) ==
        "t.toml:11:16: 'rms_norm_eps' must be a positive number, got \"tiny\"");
  CHECK(tomlError(tinyWith("tie_embeddings", "tie_embeddings = 1")) ==
        "t.toml:13:18: 'tie_embeddings' must be true or false, got 1");
  CHECK(tomlError(tinyWith("name", "name = 7")) == "t.toml:2:8: 'name' must be a string, got 7");
  CHECK(tomlError(tinyWith("name", "name = {first = \"t\"}")) == "t.toml:2:8: 'name' must be a string, got a table");
  CHECK(tomlError("model = 3\n") == "t.toml:1:9: 'model' must be a table, got 3");
  CHECK(tomlError(std::string(kTinyToml) + "[rope_scaling]\ntype = \"llama3\"\nfactor = \"big\"\n") ==
        "t.toml:17:10: 'rope_scaling.factor' must be a positive number, got \"big\"");
}

TEST_CASE("Unknown keys and tables are errors", "[models][toml]") {
  CHECK(tomlError(tinyWith("num_kv_heads", "num_kv_head = 2")) ==
        "t.toml:9:1: unknown key 'num_kv_head' in [model] (did you mean 'num_kv_heads'?)");
  CHECK(tomlError(std::string(kTinyToml) + "colour = \"blue\"\n") == "t.toml:15:1: unknown key 'colour' in [model]");
  CHECK(tomlError(std::string(kTinyToml) + "[modle]\n") ==
        "t.toml:15:2: unknown top-level key 'modle' (did you mean 'model'?)");
  CHECK(tomlError("extra = 1\n" + std::string(kTinyToml)) ==
        "t.toml:1:1: unknown top-level key 'extra' (expected the tables [model] and [rope_scaling])");
  CHECK(tomlError(std::string(kTinyToml) + "[rope_scaling]\ntype = \"llama3\"\nfactors = 8.0\n") ==
        "t.toml:17:1: unknown key 'factors' in [rope_scaling] (did you mean 'factor'?)");
  CHECK(tomlError(std::string(kTinyToml) + "[model.extra]\n") == "t.toml:15:8: unknown key 'extra' in [model]");
}

TEST_CASE("Bad values are reported at the value", "[models][toml]") {
  CHECK(tomlError(tinyWith("num_heads", "num_heads = -4")) ==
        "t.toml:8:13: 'num_heads' must be a positive integer, got -4");
  CHECK(tomlError(tinyWith("hidden_size", "hidden_size = 250")) ==
        "t.toml:5:15: 'hidden_size' (250) must be divisible by 'num_heads' (8) when 'head_dim' is not given");
  CHECK(tomlError(tinyWith("num_kv_heads", "num_kv_heads = 3")) ==
        "t.toml:9:16: 'num_kv_heads' (3) must divide 'num_heads' (8)");
  CHECK(tomlError(tinyWith("architecture", "architecture = \"gpt2\"")) ==
        "t.toml:3:16: 'architecture' must be one of \"llama\", \"qwen2\", \"mistral\", got \"gpt2\"");
  CHECK(tomlError(tinyWith("num_layers", "num_layers = 100000")) ==
        "t.toml:7:14: 'num_layers' must be at most 1024, got 100000");
  CHECK(tomlError(tinyWith("rope_theta", "rope_theta = nan")) ==
        "t.toml:12:14: 'rope_theta' must be a positive number, got nan");
  CHECK(tomlError(std::string(kTinyToml) + "rope_style = \"gptj\"\n") ==
        "t.toml:15:14: 'rope_style' must be \"norm\" or \"neox\", got \"gptj\"");
  CHECK(tomlError(std::string(kTinyToml) + "head_dim = 0\n") ==
        "t.toml:15:12: 'head_dim' must be a positive integer, got 0");
  CHECK(tomlError(std::string(kTinyToml) + "head_dim = 31\n") ==
        "t.toml:15:12: 'head_dim' must be even (rotary embeddings rotate pairs), got 31");
  CHECK(tomlError(std::string(kTinyToml) + "sliding_window = 0\n") ==
        "t.toml:15:18: 'sliding_window' must be a positive integer, got 0");
  CHECK(tomlError(tinyWith("name", "name = \"a\\nb\"")) == "t.toml:2:8: 'name' must not contain control characters");
}

TEST_CASE("Bad [rope_scaling] values are reported at the value", "[models][toml]") {
  const std::string scaling = std::string(kTinyToml) + "[rope_scaling]\n";
  CHECK(tomlError(scaling + "type = \"yarn\"\nfactor = 8.0\noriginal_context = 256\n") ==
        "t.toml:16:8: 'rope_scaling.type' must be \"llama3\", the only rope_scaling type reel supports, got \"yarn\"");
  CHECK(tomlError(scaling + "type = \"llama3\"\nfactor = -8.0\noriginal_context = 256\n") ==
        "t.toml:17:10: 'rope_scaling.factor' must be a positive number, got -8");
  CHECK(tomlError(scaling + "type = \"llama3\"\nfactor = 8.0\nlow_freq_factor = 4\nhigh_freq_factor = 4\n"
                            "original_context = 256\n") ==
        "t.toml:19:20: 'rope_scaling.high_freq_factor' (4) must be greater than 'rope_scaling.low_freq_factor' (4)");
  CHECK(tomlError(scaling + "type = \"llama3\"\nfactor = 8.0\noriginal_context = 0\n") ==
        "t.toml:18:20: 'rope_scaling.original_context' must be a positive integer, got 0");
  CHECK(tomlError(std::string(kTinyToml) + "rope_scaling = 5\n") ==
        "t.toml:15:1: unknown key 'rope_scaling' in [model]");
}

TEST_CASE("Long or unprintable values stay on one line", "[models][toml]") {
  std::string message = tomlError(tinyWith("num_heads", "num_heads = \"" + std::string(500, 'x') + "\\n\""));
  CHECK(message.size() < 200);
  CHECK(message.find("...") != std::string::npos);
  CHECK(tomlError(tinyWith("architecture", "architecture = \"" + std::string(500, 'y') + "\"")).size() < 200);
}

}  // namespace
}  // namespace reel::models
