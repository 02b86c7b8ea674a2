#pragma once
/// \file
/// The sampling flags of `reel run` and `reel chat`, with llama.cpp's names: --temp, --top-k,
/// --top-p, --min-p, --repeat-penalty, --presence-penalty, --frequency-penalty,
/// --repeat-last-n, --seed. Without any of them decoding is greedy and the plan ends in
/// `argmax`, as it always did; with one, the plan is built to sample (its step ends in
/// `sample`) and the flags not given take llama.cpp's defaults (docs/sampling.md).

#include "runtime/decode/Sampling.h"
#include "tools/Args.h"

#include <cstdint>
#include <string>

namespace reel::tools {

void declareSamplingFlags(Args& args);

/// Whether any sampling flag is given: the model is then built to sample.
bool samplingRequested(const Args& args);

/// The parameters of the flags, validated (a one-line error naming the flag): greedy without
/// any; with one, temperature 0.8, top-k 40, top-p 0.95, min-p 0.05, penalties off over the
/// last 64 tokens, and a random seed where --seed is absent.
decode::SamplingParams samplingFromFlags(const Args& args);

/// "sampling: temp 0.8, top-k 40, top-p 0.95, min-p 0.05, seed 1234" (penalties where on),
/// or "" for greedy decoding.
std::string describeSampling(const decode::SamplingParams& params);

}  // namespace reel::tools
