#pragma once
/// \file
/// What `reel run` reads and prints the same way on the CPU reference and on the GPU: the
/// decode request from its flags, the prefill mode, and the per-sequence lines of the report.

#include "runtime/reference/DecodeDriver.h"
#include "tools/Args.h"

#include <cstdint>
#include <string>

namespace reel::tools {

/// Declares --tokens (-n), --prompt-tokens, --batch and --prefill.
void declareRunRequestFlags(Args& args);

/// The request of --prompt-tokens, --batch and --tokens, each parsed strictly and bounded.
/// Sequence i's prompt is the given one plus its first i tokens again (cyclically), so that
/// the sequences of a batch sit at different positions.
reference::DecodeRequest runRequestFromFlags(const Args& args);

/// --prefill: auto (the default), graph or tokens.
reference::PrefillMode prefillModeFromFlags(const Args& args);

/// One line per sequence, "sequence 0 (3 prompt tokens): 12 7 99", and after a sequence that
/// its context stopped, "sequence 0: context full (...)". `maxContext` is the KV positions one
/// sequence may use.
std::string sequenceLines(const reference::DecodeReport& report, const reference::DecodeRequest& request,
                          int64_t maxContext);

}  // namespace reel::tools
