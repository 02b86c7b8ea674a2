#include "models/HfConfig.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <limits>
#include <optional>
#include <set>
#include <vector>

namespace reel::models {
namespace {

using Json = nlohmann::json;

/// Replaces control characters so a message stays on one line.
std::string oneLine(std::string_view text) {
  std::string line(text);
  for (char& c : line)
    if (std::iscntrl(static_cast<unsigned char>(c))) c = ' ';
  return line;
}

/// The JSON type of `value` as messages name it: "string", "integer", "object", ...
std::string jsonTypeName(const Json& value) {
  if (value.is_number_integer()) return "integer";
  if (value.is_number_float()) return "floating-point number";
  return value.type_name();
}

/// The 1-based line and column of nlohmann's `byte` (1-based index of the last byte read).
SourceLoc locationOfByte(const std::string& file, std::string_view text, size_t byte) {
  size_t index = std::min(byte == 0 ? 0 : byte - 1, text.size());
  std::string_view before = text.substr(0, index);
  auto line = static_cast<unsigned>(1 + std::count(before.begin(), before.end(), '\n'));
  size_t lineStart = before.rfind('\n');
  size_t column = lineStart == std::string_view::npos ? index + 1 : index - lineStart;
  return SourceLoc{file, line, static_cast<unsigned>(column)};
}

/// nlohmann's message without its "[json.exception.out_of_range.406] " prefix.
std::string withoutExceptionId(std::string_view message) {
  if (message.starts_with("[json.exception.")) message.remove_prefix(std::min(message.find("] ") + 2, message.size()));
  return oneLine(message);
}

/// nlohmann's message without its "[json.exception...] parse error at line L, column C: " prefix.
std::string parseErrorDetail(const Json::parse_error& error) {
  std::string_view message = error.what();
  size_t start = message.find("parse error");
  size_t colon = start == std::string_view::npos ? start : message.find(": ", start);
  if (colon != std::string_view::npos) message.remove_prefix(colon + 2);
  return oneLine(message);
}

/// Refuses a key that appears twice in one object: JSON leaves duplicates undefined and
/// nlohmann keeps the last silently, so "hidden_size": 4096, ..., "hidden_size": 8 would
/// read as 8 without a word. Fed every parse event, it keeps the keys of each open object.
class DuplicateKeyCheck {
 public:
  explicit DuplicateKeyCheck(const std::string& file) : file_(file) {}

  bool operator()(int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        open_.push_back({pathOfNextContainer(), event == Json::parse_event_t::object_start, {}});
        break;
      case Json::parse_event_t::key: {
        const auto& key = parsed.get_ref<const std::string&>();
        if (!open_.back().keys.insert(key).second)
          fail(SourceLoc{file_}, "key '{}' appears twice; each key may appear once", open_.back().path + oneLine(key));
        lastKey_ = key;
        break;
      }
      case Json::parse_event_t::object_end:
      case Json::parse_event_t::array_end:
        open_.pop_back();
        break;
      default:
        break;
    }
    return true;
  }

 private:
  struct Container {
    std::string path;  ///< prefix of its keys in messages: "" at the top, "rope_scaling." below
    bool object = false;
    std::set<std::string> keys;
  };

  /// A container is the value of the last key of an enclosing object, or an element of an
  /// enclosing array (whose path it shares).
  std::string pathOfNextContainer() const {
    if (open_.empty()) return "";
    if (!open_.back().object) return open_.back().path;
    return open_.back().path + oneLine(lastKey_) + ".";
  }

  const std::string& file_;
  std::vector<Container> open_;
  std::string lastKey_;
};

Json parseJson(std::string_view text, const std::string& file) {
  try {
    return Json::parse(text.data(), text.data() + text.size(), DuplicateKeyCheck(file));
  } catch (const Json::parse_error& error) {
    fail(locationOfByte(file, text, error.byte), "malformed JSON: {}", parseErrorDetail(error));
  } catch (const Json::exception& error) {  // e.g. out_of_range: "number overflow parsing '1e999'"
    fail(SourceLoc{file}, "malformed JSON: {}", withoutExceptionId(error.what()));
  }
}

/// Reads the typed keys of one JSON object; messages read "<file>: key '<key>': ...".
/// A null value counts as absent, as Hugging Face writes unset options as null.
class JsonObjectReader {
 public:
  /// `keyPrefix` qualifies keys of a nested object in messages ("rope_scaling.").
  JsonObjectReader(const Json& object, std::string keyPrefix, const std::string& file)
      : object_(object), keyPrefix_(std::move(keyPrefix)), file_(file) {}

