#pragma once
/// \file
/// Which qtype each weight gets under a quantization scheme. Q4_K_M and Q5_K_M follow
/// llama.cpp's rule: output.weight (or the tied token_embd) at Q6_K; attn_v and ffn_down at
/// Q6_K in layers i < n/8, i >= 7n/8 and every third layer between; everything else Q4_K
/// (Q5_K). Q4_0: Q4_0 everywhere but output.weight (or the tied token_embd), which is Q6_K. A
/// row length that is not a multiple of the K-quant super-block (256) falls back as llama.cpp
/// does: Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0 (Qwen2.5-0.5B's rows of 896). F16 and BF16:
/// every matrix in that type. Norms and biases stay f32.

#include "ir/Types.h"
#include "models/ModelConfig.h"

namespace reel::models {

/// What a weight is for; decides its qtype.
enum class WeightRole { TokenEmbd, Output, Norm, Bias, AttnQ, AttnK, AttnV, AttnOut, FfnGate, FfnUp, FfnDown };

struct WeightSlot {
  WeightRole role;
  int64_t layer = -1;     ///< -1 for non-layer weights
  int64_t rowLength = 0;  ///< elements per row (the matmul's K)
};

/// llama.cpp's use_more_bits: the layers that get more bits under Q4_K_M.
bool usesMoreBits(int64_t layer, int64_t numLayers);

/// The element type of one weight under `scheme`.
ir::ElemType weightType(const ModelConfig& config, QuantScheme scheme, const WeightSlot& slot);

}  // namespace reel::models
