#pragma once
/// \file
/// The type tags of the GGUF format: the metadata value types, the ggml tensor types
/// and their mapping to quant::QType, plus the format's constants and limits.
///
/// File layout (all integers little-endian):
///   magic "GGUF" | u32 version | u64 tensor count | u64 metadata count
///   metadata: { string key | u32 value type | value }*
///   tensor infos: { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml type | u64 offset }*
///   padding to the alignment | data section (tensor offsets are relative to its start)
/// A string is a u64 byte length followed by the bytes (no terminating NUL); an array is
/// a u32 element type, a u64 element count and the elements.

#include "quant/QuantRef.h"
#include "support/Diagnostics.h"  // quoteForMessage, for the GGUF reader and writer

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace reel {

/// "GGUF" as the first four bytes of the file.
inline constexpr std::array<char, 4> kGgufMagic = {'G', 'G', 'U', 'F'};
/// The version the writer produces; the reader accepts 2 and 3 (same layout).
inline constexpr uint32_t kGgufWriteVersion = 3;
/// Alignment of the data section and of each tensor's data when the file does not say.
inline constexpr uint32_t kGgufDefaultAlignment = 32;
/// The metadata key that sets the alignment (a u32, a power of two).
inline constexpr std::string_view kGgufAlignmentKey = "general.alignment";
/// The metadata key naming the architecture ("llama", ...).
inline constexpr std::string_view kGgufArchitectureKey = "general.architecture";
/// Most dimensions a tensor may have (ggml's GGML_MAX_DIMS).
inline constexpr uint32_t kGgufMaxDims = 4;
/// Longest tensor name in bytes: ggml keeps names in a 64-byte buffer with a NUL.
inline constexpr uint64_t kGgufMaxTensorNameBytes = 63;
/// Longest metadata key in bytes (the GGUF specification's limit).
inline constexpr uint64_t kGgufMaxKeyBytes = 65535;
/// Deepest nesting of arrays inside arrays.
inline constexpr unsigned kGgufMaxArrayNesting = 4;

/// Metadata value types; the numbers are the type ids stored in the file.
enum class GgufValueType : uint32_t {
  UInt8 = 0,
  Int8 = 1,
  UInt16 = 2,
  Int16 = 3,
  UInt32 = 4,
  Int32 = 5,
  Float32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  UInt64 = 10,
  Int64 = 11,
  Float64 = 12,
};

/// The value type with this id; nullopt for ids the format does not define.
[[nodiscard]] std::optional<GgufValueType> ggufValueTypeFromId(uint32_t id);
/// A short name: "u8", "i32", "f32", "bool", "string", "array", ...
[[nodiscard]] std::string_view ggufValueTypeName(GgufValueType type);
/// Bytes of one value of a scalar type; 0 for String and Array.
[[nodiscard]] size_t ggufScalarSize(GgufValueType type);
/// Fewest bytes one element of this type takes in the file (strings: their length
/// field; arrays: their type and count fields).
[[nodiscard]] size_t ggufMinEncodedSize(GgufValueType type);

/// ggml type ids of the tensor formats reel reads and writes.
namespace ggml_type {
inline constexpr uint32_t kF32 = 0;
inline constexpr uint32_t kF16 = 1;
inline constexpr uint32_t kQ4_0 = 2;
inline constexpr uint32_t kQ5_0 = 6;
inline constexpr uint32_t kQ5_1 = 7;
inline constexpr uint32_t kQ8_0 = 8;
inline constexpr uint32_t kQ4_K = 12;
inline constexpr uint32_t kQ5_K = 13;
inline constexpr uint32_t kQ6_K = 14;
inline constexpr uint32_t kBF16 = 30;
}  // namespace ggml_type

/// The QType of a supported ggml type id; nullopt for the others.
[[nodiscard]] std::optional<quant::QType> qtypeFromGgmlType(uint32_t ggmlTypeId);
/// The ggml type id of a QType; nullopt for formats GGUF files do not hold (Q8_1, FP8).
[[nodiscard]] std::optional<uint32_t> ggmlTypeFromQType(quant::QType type);
/// The ggml name of a type id ("Q4_K", "IQ2_XS", ...), or "unknown" for ids ggml lacks.
[[nodiscard]] std::string_view ggmlTypeName(uint32_t ggmlTypeId);

/// Bytes of a tensor of this type and shape (ggml order, ne[0] = row length), or nullopt
/// when a dimension is not positive, ne[0] is not a multiple of the block size, or the
/// element count or the byte count overflows int64.
[[nodiscard]] std::optional<uint64_t> ggufTensorBytes(quant::QType type, std::span<const int64_t> ne);

/// Hashes std::string and std::string_view alike, for map lookups by view without a copy
/// (use with std::equal_to<>).
struct GgufStringHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};

}  // namespace reel
