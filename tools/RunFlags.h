#pragma once
/// \file
/// What `reel run` reads and prints the same way on the CPU reference and on the GPU: the
/// decode request from its flags, the prefill mode, and the per-sequence lines of the report.

#include "runtime/decode/DecodeScheduler.h"
#include "runtime/reference/WeightSource.h"
#include "tools/Args.h"

#include <cstdint>
#include <string>

namespace reel::tools {

/// Declares --tokens (-n), --prompt-tokens, --batch and --prefill.
void declareRunRequestFlags(Args& args);

/// The request of --prompt-tokens, --batch and --tokens, each parsed strictly and bounded.
/// Sequence i's prompt is the given one plus its first i tokens again (cyclically), so that
/// the sequences of a batch sit at different positions.
decode::DecodeRequest runRequestFromFlags(const Args& args);

/// Declares --check-tensors.
void declareTensorCheckFlag(Args& args);

/// --check-tensors: on (the default: every f32/f16/bf16/fp8 element and every quantized
/// block's scales of a weight file are checked for NaN and Inf before they are used) or off.
reference::TensorValueCheck tensorCheckFromFlags(const Args& args);

/// --prefill: auto (the default), graph or tokens.
decode::PrefillMode prefillModeFromFlags(const Args& args);

/// One line per sequence, "sequence 0 (3 prompt tokens): 12 7 99", and after a sequence that
/// its context stopped, "sequence 0: context full (...)". `maxContext` is the KV positions one
/// sequence may use.
std::string sequenceLines(const decode::DecodeReport& report, const decode::DecodeRequest& request,
                          int64_t maxContext);

/// What `reel run` prints after a decode, on any device: the prefill and decode paths, the
/// sequence lines, and the decode speed ("decode: 5 steps in 0.010 s: 2.000 ms per step, ...").
std::string runReport(const decode::DecodeReport& report, const decode::DecodeRequest& request, int64_t maxContext);

}  // namespace reel::tools
