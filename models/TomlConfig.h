#pragma once
/// \file
/// reel's model TOML: one model's hyper-parameters, as written in models/configs/*.toml.
///
///   # Source: meta-llama/Llama-3.2-1B (config.json)
///   [model]
///   name              = "llama-3.2-1b"  # required, string
///   architecture      = "llama"         # required: "llama", "qwen2" or "mistral"
///   vocab_size        = 128256          # required, positive integers from here on
///   hidden_size       = 2048
///   intermediate_size = 8192
///   num_layers        = 16
///   num_heads         = 32
///   num_kv_heads      = 8               # must divide num_heads (GQA)
///   head_dim          = 64              # optional; default hidden_size / num_heads
///   max_context       = 131072
///   rms_norm_eps      = 1e-5            # required, positive number
///   rope_theta        = 500000.0        # required, positive number (an integer is fine)
///   rope_style        = "norm"          # optional: "norm" | "neox"; default by architecture:
///                                       #   llama, mistral -> "norm"; qwen2 -> "neox"
///   tie_embeddings    = true            # required, boolean: output reuses token_embd
///   qkv_bias          = false           # required, boolean: Q/K/V projections have biases
///   sliding_window    = 4096            # optional, positive integer (Mistral)
///
///   [rope_scaling]                      # optional table: Llama 3.1-style RoPE scaling
///   type              = "llama3"        # required; the only type reel supports
///   factor            = 32.0            # required, positive number
///   low_freq_factor   = 1.0             # optional, default 1.0
///   high_freq_factor  = 4.0             # optional, default 4.0; must exceed low_freq_factor
///   original_context  = 8192            # required, positive integer
///
/// Every mistake is one reel::Error line naming the file and the place (line:column of the
/// value, or of the table when a key is missing): malformed TOML, a missing required key, a
/// value of the wrong type, an unknown key or table (typos never pass silently), and every
/// inconsistency ModelConfig::validate() finds. docs/model-config.md describes the format.

#include "models/ModelConfig.h"

#include <string>
#include <string_view>

namespace reel::models {

/// Parses and validates one model TOML. `fileName` is used in messages and as the
/// config's `source`. The result has headDim filled in. Throws reel::Error.
ModelConfig readTomlConfig(std::string_view text, const std::string& fileName);

}  // namespace reel::models
