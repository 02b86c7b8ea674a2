#pragma once
/// \file
/// The IR text format, parser side (see Printer.h for the grammar by example). Errors
/// throw reel::Error naming file:line:col. The parser checks syntax, names and op
/// arities; run the verifier for the type and shape rules.

#include "ir/Graph.h"

#include <llvm/ADT/StringRef.h>

#include <memory>

namespace reel::ir {

/// Parses a whole module from `text`; `fileName` is used in error messages and locations.
std::unique_ptr<Module> parseModule(llvm::StringRef text, llvm::StringRef fileName);

/// Reads and parses a file ("-" reads standard input).
std::unique_ptr<Module> parseModuleFile(const std::string& path);

}  // namespace reel::ir
