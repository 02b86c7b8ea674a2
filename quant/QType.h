#pragma once
/// \file
/// The element types of tensors and quantized rows, each described once: its name and
/// the elements and bytes of one block. The IR's element types (ir/Types.h) are these
/// with the same values, plus i32. Host code only, and no CUDA needed (the .cu files
/// include it through QuantRef.h).

#include "quant/QuantFormats.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace reel::quant {

/// Element types of tensors and of quantized rows.
enum class QType : uint8_t { F32, F16, BF16, Q8_0, Q5_0, Q4_K, Q6_K, Q8_1, FP8_E4M3, Q4_0, Q5_K, Q5_1 };

/// What one element type is: its name and its block.
struct QTypeInfo {
  QType type;
  std::string_view name;  ///< lower case ("q4_k", "f16", ...): kernel ids, plan files, the IR text
  size_t blockElems;      ///< elements per block (1 for the scalar types)
  size_t blockBytes;      ///< bytes per block (the element size for the scalar types)
};

/// Every QType, in enumerator order. Block sizes follow the GGUF/ggml formats.
inline constexpr std::array<QTypeInfo, 12> kQTypes{{
    {QType::F32, "f32", 1, 4},
    {QType::F16, "f16", 1, 2},
    {QType::BF16, "bf16", 1, 2},
    {QType::Q8_0, "q8_0", kQK32, sizeof(BlockQ80)},
    {QType::Q5_0, "q5_0", kQK32, sizeof(BlockQ50)},
    {QType::Q4_K, "q4_k", kQK_K, sizeof(BlockQ4K)},
    {QType::Q6_K, "q6_k", kQK_K, sizeof(BlockQ6K)},
    {QType::Q8_1, "q8_1", kQK32, sizeof(BlockQ81)},
    {QType::FP8_E4M3, "fp8_e4m3", 1, 1},
    {QType::Q4_0, "q4_0", kQK32, sizeof(BlockQ40)},
    {QType::Q5_K, "q5_k", kQK_K, sizeof(BlockQ5K)},
    {QType::Q5_1, "q5_1", kQK32, sizeof(BlockQ51)},
}};

namespace detail {
constexpr bool qtypesInEnumOrder() {
  for (size_t i = 0; i < kQTypes.size(); ++i)
    if (static_cast<size_t>(kQTypes[i].type) != i) return false;
  return true;
}
}  // namespace detail
static_assert(detail::qtypesInEnumOrder(), "kQTypes lists every QType once, in enumerator order");

/// The description of `type`.
constexpr const QTypeInfo& qtypeInfo(QType type) {
  return kQTypes[static_cast<size_t>(type)];
}
/// Lower-case name ("q4_k", "f16", ...), as used in kernel ids.
constexpr std::string_view qtypeName(QType type) {
  return qtypeInfo(type).name;
}
/// Parses qtypeName's spelling; returns false for an unknown name.
constexpr bool parseQType(std::string_view name, QType& out) {
  for (const QTypeInfo& info : kQTypes) {
    if (info.name == name) {
      out = info.type;
      return true;
    }
  }
  return false;
}
/// Elements per block (1 for the scalar types).
constexpr size_t blockElems(QType type) {
  return qtypeInfo(type).blockElems;
}
/// Bytes per block.
constexpr size_t blockBytes(QType type) {
  return qtypeInfo(type).blockBytes;
}

}  // namespace reel::quant
