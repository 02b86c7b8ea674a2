#pragma once
/// \file
/// A table of hooks keyed by name, for the registries that plugins add to (the lowering
/// and CPU-reference hooks of ops): one hook per name, a second registration refused.

#include "support/Diagnostics.h"

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace reel {

template <class Hook>
class HookTable {
 public:
  /// `what` names a hook in errors: "op 'x' already has a {what}".
  HookTable(std::string what, std::map<std::string, Hook, std::less<>> hooks)
      : what_(std::move(what)), hooks_(std::move(hooks)) {}

  /// Adds the hook of `name`. Throws reel::Error when it is empty or `name` has one.
  void add(const std::string& name, Hook hook) {
    if (!hook) failPlain("op '{}': the {} hook is empty", name, what_);
    if (!hooks_.emplace(name, std::move(hook)).second) failPlain("op '{}' already has a {}", name, what_);
  }
  /// The hook of `name`, or nullptr. It stays where it is for the life of the table.
  [[nodiscard]] const Hook* find(std::string_view name) const {
    auto found = hooks_.find(name);
    return found == hooks_.end() ? nullptr : &found->second;
  }
  /// The names with a hook, sorted.
  [[nodiscard]] std::vector<std::string> names() const {
    std::vector<std::string> list;
    for (const auto& entry : hooks_) list.push_back(entry.first);
    return list;
  }

 private:
  std::string what_;
  std::map<std::string, Hook, std::less<>> hooks_;
};

}  // namespace reel
