// reel tokenize model.gguf -p TEXT: the token ids of a text and the piece of each.
#include "runtime/gguf/GgufFile.h"
#include "text/Tokenizer.h"
#include "text/Utf8.h"
#include "tools/Args.h"
#include "tools/Commands.h"

#include <fmt/format.h>

namespace reel::tools {
namespace {

/// A piece made printable on one line: whole UTF-8 characters as they are, control
/// characters and bytes that are not UTF-8 escaped (\n, \t, \xNN).
std::string printable(std::string_view piece) {
  std::string out;
  for (size_t at = 0; at < piece.size();) {
    const text::Utf8Char c = text::scanUtf8(piece, at);
    const auto byte = static_cast<uint8_t>(piece[at]);
    if (c.status != text::Utf8Status::Complete) {
      out += fmt::format("\\x{:02x}", byte);
    } else if (byte == '\n') {
      out += "\\n";
    } else if (byte == '\t') {
      out += "\\t";
    } else if (byte < 0x20 || byte == 0x7f) {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out.append(piece, at, c.length);
    }
    at += c.status == text::Utf8Status::Complete ? c.length : 1;
  }
  return out;
}

}  // namespace

int runTokenize(int argc, char** argv) {
  Args args("reel tokenize", "Print the token ids of a text, with the piece each stands for.");
  args.positional("MODEL", "a .gguf file carrying a tokenizer (tokenizer.ggml.*)");
  args.option("--prompt", "TEXT", "the text to tokenize", "-p");
  args.flag("--no-bos", "do not add BOS (or EOS) even where the vocabulary asks for it");
  args.flag("--no-parse-special", "control tokens written in the text stay text");
  args.flag("--ids-only", "print only the ids, as [1, 2, 3]");
  if (!args.parse(argc, argv, 2)) return 0;
  const std::optional<std::string> prompt = args.get("--prompt");
  if (!prompt) failPlain("reel tokenize: missing --prompt TEXT (-p)");

  const GgufFile file = GgufFile::open(*args.get("MODEL"));
  const text::Tokenizer tokenizer(text::Vocabulary::fromMetadata(file.metadata()));
  const std::vector<text::TokenId> ids =
      tokenizer.encode(*prompt, {.addSpecial = !args.has("--no-bos"), .parseSpecial = !args.has("--no-parse-special")});
  std::string out;
  if (args.has("--ids-only")) {
    out = fmt::format("[{}]\n", fmt::join(ids, ", "));
  } else {
    for (text::TokenId id : ids) out += fmt::format("{:>6} -> '{}'\n", id, printable(tokenizer.piece(id, true)));
  }
  writeOutput("", out);
  return 0;
}

}  // namespace reel::tools
