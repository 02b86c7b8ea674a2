#include "models/QuantPolicy.h"

namespace reel::models {
namespace {

using ir::ElemType;

ElemType fallbackForRaggedRows(ElemType type, int64_t rowLength) {
  if (rowLength % 256 != 0) {
    if (type == ElemType::Q4_K) type = ElemType::Q5_0;
    if (type == ElemType::Q5_K) type = ElemType::Q5_1;
    if (type == ElemType::Q6_K) type = ElemType::Q8_0;
  }
  // Rows that no block format tiles stay in half precision.
  if (rowLength % ir::blockElems(type) != 0) type = ElemType::F16;
  return type;
}

/// The Q4_K_M / Q5_K_M rule with `base` (Q4_K or Q5_K) for the weights that get no more bits.
ElemType kmType(const ModelConfig& config, const WeightSlot& slot, ElemType base) {
  switch (slot.role) {
    case WeightRole::Output:
      return ElemType::Q6_K;
    case WeightRole::TokenEmbd:
      return config.tieEmbeddings ? ElemType::Q6_K : base;
    case WeightRole::AttnV:
    case WeightRole::FfnDown:
      return usesMoreBits(slot.layer, config.numLayers) ? ElemType::Q6_K : base;
    default:
      return base;
  }
}

/// `base` everywhere but the output matrix (or the tied token_embd), which is Q6_K.
ElemType outputAtQ6k(const ModelConfig& config, const WeightSlot& slot, ElemType base) {
  return slot.role == WeightRole::Output || (slot.role == WeightRole::TokenEmbd && config.tieEmbeddings)
             ? ElemType::Q6_K
             : base;
}

}  // namespace

bool usesMoreBits(int64_t layer, int64_t numLayers) {
  return layer < numLayers / 8 || layer >= 7 * numLayers / 8 || (layer - numLayers / 8) % 3 == 2;
}

ElemType weightType(const ModelConfig& config, QuantScheme scheme, const WeightSlot& slot) {
  if (slot.role == WeightRole::Norm || slot.role == WeightRole::Bias) return ElemType::F32;
  ElemType type = ElemType::F32;
  switch (scheme) {
    case QuantScheme::F16:
      return ElemType::F16;
    case QuantScheme::BF16:
      return ElemType::BF16;
    case QuantScheme::Q8_0:
      type = ElemType::Q8_0;
      break;
    case QuantScheme::Q4_K:
      type = outputAtQ6k(config, slot, ElemType::Q4_K);
      break;
    case QuantScheme::Q4_0:
      type = outputAtQ6k(config, slot, ElemType::Q4_0);
      break;
    case QuantScheme::Q4_K_M:
      type = kmType(config, slot, ElemType::Q4_K);
      break;
    case QuantScheme::Q5_K_M:
      type = kmType(config, slot, ElemType::Q5_K);
      break;
  }
  return fallbackForRaggedRows(type, slot.rowLength);
}

}  // namespace reel::models
