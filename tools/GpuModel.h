#pragma once
/// \file
/// What `reel run --device cuda` and `reel bench` share: turning MODEL_OR_PLAN and the flags
/// into a plan and the weights it runs on. A plan file (.plan, .json) is read as is; a model
/// (a .gguf file, a .toml, a config.json or a bundled name) is built, its weight types adopted
/// from the weights, optimized with the pass flags and lowered. Synthetic weights are written
/// once to a cache file (--weights-cache, default $TMPDIR/reel-synthetic-<model>-<quant>.gguf)
/// and reused: a 7B model's weights are 4 GB.

#include "codegen/Plan.h"
#include "runtime/synth/WeightFiles.h"
#include "tools/Args.h"
#include "tools/PassFlags.h"

#include <cstdint>
#include <string>

namespace reel::tools {

struct GpuModel {
  codegen::Plan plan;
  synth::OpenWeights weights;
};

/// Loads the plan and the weights named by `args` (parsed; MODEL is the positional; flags read:
/// --weights, --synthetic, --weights-cache, --quant, --ctx and the pass flags).
/// `defaults` are the command's (CompileDefaults::lower is ignored: a GPU model is lowered).
GpuModel loadGpuModel(const Args& args, const CompileDefaults& defaults);

}  // namespace reel::tools
