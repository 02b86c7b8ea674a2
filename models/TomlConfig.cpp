#include "models/TomlConfig.h"
#include "support/TomlParse.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <span>
#include <sstream>
#include <vector>

namespace reel::models {
namespace {

constexpr std::string_view kModelTable = "model";
constexpr std::string_view kRopeScalingTable = "rope_scaling";
constexpr std::array<std::string_view, 2> kTopLevelKeys = {kModelTable, kRopeScalingTable};

constexpr std::array<std::string_view, 16> kModelKeys = {
    "name",       "architecture",   "vocab_size", "hidden_size",   "intermediate_size", "num_layers",
    "num_heads",  "num_kv_heads",   "head_dim",   "max_context",   "rms_norm_eps",      "rope_theta",
    "rope_style", "tie_embeddings", "qkv_bias",   "sliding_window"};
constexpr std::array<std::string_view, 5> kRopeScalingKeys = {"type", "factor", "low_freq_factor", "high_freq_factor",
                                                              "original_context"};

/// Values longer than this are cut short in messages.
constexpr size_t kMaxQuotedValue = 60;

/// Replaces control characters so a message stays on one line.
std::string oneLine(std::string_view text) {
  std::string line(text);
  for (char& c : line)
    if (std::iscntrl(static_cast<unsigned char>(c))) c = ' ';
  return line;
}

/// oneLine(), and cut short when long: for text the user wrote, such as a key.
std::string shortened(std::string_view text) {
  return text.size() > kMaxQuotedValue ? oneLine(text.substr(0, kMaxQuotedValue)) + "..." : oneLine(text);
}

/// One character as a TOML basic string writes it.
std::string escaped(char c) {
  switch (c) {
    case '"':
      return "\\\"";
    case '\\':
      return "\\\\";
    case '\n':
      return "\\n";
    case '\t':
      return "\\t";
    default:
      break;
  }
  if (std::iscntrl(static_cast<unsigned char>(c))) return fmt::format("\\u{:04X}", static_cast<unsigned char>(c));
  return std::string(1, c);
}

/// `text` in double quotes with TOML's escapes, cut short when long: "a\"b".
std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text.substr(0, kMaxQuotedValue)) out += escaped(c);
  return out + (text.size() > kMaxQuotedValue ? "...\"" : "\"");
}

/// A value as TOML writes it ("32" quoted, 32 bare), for "got ..." in messages.
std::string describeValue(const toml::node& node) {
  if (node.is_table()) return "a table";
  if (node.is_array()) return "an array";
  if (node.is_string()) return quoted(node.as_string()->get());
  std::ostringstream out;
  node.visit([&out](const auto& value) { out << value; });
  return shortened(out.str());
}

/// Levenshtein distance, for "did you mean" on unknown keys.
size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

/// " (did you mean 'x'?)" when a known key is a near miss of `key`, else "".
std::string suggestionFor(std::string_view key, std::span<const std::string_view> known) {
  std::string_view best;
  size_t bestDistance = 3;  // suggest only near misses: at most two edits
  for (std::string_view candidate : known) {
    size_t distance = editDistance(key, candidate);
    if (distance < bestDistance) {
      bestDistance = distance;
      best = candidate;
    }
  }
  return best.empty() ? std::string() : fmt::format(" (did you mean '{}'?)", best);
}

bool isKnown(std::string_view key, std::span<const std::string_view> known) {
  return std::find(known.begin(), known.end(), key) != known.end();
}

/// Reads the typed keys of one TOML table; every mistake is reported at its place.
class TableReader {
 public:
  /// `title` names the table in messages ("[model]"); `keyPrefix` qualifies its keys
  /// ("" for [model], "rope_scaling." for [rope_scaling]).
  TableReader(const toml::table& table, std::string title, std::string keyPrefix, const std::string& file)
      : table_(table), title_(std::move(title)), keyPrefix_(std::move(keyPrefix)), file_(file) {}