  /// The value of `key`, or nullptr when it is absent or null.
  const Json* find(std::string_view key) const {
    auto it = object_.find(key);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }

  std::optional<int64_t> optionalInteger(std::string_view key) const {
    const Json* value = find(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_number_integer()) rejectType(key, "an integer", *value);
    if (value->is_number_unsigned() && value->get<uint64_t>() > uint64_t{std::numeric_limits<int64_t>::max()})
      reject(key, "integer {} is out of range", value->get<uint64_t>());
    return value->get<int64_t>();
  }

  std::optional<double> optionalNumber(std::string_view key) const {
    const Json* value = find(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_number()) rejectType(key, "a number", *value);
    return value->get<double>();
  }

  std::optional<bool> optionalBool(std::string_view key) const {
    const Json* value = find(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_boolean()) rejectType(key, "true or false", *value);
    return value->get<bool>();
  }

  std::optional<std::string> optionalString(std::string_view key) const {
    const Json* value = find(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_string()) rejectType(key, "a string", *value);
    return value->get<std::string>();
  }

  /// The object under `key`, or nullptr when absent or null.
  const Json* optionalObject(std::string_view key) const {
    const Json* value = find(key);
    if (value != nullptr && !value->is_object()) rejectType(key, "an object", *value);
    return value;
  }

  /// The array under `key`, or nullptr when absent or null.
  const Json* optionalArray(std::string_view key) const {
    const Json* value = find(key);
    if (value != nullptr && !value->is_array()) rejectType(key, "an array", *value);
    return value;
  }

  int64_t requiredInteger(std::string_view key) const { return require(key, optionalInteger(key)); }
  double requiredNumber(std::string_view key) const { return require(key, optionalNumber(key)); }
  std::string requiredString(std::string_view key) const { return require(key, optionalString(key)); }

  /// Throws "<file>: key '<prefix><key>': <complaint>".
  template <typename... Args>
  [[noreturn]] void reject(std::string_view key, fmt::format_string<Args...> complaint, Args&&... args) const {
    fail(SourceLoc{file_}, "key '{}{}': {}", keyPrefix_, key, fmt::format(complaint, std::forward<Args>(args)...));
  }

  [[noreturn]] void rejectType(std::string_view key, std::string_view expected, const Json& value) const {
    reject(key, "expected {}, got {}", expected, jsonTypeName(value));
  }

  const std::string& keyPrefix() const { return keyPrefix_; }

 private:
  template <typename T>
  T require(std::string_view key, std::optional<T> value) const {
    if (!value) fail(SourceLoc{file_}, "missing key '{}{}'", keyPrefix_, key);
    return std::move(*value);
  }

