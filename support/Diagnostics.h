#pragma once
/// \file
/// Errors reported to users. Every failure caused by bad input (a config, IR text, a
/// GGUF or plan file, a CLI flag) is thrown as a reel::Error whose message is one line
/// that names the file and the place: "model.toml:12:5: expected an integer for 'n_heads'".
/// The CLI catches it at the top, prints "reel: error: <message>" and exits nonzero.

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace reel {

/// A place in an input: a file and, where known, a line and column (1-based; 0 = unknown),
/// or for binary files a byte offset.
struct SourceLoc {
  std::string file;
  unsigned line = 0;
  unsigned col = 0;

  /// "file:line:col", "file:line" or "file", depending on what is known.
  [[nodiscard]] std::string str() const;
};

/// The one exception type for user-facing errors. what() is the full one-line message.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

/// Quotes input text for an error message: printable ASCII as is, other bytes (control
/// characters, escape sequences, non-ASCII) and the quote and backslash as \xNN, cut after
/// 80 bytes, so that hostile input cannot break or restyle the one-line message. Every
/// reader (IR text, GGUF, model configs) quotes what it echoes with it.
[[nodiscard]] std::string quoteForMessage(std::string_view text);

/// Throws an Error "where: message".
template <typename... Args>
[[noreturn]] void fail(const SourceLoc& where, fmt::format_string<Args...> format, Args&&... args) {
  throw Error(where.str() + ": " + fmt::format(format, std::forward<Args>(args)...));
}

/// Throws an Error with a message that already says where.
template <typename... Args>
[[noreturn]] void failPlain(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace reel
