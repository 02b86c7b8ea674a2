#pragma once
/// \file
/// Textual pipelines: `canonicalize,fuse-gate-up{max-m=8,min-m=2},select-precision`.
///
///   pipeline := [ entry { ',' entry } ]
///   entry    := pass-name [ '{' [ option { ',' option } ] '}' ]
///   option   := option-name '=' value        value: 8 | 0.5 | true | word | [1,2,4]
///
/// Spaces and newlines between tokens are ignored. A parsed pipeline prints back in
/// canonical form: no spaces, options in the order given, `{}` dropped when empty, so
/// parse(text).str() == text for canonical text. Errors are one line naming the place:
/// `--passes:1:23: unknown pass 'fuse-gate-upp' (did you mean 'fuse-gate-up'?)`.

#include "passes/Pass.h"
#include "passes/PassTable.h"

#include <string>
#include <string_view>
#include <vector>

namespace reel::passes {

/// One pass of a pipeline with its options.
struct PipelineEntry {
  const PassInfo* info = nullptr;  ///< owned by the registry the pipeline was parsed with
  PassOptions options;

  [[nodiscard]] const std::string& name() const { return info->name; }
  /// "fuse-gate-up{max-m=8}" or "dce".
  [[nodiscard]] std::string str() const;
  /// A fresh pass instance with these options.
  [[nodiscard]] std::unique_ptr<Pass> instantiate() const;
};

/// An ordered list of passes with their options.
class Pipeline {
 public:
  Pipeline() = default;

  /// Parses `text` against `registry`. `origin` names the text in errors ("--passes").
  /// Throws reel::Error "origin:line:col: message".
  static Pipeline parse(std::string_view text, const PassRegistry& registry = PassRegistry::global(),
                        const std::string& origin = "--passes");

  /// Appends one pass (options in declaration order).
  void append(const PassInfo& info, PassOptions options);

  [[nodiscard]] const std::vector<PipelineEntry>& entries() const { return entries_; }
  [[nodiscard]] size_t size() const { return entries_.size(); }
  [[nodiscard]] bool empty() const { return entries_.empty(); }
  /// The canonical text of the whole pipeline.
  [[nodiscard]] std::string str() const { return strFrom(0); }
  /// The canonical text of entries [first, end): what a reproducer reruns.
  [[nodiscard]] std::string strFrom(size_t first) const;

 private:
  std::vector<PipelineEntry> entries_;
};

}  // namespace reel::passes
