#include "runtime/gguf/GgufTypes.h"

#include <fmt/format.h>

namespace reel {

std::optional<GgufValueType> ggufValueTypeFromId(uint32_t id) {
  if (id > static_cast<uint32_t>(GgufValueType::Float64)) return std::nullopt;
  return static_cast<GgufValueType>(id);
}

std::string_view ggufValueTypeName(GgufValueType type) {
  switch (type) {
    case GgufValueType::UInt8:
      return "u8";
    case GgufValueType::Int8:
      return "i8";
    case GgufValueType::UInt16:
      return "u16";
    case GgufValueType::Int16:
      return "i16";
    case GgufValueType::UInt32:
      return "u32";
    case GgufValueType::Int32:
      return "i32";
    case GgufValueType::Float32:
      return "f32";
    case GgufValueType::Bool:
      return "bool";
    case GgufValueType::String:
      return "string";
    case GgufValueType::Array:
      return "array";
    case GgufValueType::UInt64:
      return "u64";
    case GgufValueType::Int64:
      return "i64";
    case GgufValueType::Float64:
      return "f64";
  }
  return "invalid";
}

size_t ggufScalarSize(GgufValueType type) {
  switch (type) {
    case GgufValueType::UInt8:
    case GgufValueType::Int8:
    case GgufValueType::Bool:
      return 1;
    case GgufValueType::UInt16:
    case GgufValueType::Int16:
      return 2;
    case GgufValueType::UInt32:
    case GgufValueType::Int32:
    case GgufValueType::Float32:
      return 4;
    case GgufValueType::UInt64:
    case GgufValueType::Int64:
    case GgufValueType::Float64:
      return 8;
    case GgufValueType::String:
    case GgufValueType::Array:
      return 0;
  }
  return 0;
}

size_t ggufMinEncodedSize(GgufValueType type) {
  if (type == GgufValueType::String) return sizeof(uint64_t);
  if (type == GgufValueType::Array) return sizeof(uint32_t) + sizeof(uint64_t);
  return ggufScalarSize(type);
}

std::optional<quant::QType> qtypeFromGgmlType(uint32_t ggmlTypeId) {
  using quant::QType;
  switch (ggmlTypeId) {
    case ggml_type::kF32:
      return QType::F32;
    case ggml_type::kF16:
      return QType::F16;
    case ggml_type::kQ4_0:
      return QType::Q4_0;
    case ggml_type::kQ5_0:
      return QType::Q5_0;
    case ggml_type::kQ5_1:
      return QType::Q5_1;
    case ggml_type::kQ8_0:
      return QType::Q8_0;
    case ggml_type::kQ4_K:
      return QType::Q4_K;
    case ggml_type::kQ5_K:
      return QType::Q5_K;
    case ggml_type::kQ6_K:
      return QType::Q6_K;
    case ggml_type::kBF16:
      return QType::BF16;
    default:
      return std::nullopt;
  }
}

std::optional<uint32_t> ggmlTypeFromQType(quant::QType type) {
  using quant::QType;
  switch (type) {
    case QType::F32:
      return ggml_type::kF32;
    case QType::F16:
      return ggml_type::kF16;
    case QType::Q4_0:
      return ggml_type::kQ4_0;
    case QType::Q5_0:
      return ggml_type::kQ5_0;
    case QType::Q5_1:
      return ggml_type::kQ5_1;
    case QType::Q8_0:
      return ggml_type::kQ8_0;
    case QType::Q4_K:
      return ggml_type::kQ4_K;
    case QType::Q5_K:
      return ggml_type::kQ5_K;
    case QType::Q6_K:
      return ggml_type::kQ6_K;
    case QType::BF16:
      return ggml_type::kBF16;
    default:
      return std::nullopt;
  }
}

std::string_view ggmlTypeName(uint32_t ggmlTypeId) {
  // ggml's type ids; 4 and 5 (Q4_2, Q4_3) and 31-33 (Q4_0_4_4, ...) were removed.
  static constexpr std::array<std::string_view, 40> kNames = {
      "F32",    "F16",     "Q4_0",    "Q4_1",    "unknown", "unknown", "Q5_0",    "Q5_1",    "Q8_0",    "Q8_1",
      "Q2_K",   "Q3_K",    "Q4_K",    "Q5_K",    "Q6_K",    "Q8_K",    "IQ2_XXS", "IQ2_XS",  "IQ3_XXS", "IQ1_S",
      "IQ4_NL", "IQ3_S",   "IQ2_S",   "IQ4_XS",  "I8",      "I16",     "I32",     "I64",     "F64",     "IQ1_M",
      "BF16",   "unknown", "unknown", "unknown", "TQ1_0",   "TQ2_0",   "unknown", "unknown", "unknown", "MXFP4"};
  if (ggmlTypeId >= kNames.size()) return "unknown";
  return kNames[ggmlTypeId];
}

std::optional<uint64_t> ggufTensorBytes(quant::QType type, std::span<const int64_t> ne) {
  if (ne.empty()) return std::nullopt;
  int64_t elements = 1;
  for (int64_t dim : ne) {
    if (dim <= 0 || __builtin_mul_overflow(elements, dim, &elements)) return std::nullopt;
  }
  const auto blockElems = static_cast<int64_t>(quant::blockElems(type));
  const auto blockBytes = static_cast<int64_t>(quant::blockBytes(type));
  if (ne[0] % blockElems != 0) return std::nullopt;
  int64_t bytes = 0;
  if (__builtin_mul_overflow(elements / blockElems, blockBytes, &bytes)) return std::nullopt;
  return static_cast<uint64_t>(bytes);
}

}  // namespace reel
