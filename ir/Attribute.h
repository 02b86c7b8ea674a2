#pragma once
/// \file
/// Op and graph attributes: a small ordered dictionary of typed constants. Order is kept
/// as written (by the builder or in the text) so that printing is deterministic and
/// print -> parse -> print is byte-identical.

#include <llvm/ADT/SmallVector.h>
#include <llvm/ADT/StringRef.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace reel::ir {

/// One attribute value: integer, float, string, bool or a list of integers.
using Attribute = std::variant<int64_t, double, std::string, bool, std::vector<int64_t>>;

/// The text form of an attribute value, e.g. `4096`, `1.0e-05`, `"neox"`, `true`, `[1, 2]`.
std::string attributeText(const Attribute& value);

/// An ordered name -> attribute dictionary.
class AttrDict {
 public:
  using Entry = std::pair<std::string, Attribute>;

  /// Sets `name`, keeping its position if it exists, appending it otherwise.
  void set(llvm::StringRef name, Attribute value);
  /// Removes `name`; returns whether it was present.
  bool erase(llvm::StringRef name);
  [[nodiscard]] const Attribute* find(llvm::StringRef name) const;
  [[nodiscard]] bool has(llvm::StringRef name) const { return find(name) != nullptr; }

  [[nodiscard]] std::optional<int64_t> getInt(llvm::StringRef name) const;
  [[nodiscard]] std::optional<double> getFloat(llvm::StringRef name) const;  ///< ints convert
  [[nodiscard]] std::optional<std::string> getString(llvm::StringRef name) const;
  [[nodiscard]] std::optional<bool> getBool(llvm::StringRef name) const;
  [[nodiscard]] const std::vector<int64_t>* getInts(llvm::StringRef name) const;

  [[nodiscard]] bool empty() const { return entries_.empty(); }
  [[nodiscard]] const llvm::SmallVector<Entry, 4>& entries() const { return entries_; }
  /// "{a = 1, b = "x"}", or "" when empty.
  [[nodiscard]] std::string str() const;

  friend bool operator==(const AttrDict& a, const AttrDict& b) { return a.entries_ == b.entries_; }

 private:
  llvm::SmallVector<Entry, 4> entries_;
};

}  // namespace reel::ir
