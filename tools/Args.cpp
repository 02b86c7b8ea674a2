#include "tools/Args.h"

#include "support/Diagnostics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace reel::tools {

void Args::flag(const std::string& name, const std::string& help) {
  specs_.push_back({name, "", help, "", false});
}

void Args::option(const std::string& name, const std::string& valueName, const std::string& help,
                  const std::string& shortAlias, bool repeatable) {
  specs_.push_back({name, valueName, help, shortAlias, repeatable});
}

void Args::positional(const std::string& name, const std::string& help, bool required) {
  positionals_.push_back({name, help, required});
}

const Args::Spec* Args::findSpec(const std::string& name) const {
  for (const Spec& spec : specs_)
    if (spec.name == name || (!spec.shortAlias.empty() && spec.shortAlias == name)) return &spec;
  return nullptr;
}

bool Args::parse(int argc, char** argv, int first) {
  size_t positional = 0;
  bool onlyPositionals = false;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (!onlyPositionals && arg == "--") {
      onlyPositionals = true;
      continue;
    }
    if (!onlyPositionals && (arg == "--help" || arg == "-h")) {
      std::fputs(help().c_str(), stdout);
      return false;
    }
    bool looksLikeFlag = !onlyPositionals && arg.size() > 1 && arg[0] == '-';
    if (!looksLikeFlag) {
      if (positional >= positionals_.size())
        failPlain("{}: unexpected argument '{}' (see {} --help)", command_, arg, command_);
      values_[positionals_[positional++].name].push_back(arg);
      continue;
    }
    std::string name = arg;
    std::optional<std::string> inlineValue;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      inlineValue = arg.substr(eq + 1);
    }
    const Spec* spec = findSpec(name);
    if (!spec) failPlain("{}: unknown flag '{}' (see {} --help)", command_, name, command_);
    if (spec->valueName.empty()) {
      if (inlineValue) failPlain("{}: flag '{}' takes no value", command_, spec->name);
      values_[spec->name].push_back("true");
      continue;
    }
    std::string value;
    if (inlineValue) {
      value = *inlineValue;
    } else {
      if (i + 1 >= argc) failPlain("{}: option '{}' needs a value {}", command_, spec->name, spec->valueName);
      value = argv[++i];
    }
    std::vector<std::string>& slot = values_[spec->name];
    if (!slot.empty() && !spec->repeatable) failPlain("{}: option '{}' given twice", command_, spec->name);
    slot.push_back(value);
  }
  for (size_t i = positional; i < positionals_.size(); ++i)
    if (positionals_[i].required)
      failPlain("{}: missing argument {} (see {} --help)", command_, positionals_[i].name, command_);
  return true;
}

bool Args::has(const std::string& name) const {
  return values_.count(name) != 0;
}

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::string Args::getOr(const std::string& name, const std::string& fallback) const {
  return get(name).value_or(fallback);
}

std::optional<uint64_t> parseByteSize(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  size_t number = digits;
  if (number < text.size() && text[number] == '.') {
    size_t fraction = number + 1;
    while (fraction < text.size() && text[fraction] >= '0' && text[fraction] <= '9') ++fraction;
    if (fraction == number + 1) return std::nullopt;  // "4." or "4.G"
    number = fraction;
  }
  if (digits == 0 || number > 24) return std::nullopt;
  std::string suffix(text.substr(number));
  for (char& c : suffix) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  static const std::pair<const char*, long double> kSuffixes[] = {
      {"", 1.0L},       {"B", 1.0L},    {"K", 0x1p10L},   {"KIB", 0x1p10L}, {"M", 0x1p20L},
      {"MIB", 0x1p20L}, {"G", 0x1p30L}, {"GIB", 0x1p30L}, {"T", 0x1p40L},   {"TIB", 0x1p40L},
      {"KB", 1e3L},     {"MB", 1e6L},   {"GB", 1e9L},     {"TB", 1e12L}};
  const auto* found = std::find_if(std::begin(kSuffixes), std::end(kSuffixes),
                                   [&](const auto& entry) { return suffix == entry.first; });
  if (found == std::end(kSuffixes)) return std::nullopt;
  const long double bytes =
      std::floor(std::strtold(std::string(text.substr(0, number)).c_str(), nullptr) * found->second);
  if (found->second == 1.0L && number != digits) return std::nullopt;  // a fraction of a byte
  if (!(bytes >= 1.0L) || bytes > 0x1p60L) return std::nullopt;
  return static_cast<uint64_t>(bytes);
}

int64_t parseIntIn(const std::string& text, IntRange range, const std::string& what) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [stop, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || stop != end || value < range.min || value > range.max)
    failPlain("{} '{}': expected an integer from {} to {}", what, text, range.min, range.max);
  return value;
}

std::vector<int64_t> parseIntList(const std::string& text, IntRange range, const std::string& what) {
  std::vector<int64_t> values;
  for (size_t start = 0; start <= text.size();) {
    const size_t comma = std::min(text.find(',', start), text.size());
    values.push_back(parseIntIn(text.substr(start, comma - start), range, what));
    start = comma + 1;
  }
  return values;
}

int64_t Args::getInt(const std::string& name, int64_t fallback, IntRange range) const {
  std::optional<std::string> text = get(name);
  return text ? parseIntIn(*text, range, command_ + ": " + name) : fallback;
}

std::vector<std::string> Args::getAll(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::string Args::help() const {
  std::string usage = "usage: " + command_ + " [options]";
  for (const Positional& p : positionals_) usage += p.required ? " " + p.name : " [" + p.name + "]";
  std::string text = fmt::format("{}\n\n{}\n", summary_, usage);
  if (!positionals_.empty()) {
    text += "\narguments:\n";
    for (const Positional& p : positionals_) text += fmt::format("  {:<28} {}\n", p.name, p.help);
  }
  text += "\noptions:\n";
  for (const Spec& spec : specs_) {
    std::string left = spec.name + (spec.valueName.empty() ? "" : "=" + spec.valueName);
    if (!spec.shortAlias.empty()) left = spec.shortAlias + ", " + left;
    text += fmt::format("  {:<28} {}\n", left, spec.help);
  }
  text += fmt::format("  {:<28} {}\n", "-h, --help", "show this help");
  return text;
}

}  // namespace reel::tools
