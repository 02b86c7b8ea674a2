#include "passes/Pass.h"

#include "support/Diagnostics.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace reel::passes {
namespace {

/// Parses the whole of `text` as an integer.
std::optional<int64_t> parseInt(std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [stop, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || stop != end) return std::nullopt;
  return value;
}

/// Parses the whole of `text` as a finite floating-point number.
std::optional<double> parseFloat(std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [stop, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || stop != end || !std::isfinite(value)) return std::nullopt;
  return value;
}

/// Parses `[1,2,4]` (spaces allowed after commas); nullopt if malformed.
std::optional<std::vector<int64_t>> parseIntList(std::string_view text) {
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') return std::nullopt;
  std::string_view body = text.substr(1, text.size() - 2);
  std::vector<int64_t> values;
  while (!body.empty()) {
    size_t comma = body.find(',');
    std::string_view item = body.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    std::optional<int64_t> value = parseInt(item);
    if (!value) return std::nullopt;
    values.push_back(*value);
    if (comma == std::string_view::npos) break;
    body.remove_prefix(comma + 1);
    if (body.empty()) return std::nullopt;  // trailing comma
  }
  return values;
}

bool isPlainWordChar(char c) {
  return c > ' ' && c != ',' && c != '{' && c != '}' && c != '[' && c != ']' && c != '=';
}

const char* kindNoun(OptionKind kind) {
  switch (kind) {
    case OptionKind::Int:
      return "an integer";
    case OptionKind::Float:
      return "a number";
    case OptionKind::Bool:
      return "true or false";
    case OptionKind::String:
      return "a word without spaces or ,{}[]=";
    case OptionKind::IntList:
      return "a list of integers such as [1,2,4]";
    case OptionKind::Enum:
      return "one of its choices";
  }
  return "a value";
}

std::string joined(const std::vector<std::string>& words, const char* separator) {
  std::string text;
  for (const std::string& word : words) text += (text.empty() ? "" : separator) + word;
  return text;
}

/// What a valid value is, for errors: "an integer >= 1", "one of cost, always, never".
std::string expected(const OptionSpec& spec) {
  if (spec.kind == OptionKind::Enum) return "one of " + joined(spec.choices, ", ");
  if (spec.least && spec.kind == OptionKind::Int) return fmt::format("an integer >= {}", *spec.least);
  if (spec.least && spec.kind == OptionKind::IntList)
    return fmt::format("a list of integers >= {} such as [1,2,4]", *spec.least);
  return kindNoun(spec.kind);
}

bool atLeast(const OptionSpec& spec, int64_t value) {
  return !spec.least || value >= *spec.least;
}

}  // namespace

std::optional<std::string> optionValueError(const OptionSpec& spec, const std::string& value) {
  bool valid = false;
  switch (spec.kind) {
    case OptionKind::Int: {
      std::optional<int64_t> number = parseInt(value);
      valid = number && atLeast(spec, *number);
      break;
    }
    case OptionKind::Float:
      valid = parseFloat(value).has_value();
      break;
    case OptionKind::Bool:
      valid = value == "true" || value == "false";
      break;
    case OptionKind::String:
      valid = std::all_of(value.begin(), value.end(), isPlainWordChar);
      break;
    case OptionKind::IntList: {
      std::optional<std::vector<int64_t>> numbers = parseIntList(value);
      valid = numbers &&
              std::all_of(numbers->begin(), numbers->end(), [&spec](int64_t number) { return atLeast(spec, number); });
      break;
    }
    case OptionKind::Enum:
      valid = std::find(spec.choices.begin(), spec.choices.end(), value) != spec.choices.end();
      break;
  }
  if (valid) return std::nullopt;
  return fmt::format("option '{}' expects {}, got '{}'", spec.name, expected(spec), value);
}

OptionSpec enumOption(std::string name, std::string defaultValue, std::vector<std::string> choices, std::string help) {
  return {std::move(name), OptionKind::Enum, std::move(defaultValue), std::move(help), std::move(choices)};
}

std::optional<std::string> optionDeclarationError(const OptionSpec& spec) {
  if (spec.kind == OptionKind::Enum && spec.choices.empty())
    return fmt::format("enum option '{}' declares no choices", spec.name);
  if (spec.kind != OptionKind::Enum && !spec.choices.empty())
    return fmt::format("option '{}' declares choices but is not an enum", spec.name);
  for (const std::string& choice : spec.choices)
    if (choice.empty() || !std::all_of(choice.begin(), choice.end(), isPlainWordChar))
      return fmt::format("option '{}': choice '{}' is not a word without spaces or ,{{}}[]=", spec.name, choice);
  if (spec.least && spec.kind != OptionKind::Int && spec.kind != OptionKind::IntList)
    return fmt::format("option '{}' declares a least value but is not an integer option", spec.name);
  if (!spec.defaultValue.empty())
    if (std::optional<std::string> error = optionValueError(spec, spec.defaultValue)) return "default of " + *error;
  return std::nullopt;
}

