#pragma once
/// \file
/// A small declarative command-line parser for the reel subcommands: each subcommand
/// declares its flags, options and positionals; `--help` prints them; an unknown flag,
/// a missing value or a missing positional is a one-line reel::Error.

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace reel::tools {

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
