#pragma once
/// \file
/// Checks the IR fuzz targets share.
///
/// The default pass pipeline as they run it: through the PassManager, over a registry whose
/// passes are the built-in ones wrapped in checks. A pass may reject its input with a
/// reel::Error (the manager turns it into a PassError, an expected outcome the caller
/// catches). A pass that throws anything else, or that leaves a graph the verifier
/// rejects, aborts with the pass's name: the manager alone would report the first as an
/// ordinary PassError and would not verify after a pass that reports no change, so neither
/// would show up as a finding.

#include "ir/Graph.h"
#include "passes/Pass.h"

namespace reel::fuzz {

/// Runs the default pipeline (passes::kDefaultPipeline) on `module` with `context`.
/// Throws passes::PassError when a pass rejects the module; aborts on a finding.
void runCheckedPipeline(ir::Module& module, passes::PassContext& context);

/// Aborts when printing `module`, parsing the text and printing again does not give the
/// same text (plans store optimized IR as text, so it must read back).
void checkPrintParseRoundTrip(const ir::Module& module, const char* target);

}  // namespace reel::fuzz