std::string optionTypeText(const OptionSpec& spec) {
  switch (spec.kind) {
    case OptionKind::Int:
      return spec.least ? fmt::format("int >= {}", *spec.least) : "int";
    case OptionKind::Float:
      return "float";
    case OptionKind::Bool:
      return "bool";
    case OptionKind::String:
      return "string";
    case OptionKind::IntList:
      return spec.least ? fmt::format("int list, each >= {}", *spec.least) : "int list";
    case OptionKind::Enum:
      return joined(spec.choices, "|");
  }
  return "?";
}

PassOptions::PassOptions(std::vector<OptionSpec> specs, std::map<std::string, std::string> given)
    : specs_(std::move(specs)), given_(std::move(given)) {
  for (const auto& [name, value] : given_)  // spec() throws for an undeclared name
    if (std::optional<std::string> error = optionValueError(spec(name), value)) throw Error(*error);
  for (const OptionSpec& declared : specs_)
    if (given_.count(declared.name)) givenOrder_.push_back(declared.name);
}

PassOptions PassOptions::inGivenOrder(std::vector<OptionSpec> specs,
                                      const std::vector<std::pair<std::string, std::string>>& given) {
  std::map<std::string, std::string> byName;
  for (const auto& [name, value] : given)
    if (!byName.emplace(name, value).second) failPlain("option '{}' given twice", name);
  PassOptions options(std::move(specs), std::move(byName));
  options.givenOrder_.clear();
  for (const auto& entry : given) options.givenOrder_.push_back(entry.first);
  return options;
}

const OptionSpec& PassOptions::spec(const std::string& name) const {
  for (const OptionSpec& declared : specs_)
    if (declared.name == name) return declared;
  failPlain("unknown pass option '{}'", name);
}

bool PassOptions::given(const std::string& name) const {
  (void)spec(name);
  return given_.count(name) != 0;
}

const std::string& PassOptions::raw(const std::string& name) const {
  auto it = given_.find(name);
  if (it != given_.end()) return it->second;
  const OptionSpec& declared = spec(name);
  if (declared.defaultValue.empty())
    failPlain("internal error: option '{}' has no default; read it with getIntOr or check given()", name);
  return declared.defaultValue;
}

int64_t PassOptions::getInt(const std::string& name) const {
  std::optional<int64_t> value = parseInt(raw(name));
  if (!value) failPlain("option '{}' is not an integer: '{}'", name, raw(name));
  return *value;
}

double PassOptions::getFloat(const std::string& name) const {
  std::optional<double> value = parseFloat(raw(name));
  if (!value) failPlain("option '{}' is not a number: '{}'", name, raw(name));
  return *value;
}

bool PassOptions::getBool(const std::string& name) const {
  const std::string& text = raw(name);
  if (text != "true" && text != "false") failPlain("option '{}' is not true or false: '{}'", name, text);
  return text == "true";
}

std::string PassOptions::getString(const std::string& name) const {
  return raw(name);
}

std::vector<int64_t> PassOptions::getIntList(const std::string& name) const {
  std::optional<std::vector<int64_t>> values = parseIntList(raw(name));
  if (!values) failPlain("option '{}' is not a list of integers: '{}'", name, raw(name));
  return *values;
}

size_t PassOptions::getChoice(const std::string& name) const {
  const std::vector<std::string>& choices = spec(name).choices;
  auto found = std::find(choices.begin(), choices.end(), raw(name));
  if (found == choices.end()) failPlain("option '{}' is not one of {}: '{}'", name, joined(choices, ", "), raw(name));
  return static_cast<size_t>(found - choices.begin());
}

int64_t PassOptions::getIntOr(const std::string& name, int64_t fallback) const {
  return given(name) ? getInt(name) : fallback;
}

std::string PassOptions::str() const {
  std::string text;
  for (const std::string& name : givenOrder_) {
    if (!text.empty()) text += ',';
    text += name + "=" + given_.at(name);
  }
  return text;
}

bool Pass::runOnModule(ir::Module& module, PassContext& context) {
  bool changed = false;
  for (const std::unique_ptr<ir::Graph>& graph : module.graphs) changed |= runOnGraph(*graph, context);
  return changed;
}

bool Pass::runOnGraph(ir::Graph& graph, PassContext& /*context*/) {
  failPlain("internal error: a pass overrides neither runOnModule nor runOnGraph (graph @{})", graph.name());
}

}  // namespace reel::passes
