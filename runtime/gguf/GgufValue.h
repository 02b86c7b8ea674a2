#pragma once
/// \file
/// Metadata values of a GGUF file: the scalar types, strings and (nested) arrays, as read
/// by GgufFile and written by GgufWriter.

#include "runtime/gguf/GgufTypes.h"

#include <bit>
#include <concepts>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

namespace reel {

static_assert(std::endian::native == std::endian::little,
              "GGUF is little-endian; reel reads and writes it with plain copies");

/// The C++ types of the GGUF scalar value types (exactly these; no implicit conversions).
template <typename T>
concept GgufScalar = std::same_as<T, uint8_t> || std::same_as<T, int8_t> || std::same_as<T, uint16_t> ||
    std::same_as<T, int16_t> || std::same_as<T, uint32_t> || std::same_as<T, int32_t> || std::same_as<T, float> ||
    std::same_as<T, bool> || std::same_as<T, uint64_t> || std::same_as<T, int64_t> || std::same_as<T, double>;

/// The GGUF value type of a C++ scalar type.
template <GgufScalar T>
constexpr GgufValueType ggufTypeOf() {
  if constexpr (std::same_as<T, uint8_t>)
    return GgufValueType::UInt8;
  else if constexpr (std::same_as<T, int8_t>)
    return GgufValueType::Int8;
  else if constexpr (std::same_as<T, uint16_t>)
    return GgufValueType::UInt16;
  else if constexpr (std::same_as<T, int16_t>)
    return GgufValueType::Int16;
  else if constexpr (std::same_as<T, uint32_t>)
    return GgufValueType::UInt32;
  else if constexpr (std::same_as<T, int32_t>)
    return GgufValueType::Int32;
  else if constexpr (std::same_as<T, float>)
    return GgufValueType::Float32;
  else if constexpr (std::same_as<T, bool>)
    return GgufValueType::Bool;
  else if constexpr (std::same_as<T, uint64_t>)
    return GgufValueType::UInt64;
  else if constexpr (std::same_as<T, int64_t>)
    return GgufValueType::Int64;
  else
    return GgufValueType::Float64;
}

/// An array value: all elements of one type. Scalar elements are kept packed as in the
/// file (so a large u8/f32 array costs its own size), strings and nested arrays as
/// objects. Nested arrays may each have their own element type.
class GgufArray {
 public:
  /// An empty array of u8.
  GgufArray() = default;

  /// An array of scalars.
  template <GgufScalar T>
  static GgufArray of(const std::vector<T>& values) {
    GgufArray array(ggufTypeOf<T>());
    array.count_ = values.size();
    array.scalars_.resize(values.size() * sizeof(T));
    for (size_t i = 0; i < values.size(); ++i) {
      const T value = values[i];  // a plain copy also works for std::vector<bool>
      std::memcpy(array.scalars_.data() + i * sizeof(T), &value, sizeof(T));
    }
    return array;
  }
  /// An array of strings.
  static GgufArray ofStrings(std::vector<std::string> values);
  /// An array of arrays.
  static GgufArray ofArrays(std::vector<GgufArray> values);
  /// An array of scalars of `elementType` from their packed little-endian bytes
  /// (count = bytes.size() / element size). Throws std::invalid_argument for a type that is
  /// not a scalar, a partial element, or a bool byte other than 0 and 1.
  static GgufArray fromPackedScalars(GgufValueType elementType, std::vector<uint8_t> bytes);

  [[nodiscard]] GgufValueType elementType() const { return elementType_; }
  [[nodiscard]] size_t size() const { return count_; }
  [[nodiscard]] bool empty() const { return count_ == 0; }

  /// The elements as T; nullopt unless the element type is exactly T's.
  template <GgufScalar T>
  [[nodiscard]] std::optional<std::vector<T>> as() const {
    if (elementType_ != ggufTypeOf<T>()) return std::nullopt;
    std::vector<T> values(count_);
    for (size_t i = 0; i < count_; ++i) {
      T value;
      std::memcpy(&value, scalars_.data() + i * sizeof(T), sizeof(T));
      values[i] = value;
    }
    return values;
  }
  /// The packed bytes of a scalar array (empty for strings and arrays).
  [[nodiscard]] const std::vector<uint8_t>& packedScalars() const { return scalars_; }
  /// The elements of a string array (empty otherwise).
  [[nodiscard]] const std::vector<std::string>& strings() const { return strings_; }
  /// The elements of an array of arrays (empty otherwise).
  [[nodiscard]] const std::vector<GgufArray>& arrays() const { return arrays_; }

  /// Equal type and elements; floats compare bit for bit.
  friend bool operator==(const GgufArray& a, const GgufArray& b) = default;

 private:
  explicit GgufArray(GgufValueType elementType) : elementType_(elementType) {}

  GgufValueType elementType_ = GgufValueType::UInt8;
  size_t count_ = 0;
  std::vector<uint8_t> scalars_;
  std::vector<std::string> strings_;
  std::vector<GgufArray> arrays_;
};

/// One metadata value. The alternatives are ordered as the GGUF type ids, so the
/// variant's index is the value type.
class GgufValue {
 public:
  using Storage = std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool, std::string,
                               GgufArray, uint64_t, int64_t, double>;

  /// A scalar of exactly type T: GgufValue(uint32_t{32}), GgufValue(1.0f), GgufValue(true).
  template <GgufScalar T>
  GgufValue(T value) : storage_(std::in_place_type<T>, value) {}       // NOLINT: implicit on purpose
  GgufValue(std::string value) : storage_(std::move(value)) {}         // NOLINT
  GgufValue(std::string_view value) : storage_(std::string(value)) {}  // NOLINT
  GgufValue(const char* value) : storage_(std::string(value)) {}       // NOLINT
  GgufValue(GgufArray value) : storage_(std::move(value)) {}           // NOLINT

  [[nodiscard]] GgufValueType type() const { return static_cast<GgufValueType>(storage_.index()); }
  /// The scalar if the value has exactly type T.
  template <GgufScalar T>
  [[nodiscard]] std::optional<T> get() const {
    if (const T* value = std::get_if<T>(&storage_)) return *value;
    return std::nullopt;
  }
  /// The string, or nullptr if the value is not a string.
  [[nodiscard]] const std::string* string() const { return std::get_if<std::string>(&storage_); }
  /// The array, or nullptr if the value is not an array.
  [[nodiscard]] const GgufArray* array() const { return std::get_if<GgufArray>(&storage_); }
  [[nodiscard]] const Storage& storage() const { return storage_; }

  /// A short text form for messages and dumps: "u32 32", "string 'llama'", "array<string>[3]".
  [[nodiscard]] std::string str() const;

  /// Equal type and value (scalar floats compare as numbers, array elements bit for bit).
  friend bool operator==(const GgufValue& a, const GgufValue& b) = default;

 private:
  Storage storage_;
};

}  // namespace reel
