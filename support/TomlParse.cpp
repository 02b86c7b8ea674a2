#include "support/TomlParse.h"

#include <cctype>

namespace reel::support {

SourceLoc tomlLocation(const std::string& file, const toml::source_region& region) {
  return SourceLoc{file, region.begin.line, region.begin.column};
}

toml::table parseTomlText(std::string_view text, const std::string& file) {
  unsigned line = 1, column = 1;
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80)
      fail(SourceLoc{file, line, column}, "non-ASCII byte 0x{:02x}: reel's TOML files are ASCII",
           static_cast<unsigned>(static_cast<unsigned char>(c)));
    ++column;
    if (c == '\n') {
      ++line;
      column = 1;
    }
  }
  try {
    return toml::parse(text, file);
  } catch (const toml::parse_error& error) {
    std::string description(error.description());
    for (char& c : description)
      if (std::iscntrl(static_cast<unsigned char>(c))) c = ' ';
    fail(tomlLocation(file, error.source()), "malformed TOML: {}", description);
  }
}

}  // namespace reel::support
