#pragma once
/// \file
/// A ModelConfig from a GGUF file's metadata (architectures llama and qwen2), so that a
/// .gguf file is a MODEL for every reel command. Read:
///   general.architecture, general.name, <arch>.vocab_size (else the length of
///   tokenizer.ggml.tokens, else token_embd's rows), <arch>.context_length,
///   <arch>.embedding_length, <arch>.block_count, <arch>.feed_forward_length,
///   <arch>.attention.head_count, <arch>.attention.head_count_kv (default: head_count),
///   <arch>.attention.key_length (default: embedding / heads),
///   <arch>.attention.layer_norm_rms_epsilon, <arch>.rope.freq_base (default 10000),
///   <arch>.attention.sliding_window (llama: makes the architecture "mistral").
/// From the tensors: tied embeddings when there is no output.weight, Q/K/V biases when
/// blk.0.attn_q.bias exists, Llama-3 RoPE scaling when rope_freqs.weight exists (its
/// parameters from the reel.rope.llama3.* keys, or recognised in the tensor's values).
/// RoPE style: neox for qwen2, norm for llama. A missing key is a one-line reel::Error
/// naming the file and the key.

#include "models/ModelConfig.h"
#include "runtime/gguf/GgufFile.h"

#include <string>

namespace reel::models {

/// The config described by an open GGUF file (validated, headDim filled in).
models::ModelConfig configFromGguf(const GgufFile& file);

/// Opens `path` and reads its config (what loadModelConfig does for a .gguf file).
models::ModelConfig readGgufConfig(const std::string& path);

}  // namespace reel::models
