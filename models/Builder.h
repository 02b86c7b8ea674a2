#pragma once
/// \file
/// The builder: a ModelConfig plus a quantization scheme become the IR of one step of
/// M tokens (graph @step, generic in M), which the pass pipeline then specialises per
/// bucket. Weights are named as in llama.cpp's GGUF files (blk.N.attn_q.weight ...).

#include "ir/Graph.h"
#include "models/ModelConfig.h"

#include <memory>

namespace reel::models {

struct BuildOptions {
  QuantScheme scheme = QuantScheme::Q4_K_M;
  /// The step ends in `sample` (each row's token as its sampling step inputs say: greedy,
  /// penalised or drawn) instead of `argmax` (greedy only).
  bool sampling = false;
};

/// One weight the model reads: its GGUF name, qtype and logical shape [rows, cols]
/// (cols = the row length; GGUF's ne[] is this order reversed).
struct WeightInfo {
  std::string name;
  ir::TensorType type;
};

/// Builds the module: module attributes carry the config, graph @step the ops.
std::unique_ptr<ir::Module> buildModule(const ModelConfig& config, const BuildOptions& options);

/// The weights of the model under `options`, in graph order.
std::vector<WeightInfo> modelWeights(const ModelConfig& config, const BuildOptions& options);

/// Reads a ModelConfig back from a module's attributes (as written by buildModule).
/// Throws reel::Error naming the missing attribute.
ModelConfig configFromModule(const ir::Module& module);

}  // namespace reel::models
