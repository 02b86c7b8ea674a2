#pragma once
/// \file
/// A small declarative command-line parser for the reel subcommands: each subcommand
/// declares its flags, options and positionals; `--help` prints them; an unknown flag,
/// a missing value or a missing positional is a one-line reel::Error.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace reel::tools {

/// The values an integer option accepts, both ends included.
struct IntRange {
  int64_t min = 0;
  int64_t max = 0;
};

/// Parses all of `text` as a decimal integer within `range`; anything else (empty, a sign or
/// trailing characters, out of range) is a one-line reel::Error naming `what` ("reel run: --ctx").
int64_t parseIntIn(const std::string& text, IntRange range, const std::string& what);

/// Parses "4,16,64": every comma-separated piece by parseIntIn (an empty piece is an error).
std::vector<int64_t> parseIntList(const std::string& text, IntRange range, const std::string& what);

/// "4096", "512M", "1.5G", "4GiB", "2GB": bytes. K, M, G, T, KiB, MiB, GiB and TiB are powers of
/// 1024, KB, MB, GB and TB powers of 1000, B or no suffix bytes (whole ones); letters in either
/// case. Nothing for anything else, for 0 bytes and for more than 2^60.
std::optional<uint64_t> parseByteSize(std::string_view text);

class Args {
 public:
  Args(std::string command, std::string summary) : command_(std::move(command)), summary_(std::move(summary)) {}

  /// A boolean flag `--name`.
  void flag(const std::string& name, const std::string& help);
  /// An option `--name=VALUE` / `--name VALUE` (or `-x VALUE` with a short alias).
  void option(const std::string& name, const std::string& valueName, const std::string& help,
              const std::string& shortAlias = "", bool repeatable = false);
  /// A positional argument.
  void positional(const std::string& name, const std::string& help, bool required = true);

  /// Parses argv[first..]; returns false if --help was given (help already printed).
  bool parse(int argc, char** argv, int first);

  [[nodiscard]] bool has(const std::string& name) const;
  [[nodiscard]] std::optional<std::string> get(const std::string& name) const;
  [[nodiscard]] std::string getOr(const std::string& name, const std::string& fallback) const;
  /// The option's value parsed strictly by parseIntIn (`fallback` when the option is absent).
  [[nodiscard]] int64_t getInt(const std::string& name, int64_t fallback, IntRange range) const;
  [[nodiscard]] std::vector<std::string> getAll(const std::string& name) const;
  [[nodiscard]] std::string help() const;
  [[nodiscard]] const std::string& command() const { return command_; }

 private:
  struct Spec {
    std::string name;
    std::string valueName;  // empty for flags
    std::string help;
    std::string shortAlias;
    bool repeatable = false;
  };
  struct Positional {
    std::string name;
    std::string help;
    bool required;
  };
  const Spec* findSpec(const std::string& name) const;

  std::string command_;
  std::string summary_;
  std::vector<Spec> specs_;
  std::vector<Positional> positionals_;
  std::map<std::string, std::vector<std::string>> values_;
};

}  // namespace reel::tools
