#include "ir/Attribute.h"

#include <fmt/format.h>

#include <charconv>

namespace reel::ir {
namespace {

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// Shortest text that parses back to the same double, always with a '.' or an exponent
// so that the parser reads it as a float, not an integer.
std::string floatText(double value) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::general);
  std::string text(buffer, ec == std::errc() ? end : buffer);
  if (text.find_first_of(".en") == std::string::npos) text += ".0";
  return text;
}

}  // namespace

std::string attributeText(const Attribute& value) {
  struct Visitor {
    std::string operator()(int64_t v) const { return std::to_string(v); }
    std::string operator()(double v) const { return floatText(v); }
    std::string operator()(const std::string& v) const { return quoted(v); }
    std::string operator()(bool v) const { return v ? "true" : "false"; }
    std::string operator()(const std::vector<int64_t>& v) const { return fmt::format("[{}]", fmt::join(v, ", ")); }
  };
  return std::visit(Visitor{}, value);
}

void AttrDict::set(llvm::StringRef name, Attribute value) {
  for (Entry& entry : entries_) {
    if (entry.first == name) {
      entry.second = std::move(value);
      return;
    }
  }
  entries_.emplace_back(name.str(), std::move(value));
}

bool AttrDict::erase(llvm::StringRef name) {
  for (auto* it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->first == name) {
      entries_.erase(it);
      return true;
    }
  }
  return false;
}

const Attribute* AttrDict::find(llvm::StringRef name) const {
  for (const Entry& entry : entries_)
    if (entry.first == name) return &entry.second;
  return nullptr;
}

std::optional<int64_t> AttrDict::getInt(llvm::StringRef name) const {
  const Attribute* value = find(name);
  if (value && std::holds_alternative<int64_t>(*value)) return std::get<int64_t>(*value);
  return std::nullopt;
}

std::optional<double> AttrDict::getFloat(llvm::StringRef name) const {
  const Attribute* value = find(name);
  if (!value) return std::nullopt;
  if (std::holds_alternative<double>(*value)) return std::get<double>(*value);
  if (std::holds_alternative<int64_t>(*value)) return static_cast<double>(std::get<int64_t>(*value));
  return std::nullopt;
}

std::optional<std::string> AttrDict::getString(llvm::StringRef name) const {
  const Attribute* value = find(name);
  if (value && std::holds_alternative<std::string>(*value)) return std::get<std::string>(*value);
  return std::nullopt;
}

std::optional<bool> AttrDict::getBool(llvm::StringRef name) const {
  const Attribute* value = find(name);
  if (value && std::holds_alternative<bool>(*value)) return std::get<bool>(*value);
  return std::nullopt;
}

const std::vector<int64_t>* AttrDict::getInts(llvm::StringRef name) const {
  const Attribute* value = find(name);
  if (value && std::holds_alternative<std::vector<int64_t>>(*value)) return &std::get<std::vector<int64_t>>(*value);
  return nullptr;
}

std::string AttrDict::str() const {
  if (entries_.empty()) return "";
  std::string text = "{";
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (i) text += ", ";
    text += entries_[i].first + " = " + attributeText(entries_[i].second);
  }
  return text + "}";
}

}  // namespace reel::ir
