#pragma once
/// \file
/// Reads a Hugging Face `config.json` of model_type "llama", "qwen2" or "mistral".
///
/// Keys read (others, such as torch_dtype or bos_token_id, are ignored):
///   model_type                 required: "llama" | "qwen2" | "mistral"
///   vocab_size, hidden_size, intermediate_size, num_hidden_layers, num_attention_heads,
///   max_position_embeddings, rms_norm_eps
///                              required
///   num_key_value_heads        default num_attention_heads
///   head_dim                   default hidden_size / num_attention_heads
///   rope_theta                 default 10000
///   rope_scaling               null, or {rope_type (or type) = "llama3", factor,
///                              low_freq_factor, high_freq_factor,
///                              original_max_position_embeddings}; other types are refused
///   rope_parameters            transformers v5's home of rope_theta and the scaling keys
///   tie_word_embeddings        default false
///   sliding_window             mistral: used when not null; qwen2: used only when
///                              use_sliding_window is true and every layer slides
///                              (max_window_layers 0, or layer_types all "sliding_attention")
///   hidden_act                 if present, must be "silu"
///   attention_bias, mlp_bias   llama: must be false if present
///   _name_or_path              the model's name (its last path component); without it,
///                              the name of the directory holding the file
/// qwen2 implies Q/K/V biases and neox-style rotary embeddings; llama and mistral use norm.
///
/// A wrong type reads "config.json: key 'num_attention_heads': expected an integer, got
/// string"; malformed JSON gives line:column; every message is one reel::Error line.

#include "models/ModelConfig.h"

#include <string>
#include <string_view>

namespace reel::models {

/// Parses and validates one config.json. `fileName` is used in messages, as the config's
/// `source`, and for the model name when `_name_or_path` is absent. Throws reel::Error.
ModelConfig readHfConfig(std::string_view text, const std::string& fileName);

}  // namespace reel::models
