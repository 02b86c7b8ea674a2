#pragma once
/// \file
/// TOML parsing for reel's config readers (model TOML, GPU profiles): TOML++ behind one
/// function whose errors are reel::Error with file:line:col, on one line.
///
/// The input must be ASCII. TOML++ 3.3 (Debian's) reaches __builtin_unreachable on some
/// non-ASCII code points where it tests for Unicode whitespace (found by fuzzing), so the
/// text is checked before it gets there; reel's TOML files need nothing beyond ASCII.

#include "support/Diagnostics.h"

// toml++ 3.3 asserts on some malformed input ("[\n", "x = [}", "1979-05-27T:00Z"; upstream
// marzer/tomlplusplus#301 fixes the first) that its parser, asserts off, reports as the
// parse errors they are. Bad input must give a reel::Error, never an abort. Every file
// includes TOML++ through this header, so all of them see the same setting.
#ifndef TOML_ASSERT
#define TOML_ASSERT(expr) static_cast<void>(0)
#endif
#include <toml++/toml.h>

#include <string>
#include <string_view>

namespace reel::support {

/// Parses `text` (named `file` in messages). Throws reel::Error.
toml::table parseTomlText(std::string_view text, const std::string& file);

/// The place of a TOML node, for messages.
SourceLoc tomlLocation(const std::string& file, const toml::source_region& region);

}  // namespace reel::support