  /// Throws at the first key that is not in `known`, suggesting a near miss.
  void rejectUnknownKeys(std::span<const std::string_view> known) const {
    for (const auto& [key, node] : table_) {
      if (isKnown(key.str(), known)) continue;
      fail(support::tomlLocation(file_, key.source()), "unknown key '{}' in {}{}", shortened(key.str()), title_,
           suggestionFor(key.str(), known));
    }
  }

  std::optional<int64_t> optionalInteger(std::string_view key) const {
    const toml::node* node = table_.get(key);
    if (node == nullptr) return std::nullopt;
    if (!node->is_integer()) rejectValue(key, "must be a positive integer");
    return node->as_integer()->get();
  }

  std::optional<double> optionalNumber(std::string_view key) const {
    const toml::node* node = table_.get(key);
    if (node == nullptr) return std::nullopt;
    if (node->is_integer()) return static_cast<double>(node->as_integer()->get());
    if (!node->is_floating_point()) rejectValue(key, "must be a positive number");
    return node->as_floating_point()->get();
  }

  std::optional<bool> optionalBool(std::string_view key) const {
    const toml::node* node = table_.get(key);
    if (node == nullptr) return std::nullopt;
    if (!node->is_boolean()) rejectValue(key, "must be true or false");
    return node->as_boolean()->get();
  }

  std::optional<std::string> optionalString(std::string_view key) const {
    const toml::node* node = table_.get(key);
    if (node == nullptr) return std::nullopt;
    if (!node->is_string()) rejectValue(key, "must be a string");
    return node->as_string()->get();
  }

  int64_t requiredInteger(std::string_view key) const { return require(key, optionalInteger(key)); }
  double requiredNumber(std::string_view key) const { return require(key, optionalNumber(key)); }
  bool requiredBool(std::string_view key) const { return require(key, optionalBool(key)); }
  std::string requiredString(std::string_view key) const { return require(key, optionalString(key)); }

  /// Throws "<value's place>: '<key>' <complaint>, got <value>"; `key` must be present.
  [[noreturn]] void rejectValue(std::string_view key, std::string_view complaint) const {
    const toml::node& node = *table_.get(key);
    fail(support::tomlLocation(file_, node.source()), "'{}{}' {}, got {}", keyPrefix_, key, complaint,
         describeValue(node));
  }

  /// Where `key`'s value is, or the table itself when the key is absent.
  SourceLoc locate(std::string_view key) const {
    const toml::node* node = table_.get(key);
    return support::tomlLocation(file_, node != nullptr ? node->source() : table_.source());
  }

 private:
  template <typename T>
  T require(std::string_view key, std::optional<T> value) const {
    if (!value) fail(locate(key), "missing required key '{}' in {}", key, title_);
    return std::move(*value);
  }

  const toml::table& table_;
  std::string title_;
  std::string keyPrefix_;
  const std::string& file_;
};

toml::table parseToml(std::string_view text, const std::string& file) {
  return support::parseTomlText(text, file);
}

void rejectUnknownTopLevelKeys(const toml::table& root, const std::string& file) {
  for (const auto& [key, node] : root) {
    if (isKnown(key.str(), kTopLevelKeys)) continue;
    std::string suggestion = suggestionFor(key.str(), kTopLevelKeys);
    fail(support::tomlLocation(file, key.source()), "unknown top-level key '{}'{}", shortened(key.str()),
         suggestion.empty() ? std::string(" (expected the tables [model] and [rope_scaling])") : suggestion);
  }
}

/// The table `name` of the root, or nullptr if absent; throws if it is not a table.
const toml::table* findTable(const toml::table& root, std::string_view name, const std::string& file) {
  const toml::node* node = root.get(name);
  if (node == nullptr) return nullptr;
  if (!node->is_table())
    fail(support::tomlLocation(file, node->source()), "'{}' must be a table, got {}", name, describeValue(*node));
  return node->as_table();
}

RopeStyle defaultRopeStyle(const std::string& architecture) {
  return architecture == "qwen2" ? RopeStyle::Neox : RopeStyle::Norm;
}

