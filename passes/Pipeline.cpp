#include "passes/Pipeline.h"

#include "support/Diagnostics.h"

#include <fmt/format.h>

#include <cctype>

namespace reel::passes {
namespace {

bool isNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
}
bool isValueChar(char c) {
  return c > ' ' && c != ',' && c != '{' && c != '}' && c != '[' && c != ']' && c != '=';
}

/// One `name=value` as written, with the column of its name for messages.
struct WrittenOption {
  std::string name;
  std::string value;
  size_t nameOffset = 0;
  size_t valueOffset = 0;
};

/// Recursive descent over the pipeline text; every error names origin:line:col.
class PipelineParser {
 public:
  PipelineParser(std::string_view text, const PassRegistry& registry, const std::string& origin)
      : text_(text), registry_(registry), origin_(origin) {}

  Pipeline parse() {
    Pipeline pipeline;
    skipSpace();
    if (atEnd()) return pipeline;
    while (true) {
      parseEntry(pipeline);
      skipSpace();
      if (atEnd()) return pipeline;
      if (peek() == '}') error(pos_, "unbalanced braces: '}' without a matching '{'");
      if (peek() != ',') error(pos_, fmt::format("expected ',' between passes, got '{}'", peek()));
      ++pos_;
      skipSpace();
      if (atEnd()) error(pos_, "expected a pass name after ','");
    }
  }

 private:
  void parseEntry(Pipeline& pipeline) {
    size_t nameOffset = pos_;
    std::string name = takeWhile(isNameChar);
    if (name.empty()) error(pos_, fmt::format("expected a pass name, got '{}'", peek()));
    const RegisteredPass* pass = registry_.find(name);
    if (!pass) {
      std::string near = registry_.nearest(name);
      error(nameOffset,
            fmt::format("unknown pass '{}'{}", name, near.empty() ? "" : " (did you mean '" + near + "'?)"));
    }
    skipSpace();
    std::vector<WrittenOption> written;
    if (!atEnd() && peek() == '{') written = parseOptions(pass->info);
    std::vector<std::pair<std::string, std::string>> given;
    for (const WrittenOption& option : written) given.emplace_back(option.name, option.value);
    pipeline.append(pass->info, PassOptions::inGivenOrder(pass->info.options, given));
  }

  std::vector<WrittenOption> parseOptions(const PassInfo& info) {
    size_t open = pos_++;
    std::vector<WrittenOption> options;
    skipSpace();
    if (!atEnd() && peek() == '}') {
      ++pos_;
      return options;
    }
    while (true) {
      skipSpace();
      if (atEnd()) error(open, fmt::format("unbalanced braces: '{{' of pass '{}' is never closed", info.name));
      options.push_back(parseOption(info, options));
      skipSpace();
      if (atEnd()) error(open, fmt::format("unbalanced braces: '{{' of pass '{}' is never closed", info.name));
      if (peek() == '}') {
        ++pos_;
        return options;
      }
      if (peek() != ',') error(pos_, fmt::format("expected ',' or '}}' after an option, got '{}'", peek()));
      ++pos_;
    }
  }

  WrittenOption parseOption(const PassInfo& info, const std::vector<WrittenOption>& earlier) {
    WrittenOption option;
    option.nameOffset = pos_;
    option.name = takeWhile(isNameChar);
    if (option.name.empty()) error(pos_, fmt::format("expected an option name, got '{}'", peek()));
    const OptionSpec* spec = findSpec(info, option.name);
    if (!spec) error(option.nameOffset, unknownOptionMessage(info, option.name));
    for (const WrittenOption& other : earlier)
      if (other.name == option.name) error(option.nameOffset, fmt::format("option '{}' given twice", option.name));
    skipSpace();
    if (atEnd() || peek() != '=') error(pos_, fmt::format("expected '=' after option '{}'", option.name));
    ++pos_;
    skipSpace();
    option.valueOffset = pos_;
    option.value = peekIs('[') ? takeList() : takeWhile(isValueChar);
    if (option.value.empty()) error(pos_, fmt::format("expected a value for option '{}'", option.name));
    if (std::optional<std::string> problem = optionValueError(*spec, option.value))
      error(option.valueOffset, fmt::format("pass '{}': {}", info.name, *problem));
    return option;
  }

  /// `[1, 2, 4]` as written but without spaces: "[1,2,4]".
  std::string takeList() {
    size_t open = pos_++;
    std::string list = "[";
    while (true) {
      if (atEnd()) error(open, "unbalanced brackets: '[' is never closed");
      char c = text_[pos_++];
      if (c == ']') return list + "]";
      if (c == '[' || c == '{' || c == '}') error(pos_ - 1, fmt::format("unexpected '{}' in a list", c));
      if (!std::isspace(static_cast<unsigned char>(c))) list += c;
    }
  }

  static const OptionSpec* findSpec(const PassInfo& info, const std::string& name) {
    for (const OptionSpec& spec : info.options)
      if (spec.name == name) return &spec;
    return nullptr;
  }

  static std::string unknownOptionMessage(const PassInfo& info, const std::string& name) {
    if (info.options.empty()) return fmt::format("pass '{}' has no options, got '{}'", info.name, name);
    std::string known;
    for (const OptionSpec& spec : info.options) known += (known.empty() ? "" : ", ") + spec.name;
    return fmt::format("pass '{}' has no option '{}' (options: {})", info.name, name, known);
  }

  [[noreturn]] void error(size_t offset, const std::string& message) const {
    unsigned line = 1;
    unsigned col = 1;
    for (size_t i = 0; i < offset && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    fail(SourceLoc{origin_, line, col}, "{}", message);
  }

  template <typename Pred>
  std::string takeWhile(Pred pred) {
    size_t start = pos_;
    while (!atEnd() && pred(text_[pos_])) ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }
  void skipSpace() {
    while (!atEnd() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  [[nodiscard]] bool atEnd() const { return pos_ >= text_.size(); }
  [[nodiscard]] char peek() const { return text_[pos_]; }
  [[nodiscard]] bool peekIs(char c) const { return !atEnd() && text_[pos_] == c; }

  std::string_view text_;
  const PassRegistry& registry_;
  const std::string& origin_;
  size_t pos_ = 0;
};

}  // namespace

std::string PipelineEntry::str() const {
  std::string options_text = options.str();
  return options_text.empty() ? name() : name() + "{" + options_text + "}";
}

std::unique_ptr<Pass> PipelineEntry::instantiate() const {
  std::unique_ptr<Pass> pass = info->create();
  if (!pass) failPlain("internal error: the factory of pass '{}' returned nothing", name());
  pass->setOptions(options);
  return pass;
}

Pipeline Pipeline::parse(std::string_view text, const PassRegistry& registry, const std::string& origin) {
  return PipelineParser(text, registry, origin).parse();
}

void Pipeline::append(const PassInfo& info, PassOptions options) {
  entries_.push_back({&info, std::move(options)});
}

std::string Pipeline::strFrom(size_t first) const {
  std::string text;
  for (size_t i = first; i < entries_.size(); ++i) {
    if (!text.empty()) text += ',';
    text += entries_[i].str();
  }
  return text;
}

}  // namespace reel::passes
