#include "ir/Parser.h"

#include "ir/OpRegistry.h"

#include <charconv>
#include <fstream>
#include <iostream>
#include <sstream>

namespace reel::ir {
namespace {

enum class Tok { Ident, ValueRef, SymbolRef, Int, Float, String, Punct, End };

struct Token {
  Tok kind = Tok::End;
  std::string text;  // identifier, name without sigil, literal text, unescaped string, or punctuation
  unsigned line = 1;
  unsigned col = 1;
};

bool isNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

/// Splits the text into tokens on demand; skips whitespace and // comments.
class Lexer {
 public:
  Lexer(llvm::StringRef text, std::string file) : text_(text), file_(std::move(file)) {}

  Token next() {
    skipSpace();
    Token token;
    token.line = line_;
    token.col = col_;
    if (pos_ >= text_.size()) return token;
    char c = text_[pos_];
    if (c == '%' || c == '@') {
      advance();
      token.kind = c == '%' ? Tok::ValueRef : Tok::SymbolRef;
      token.text = takeWhile(isNameChar);
      if (token.text.empty()) error(token, fmt::format("expected a name after '{}'", c));
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      token.kind = Tok::Ident;
      token.text =
          takeWhile([](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.'; });
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '-') {
      lexNumber(token);
    } else if (c == '"') {
      lexString(token);
    } else if (llvm::StringRef("{}[](),=:").contains(c)) {
      token.kind = Tok::Punct;
      token.text = std::string(1, c);
      advance();
    } else {
      error(token, fmt::format("unexpected character {}", quoteForMessage(std::string_view(&c, 1))));
    }
    return token;
  }

  [[noreturn]] void error(const Token& at, const std::string& message) const {
    fail(SourceLoc{file_, at.line, at.col}, "{}", message);
  }
  [[nodiscard]] const std::string& file() const { return file_; }

 private:
  void advance() {
    if (text_[pos_] == '\n') {
      ++line_;
      col_ = 1;
    } else {
      ++col_;
    }
    ++pos_;
  }

  template <typename Pred>
  std::string takeWhile(Pred pred) {
    size_t start = pos_;
    while (pos_ < text_.size() && pred(text_[pos_])) advance();
    return text_.substr(start, pos_ - start).str();
  }

  void skipSpace() {
    while (pos_ < text_.size()) {
      if (std::isspace(static_cast<unsigned char>(text_[pos_]))) {
        advance();
      } else if (text_.substr(pos_).startswith("//")) {
        while (pos_ < text_.size() && text_[pos_] != '\n') advance();
      } else {
        break;
      }
    }
  }

  void lexNumber(Token& token) {
    token.kind = Tok::Int;
    token.text = takeWhile(
        [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '+'; });
    if (token.text.find_first_of(".eEn") != std::string::npos) token.kind = Tok::Float;
  }

  void lexString(Token& token) {
    token.kind = Tok::String;
    advance();
    while (true) {
      if (pos_ >= text_.size() || text_[pos_] == '\n') error(token, "unterminated string");
      char c = text_[pos_];
      advance();
      if (c == '"') break;
      if (c == '\\') {
        if (pos_ >= text_.size()) error(token, "unterminated string");
        char escaped = text_[pos_];
        advance();
        if (escaped == 'n')
          token.text += '\n';
        else if (escaped == '"' || escaped == '\\')
          token.text += escaped;
        else
          error(token, fmt::format("unknown escape in string: {} after a backslash (known: \\n, \\\", \\\\)",
                                   quoteForMessage(std::string_view(&escaped, 1))));
        continue;
      }
      token.text += c;
    }
  }

  llvm::StringRef text_;
  std::string file_;
  size_t pos_ = 0;
  unsigned line_ = 1;
  unsigned col_ = 1;
};

/// Recursive-descent parser over the lexer, one token of lookahead.
class Parser {
 public:
  Parser(llvm::StringRef text, std::string file) : lexer_(text, std::move(file)) { tok_ = lexer_.next(); }

  std::unique_ptr<Module> parseModule() {
    auto module = std::make_unique<Module>();
    expectIdent("module");
    module->name = expect(Tok::SymbolRef, "a module name such as @llama").text;
    if (isIdent("attributes")) {
      take();
      module->attrs = parseAttrDict();
    }
    while (tok_.kind != Tok::End) module->graphs.push_back(parseGraph(*module));
    return module;
  }

 private:
  Token take() {
    Token current = tok_;
    tok_ = lexer_.next();
    return current;
  }
  [[nodiscard]] bool isPunct(char c) const { return tok_.kind == Tok::Punct && tok_.text[0] == c; }
  [[nodiscard]] bool isIdent(llvm::StringRef word) const { return tok_.kind == Tok::Ident && tok_.text == word; }
  [[noreturn]] void errorHere(const std::string& expected) const {
    std::string got = tok_.kind == Tok::End ? "end of file" : quoteForMessage(tok_.text);
    lexer_.error(tok_, fmt::format("expected {}, got {}", expected, got));
  }
  Token expect(Tok kind, const std::string& what) {
    if (tok_.kind != kind) errorHere(what);
    return take();
  }
  void expectPunct(char c) {
    if (!isPunct(c)) errorHere(fmt::format("'{}'", c));
    take();
  }
  void expectIdent(llvm::StringRef word) {
    if (!isIdent(word)) errorHere(fmt::format("'{}'", word.str()));
    take();
  }

  int64_t parseInt(const Token& token) {
    int64_t value = 0;
    auto [end, ec] = std::from_chars(token.text.data(), token.text.data() + token.text.size(), value);
    if (ec != std::errc() || end != token.text.data() + token.text.size())
      lexer_.error(token, fmt::format("invalid integer {}", quoteForMessage(token.text)));
    return value;
  }

  Attribute parseAttrValue() {
    Token token = take();
    switch (token.kind) {
      case Tok::Int:
        return parseInt(token);
      case Tok::Float: {
        double value = 0;
        auto [end, ec] = std::from_chars(token.text.data(), token.text.data() + token.text.size(), value);
        if (ec != std::errc() || end != token.text.data() + token.text.size())
          lexer_.error(token, fmt::format("invalid number {}", quoteForMessage(token.text)));
        return value;
      }
      case Tok::String:
        return token.text;
      case Tok::Ident:
        if (token.text == "true" || token.text == "false") return token.text == "true";
        break;
      case Tok::Punct:
        if (token.text == "[") {
          std::vector<int64_t> values;
          while (!isPunct(']')) {
            if (!values.empty()) expectPunct(',');
            values.push_back(parseInt(expect(Tok::Int, "an integer")));
          }
          take();
          return values;
        }
        break;
      default:
        break;
    }
    lexer_.error(token, fmt::format("expected an attribute value, got {}", quoteForMessage(token.text)));
  }

  AttrDict parseAttrDict() {
    AttrDict attrs;
    expectPunct('{');
    while (!isPunct('}')) {
      if (!attrs.empty()) expectPunct(',');
      Token key = expect(Tok::Ident, "an attribute name");
      if (attrs.has(key.text)) lexer_.error(key, fmt::format("duplicate attribute {}", quoteForMessage(key.text)));
      expectPunct('=');
      attrs.set(key.text, parseAttrValue());
    }
    take();
    return attrs;
  }

  TensorType parseType() {
    Token elem = expect(Tok::Ident, "a type such as f32[M, 4096]");
    std::optional<ElemType> elemType = parseElemType(elem.text);
    if (!elemType) lexer_.error(elem, fmt::format("unknown element type {}", quoteForMessage(elem.text)));
    TensorType type;
    type.elem = *elemType;
    expectPunct('[');
    while (!isPunct(']')) {
      if (!type.shape.empty()) expectPunct(',');
      if (isIdent("M") || isIdent("S")) {
        type.shape.push_back(take().text == "M" ? kDimM : kDimS);
        continue;
      }
      Token dim = expect(Tok::Int, "a dimension (a number, M or S)");
      int64_t size = parseInt(dim);
      if (size < 0) lexer_.error(dim, fmt::format("negative dimension {}", size));
      type.shape.push_back(size);
    }
    take();
    if (!type.numElements(1, 1)) lexer_.error(elem, "tensor size overflows");
    return type;
  }

  void parseOp(Graph& graph, int layer) {
    OpSpec spec;
    spec.layer = layer;
    spec.loc = SourceLoc{lexer_.file(), tok_.line, tok_.col};
    std::vector<Token> results;
    if (tok_.kind == Tok::ValueRef) {
      results.push_back(take());
      while (isPunct(',')) {
        take();
        results.push_back(expect(Tok::ValueRef, "a result name"));
      }
      expectPunct('=');
    }
    Token opName = expect(Tok::Ident, "an op name");
    if (!lookupOp(opName.text)) lexer_.error(opName, fmt::format("unknown op {}", quoteForMessage(opName.text)));
    spec.name = opName.text;
    if (tok_.kind == Tok::ValueRef) {
      while (true) {
        Token ref = take();
        Value* value = graph.lookup(ref.text);
        if (!value) lexer_.error(ref, fmt::format("use of undefined value %{}", ref.text));
        spec.operands.push_back(value);
        if (!isPunct(',')) break;
        take();
        if (tok_.kind != Tok::ValueRef) errorHere("an operand");
      }
    }
    if (isPunct('{')) spec.attrs = parseAttrDict();
    if (!results.empty()) {
      expectPunct(':');
      for (size_t i = 0; i < results.size(); ++i) {
        if (i) expectPunct(',');
        spec.resultTypes.push_back(parseType());
      }
    }
    for (const Token& result : results) {
      if (graph.lookup(result.text)) lexer_.error(result, fmt::format("redefinition of %{}", result.text));
      for (const std::string& earlier : spec.resultNames)
        if (earlier == result.text) lexer_.error(result, fmt::format("redefinition of %{}", result.text));
      spec.resultNames.push_back(result.text);
    }
    const OpDef* def = lookupOp(spec.name);
    if (def->numResults >= 0 && static_cast<int>(results.size()) != def->numResults)
      lexer_.error(opName, fmt::format("op '{}' has {} results, got {}", opName.text, def->numResults, results.size()));
    graph.create(spec);
  }

  std::unique_ptr<Graph> parseGraph(const Module& module) {
    expectIdent("graph");
    Token name = expect(Tok::SymbolRef, "a graph name such as @decode");
    if (module.findGraph(name.text)) lexer_.error(name, fmt::format("redefinition of graph @{}", name.text));
    auto graph = std::make_unique<Graph>(name.text);
    if (isIdent("attributes")) {
      take();
      graph->attrs() = parseAttrDict();
    }
    expectPunct('{');
    while (!isPunct('}')) {
      if (tok_.kind == Tok::End) errorHere("'}' closing graph @" + name.text);
      if (isIdent("layer")) {
        take();
        Token number = expect(Tok::Int, "a layer number");
        int64_t layer = parseInt(number);
        if (layer < 0 || layer > 1'000'000) lexer_.error(number, fmt::format("invalid layer number {}", layer));
        expectPunct('{');
        while (!isPunct('}')) {
          if (tok_.kind == Tok::End) errorHere("'}' closing layer " + number.text);
          parseOp(*graph, static_cast<int>(layer));
        }
        take();
        continue;
      }
      parseOp(*graph, -1);
    }
    take();
    return graph;
  }

  mutable Lexer lexer_;
  Token tok_;
};

}  // namespace

std::unique_ptr<Module> parseModule(llvm::StringRef text, llvm::StringRef fileName) {
  return Parser(text, fileName.str()).parseModule();
}

std::unique_ptr<Module> parseModuleFile(const std::string& path) {
  std::stringstream buffer;
  if (path == "-") {
    buffer << std::cin.rdbuf();
    return parseModule(buffer.str(), "<stdin>");
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) failPlain("{}: cannot open file", path);
  buffer << file.rdbuf();
  return parseModule(buffer.str(), path);
}

}  // namespace reel::ir