RopeStyle readRopeStyle(const TableReader& model, const std::string& architecture) {
  std::optional<std::string> style = model.optionalString("rope_style");
  if (!style) return defaultRopeStyle(architecture);
  if (*style == "norm") return RopeStyle::Norm;
  if (*style == "neox") return RopeStyle::Neox;
  model.rejectValue("rope_style", "must be \"norm\" or \"neox\"");
}

/// Reads [model] into `config` (all but rope scaling).
void readModelTable(const toml::table& table, const std::string& file, ModelConfig& config) {
  TableReader model(table, "[model]", "", file);
  model.rejectUnknownKeys(kModelKeys);
  config.name = model.requiredString("name");
  config.architecture = model.requiredString("architecture");
  config.vocabSize = model.requiredInteger("vocab_size");
  config.hiddenSize = model.requiredInteger("hidden_size");
  config.intermediateSize = model.requiredInteger("intermediate_size");
  config.numLayers = model.requiredInteger("num_layers");
  config.numHeads = model.requiredInteger("num_heads");
  config.numKvHeads = model.requiredInteger("num_kv_heads");
  std::optional<int64_t> headDim = model.optionalInteger("head_dim");
  if (headDim && *headDim <= 0) model.rejectValue("head_dim", "must be a positive integer");
  config.headDim = headDim.value_or(0);  // 0: finalize() derives it
  config.maxContext = model.requiredInteger("max_context");
  config.rmsNormEps = model.requiredNumber("rms_norm_eps");
  config.ropeTheta = model.requiredNumber("rope_theta");
  config.ropeStyle = readRopeStyle(model, config.architecture);
  config.tieEmbeddings = model.requiredBool("tie_embeddings");
  config.qkvBias = model.requiredBool("qkv_bias");
  config.slidingWindow = model.optionalInteger("sliding_window");
}

Llama3RopeScaling readRopeScalingTable(const toml::table& table, const std::string& file) {
  TableReader scaling(table, "[rope_scaling]", "rope_scaling.", file);
  scaling.rejectUnknownKeys(kRopeScalingKeys);
  std::string type = scaling.requiredString("type");
  if (type != "llama3") scaling.rejectValue("type", "must be \"llama3\", the only rope_scaling type reel supports");
  Llama3RopeScaling result;
  result.factor = scaling.requiredNumber("factor");
  result.lowFreqFactor = scaling.optionalNumber("low_freq_factor").value_or(1.0);
  result.highFreqFactor = scaling.optionalNumber("high_freq_factor").value_or(4.0);
  result.originalContext = scaling.requiredInteger("original_context");
  return result;
}

/// Places validate()'s messages at the offending value (or its table) in the file.
FieldLocator tomlLocator(const toml::table& root, const std::string& file) {
  return [&root, &file](ConfigField field) {
    std::string_view key = tomlKeyOf(field);
    std::string_view tableName = kModelTable;
    if (size_t dot = key.find('.'); dot != std::string_view::npos) {
      tableName = key.substr(0, dot);
      key = key.substr(dot + 1);
    }
    const toml::table* table = root.get_as<toml::table>(tableName);
    SourceLoc where = table == nullptr ? SourceLoc{file} : TableReader(*table, "", "", file).locate(key);
    return FieldOrigin{tomlKeyOf(field), where};
  };
}

}  // namespace

ModelConfig readTomlConfig(std::string_view text, const std::string& fileName) {
  toml::table root = parseToml(text, fileName);
  rejectUnknownTopLevelKeys(root, fileName);
  const toml::table* model = findTable(root, kModelTable, fileName);
  if (model == nullptr) fail(SourceLoc{fileName}, "missing the [model] table");

  ModelConfig config;
  config.source = fileName;
  readModelTable(*model, fileName, config);
  if (const toml::table* scaling = findTable(root, kRopeScalingTable, fileName))
    config.ropeScaling = readRopeScalingTable(*scaling, fileName);
  config.finalize(tomlLocator(root, fileName));
  return config;
}

}  // namespace reel::models