  const Json& object_;
  std::string keyPrefix_;
  const std::string& file_;
};

/// The architectures this reader knows, by model_type.
bool isSupportedModelType(const std::string& modelType) {
  return modelType == "llama" || modelType == "qwen2" || modelType == "mistral";
}

/// "meta-llama/Llama-2-7b-hf" -> "Llama-2-7b-hf"; "/models/tiny/" -> "tiny".
std::string lastPathComponent(std::string path) {
  while (!path.empty() && (path.back() == '/' || path.back() == '\\')) path.pop_back();
  size_t slash = path.find_last_of("/\\");
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

/// The name of the directory holding `file` ("models/tiny/config.json" -> "tiny").
std::string parentDirectoryName(const std::string& file) {
  std::error_code error;
  std::filesystem::path absolute = std::filesystem::absolute(file, error);
  std::filesystem::path path = error ? std::filesystem::path(file) : absolute.lexically_normal();
  return path.parent_path().filename().string();
}

std::string readModelName(const JsonObjectReader& json, const std::string& file, const std::string& modelType) {
  if (std::optional<std::string> nameOrPath = json.optionalString("_name_or_path")) {
    std::string name = lastPathComponent(*nameOrPath);
    if (!name.empty()) return name;
  }
  std::string directory = parentDirectoryName(file);
  return directory.empty() ? modelType : directory;
}

/// Where the rotary settings live: top-level keys (transformers v4) or rope_parameters (v5).
struct RopeSettings {
  double theta = 10000.0;
  std::optional<Llama3RopeScaling> scaling;
  std::string thetaKey = "rope_theta";
  std::string scalingPrefix = "rope_scaling.";
};

Llama3RopeScaling readLlama3Scaling(const JsonObjectReader& scaling) {
  Llama3RopeScaling result;
  result.factor = scaling.requiredNumber("factor");
  result.lowFreqFactor = scaling.requiredNumber("low_freq_factor");
  result.highFreqFactor = scaling.requiredNumber("high_freq_factor");
  result.originalContext = scaling.requiredInteger("original_max_position_embeddings");
  return result;
}

/// Reads a rope_scaling (or rope_parameters) object: "default" means none, "llama3" is read.
std::optional<Llama3RopeScaling> readScalingObject(const JsonObjectReader& scaling, std::string_view objectKey,
                                                   const std::string& file) {
  const char* typeKey = scaling.find("rope_type") != nullptr ? "rope_type" : "type";
  std::optional<std::string> type = scaling.optionalString(typeKey);
  if (!type && objectKey == "rope_parameters") return std::nullopt;  // only rope_theta: default rope
  if (!type) fail(SourceLoc{file}, "key '{}': has neither 'rope_type' nor 'type'", objectKey);
  if (*type == "default") return std::nullopt;
  if (*type != "llama3")
    scaling.reject(typeKey, "unsupported rope_scaling type \"{}\" (reel supports \"llama3\")", oneLine(*type));
  return readLlama3Scaling(scaling);
}

RopeSettings readRopeSettings(const JsonObjectReader& json, const std::string& file) {
  RopeSettings rope;
  if (const Json* parameters = json.optionalObject("rope_parameters")) {
    JsonObjectReader reader(*parameters, "rope_parameters.", file);
    rope.thetaKey = "rope_parameters.rope_theta";
    rope.scalingPrefix = "rope_parameters.";
    rope.theta = reader.optionalNumber("rope_theta").value_or(rope.theta);
    rope.scaling = readScalingObject(reader, "rope_parameters", file);
    return rope;
  }
  rope.theta = json.optionalNumber("rope_theta").value_or(rope.theta);
  if (const Json* scaling = json.optionalObject("rope_scaling"))
    rope.scaling = readScalingObject(JsonObjectReader(*scaling, "rope_scaling.", file), "rope_scaling", file);
  return rope;
}

/// Qwen2's sliding window per transformers: only where use_sliding_window is set, and
/// only in layers >= max_window_layers (or per layer_types). reel supports all or none.
std::optional<int64_t> readQwen2SlidingWindow(const JsonObjectReader& json, int64_t numLayers) {
  if (const Json* layerTypes = json.optionalArray("layer_types")) {
    auto sliding = std::count(layerTypes->begin(), layerTypes->end(), Json("sliding_attention"));
    if (sliding == 0) return std::nullopt;
    if (sliding != static_cast<std::ptrdiff_t>(layerTypes->size()))
      json.reject("layer_types", "mixes sliding and full attention layers, which reel does not support");
    return json.optionalInteger("sliding_window");
  }
  if (!json.optionalBool("use_sliding_window").value_or(false)) return std::nullopt;
  std::optional<int64_t> window = json.optionalInteger("sliding_window");
  if (!window) return std::nullopt;
  int64_t firstSlidingLayer = json.optionalInteger("max_window_layers").value_or(28);  // Qwen2Config's default
  if (firstSlidingLayer >= numLayers) return std::nullopt;
  if (firstSlidingLayer > 0)
    json.reject("max_window_layers",
                "sliding attention in layers {} and up only is not supported (reel slides all "
                "layers or none)",
                firstSlidingLayer);
  return window;
}

/// Refuses features reel's llama does not build: biased projections, other activations.
void rejectUnsupportedFeatures(const JsonObjectReader& json, const std::string& modelType) {
  if (std::optional<std::string> activation = json.optionalString("hidden_act"); activation && *activation != "silu")
    json.reject("hidden_act", "unsupported activation \"{}\" (reel supports \"silu\")", oneLine(*activation));
  if (modelType != "llama") return;
  if (json.optionalBool("attention_bias").value_or(false))
    json.reject("attention_bias", "biased attention projections are not supported for llama");
  if (json.optionalBool("mlp_bias").value_or(false))
    json.reject("mlp_bias", "biased MLP projections are not supported");
}

/// Spells each field as config.json does, for validate()'s messages.
FieldLocator hfLocator(const std::string& file, const RopeSettings& rope) {
  return [file, rope](ConfigField field) {
    auto origin = [&file](std::string key) { return FieldOrigin{std::move(key), SourceLoc{file}}; };
    switch (field) {
      case ConfigField::Name:
        return origin("_name_or_path");
      case ConfigField::Architecture:
        return origin("model_type");
      case ConfigField::NumLayers:
        return origin("num_hidden_layers");
      case ConfigField::NumHeads:
        return origin("num_attention_heads");
      case ConfigField::NumKvHeads:
        return origin("num_key_value_heads");
      case ConfigField::MaxContext:
        return origin("max_position_embeddings");
      case ConfigField::RopeTheta:
        return origin(rope.thetaKey);
      case ConfigField::RopeScalingFactor:
        return origin(rope.scalingPrefix + "factor");
      case ConfigField::RopeScalingLowFreqFactor:
        return origin(rope.scalingPrefix + "low_freq_factor");
      case ConfigField::RopeScalingHighFreqFactor:
        return origin(rope.scalingPrefix + "high_freq_factor");
      case ConfigField::RopeScalingOriginalContext:
        return origin(rope.scalingPrefix + "original_max_position_embeddings");
      default:
        return origin(tomlKeyOf(field));  // vocab_size, hidden_size, ... match
    }
  };
}

void readSizes(const JsonObjectReader& json, ModelConfig& config) {
  config.vocabSize = json.requiredInteger("vocab_size");
  config.hiddenSize = json.requiredInteger("hidden_size");
  config.intermediateSize = json.requiredInteger("intermediate_size");
  config.numLayers = json.requiredInteger("num_hidden_layers");
  config.numHeads = json.requiredInteger("num_attention_heads");
  config.numKvHeads = json.optionalInteger("num_key_value_heads").value_or(config.numHeads);
  std::optional<int64_t> headDim = json.optionalInteger("head_dim");
  if (headDim && *headDim <= 0) json.reject("head_dim", "must be a positive integer, got {}", *headDim);
  config.headDim = headDim.value_or(0);  // 0: finalize() derives it
  config.maxContext = json.requiredInteger("max_position_embeddings");
  config.rmsNormEps = json.requiredNumber("rms_norm_eps");
}

}  // namespace

ModelConfig readHfConfig(std::string_view text, const std::string& fileName) {
  Json root = parseJson(text, fileName);
  if (!root.is_object())
    fail(SourceLoc{fileName}, "expected a JSON object at the top level, got {}", jsonTypeName(root));
  JsonObjectReader json(root, "", fileName);

  std::string modelType = json.requiredString("model_type");
  if (!isSupportedModelType(modelType))
    json.reject("model_type", "unsupported model type \"{}\" (reel reads llama, qwen2, mistral)", oneLine(modelType));
  rejectUnsupportedFeatures(json, modelType);

  ModelConfig config;
  config.source = fileName;
  config.architecture = modelType;
  config.name = readModelName(json, fileName, modelType);
  readSizes(json, config);
  RopeSettings rope = readRopeSettings(json, fileName);
  config.ropeTheta = rope.theta;
  config.ropeScaling = rope.scaling;
  config.ropeStyle = modelType == "qwen2" ? RopeStyle::Neox : RopeStyle::Norm;
  config.qkvBias = modelType == "qwen2";
  config.tieEmbeddings = json.optionalBool("tie_word_embeddings").value_or(false);
  if (modelType == "mistral") config.slidingWindow = json.optionalInteger("sliding_window");
  if (modelType == "qwen2") config.slidingWindow = readQwen2SlidingWindow(json, config.numLayers);
  config.finalize(hfLocator(fileName, rope));
  return config;
}

}  // namespace reel::models
