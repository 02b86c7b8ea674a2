#pragma once
/// \file
/// The metadata of a GGUF file: key/value pairs in file order, with typed accessors that
/// throw a reel::Error naming the file and the key when a key is missing or has another
/// type.

#include "runtime/gguf/GgufValue.h"

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace reel {

/// One metadata entry.
struct GgufMetadataEntry {
  std::string key;
  GgufValue value;

  friend bool operator==(const GgufMetadataEntry& a, const GgufMetadataEntry& b) = default;
};

/// Ordered key/value pairs with unique keys.
class GgufMetadata {
 public:
  /// `source` names the file (or spec) in error messages.
  explicit GgufMetadata(std::string source = "<metadata>") : source_(std::move(source)) {}

  /// Sets a key: replaces the value of an existing key in place, else appends.
  void set(std::string key, GgufValue value);
  /// Removes a key; false if it was absent.
  bool erase(std::string_view key);

  [[nodiscard]] bool contains(std::string_view key) const { return find(key) != nullptr; }
  /// The value of a key, or nullptr.
  [[nodiscard]] const GgufValue* find(std::string_view key) const;
  /// The value of a key; throws if absent.
  [[nodiscard]] const GgufValue& get(std::string_view key) const;

  /// The scalar of a key holding exactly type T; throws if absent or of another type.
  template <GgufScalar T>
  [[nodiscard]] T getScalar(std::string_view key) const {
    const GgufValue& value = get(key);
    if (auto scalar = value.get<T>()) return *scalar;
    failWrongType(key, value, ggufValueTypeName(ggufTypeOf<T>()));
  }
  [[nodiscard]] uint8_t getU8(std::string_view key) const { return getScalar<uint8_t>(key); }
  [[nodiscard]] int8_t getI8(std::string_view key) const { return getScalar<int8_t>(key); }
  [[nodiscard]] uint16_t getU16(std::string_view key) const { return getScalar<uint16_t>(key); }
  [[nodiscard]] int16_t getI16(std::string_view key) const { return getScalar<int16_t>(key); }
  [[nodiscard]] uint32_t getU32(std::string_view key) const { return getScalar<uint32_t>(key); }
  [[nodiscard]] int32_t getI32(std::string_view key) const { return getScalar<int32_t>(key); }
  [[nodiscard]] uint64_t getU64(std::string_view key) const { return getScalar<uint64_t>(key); }
  [[nodiscard]] int64_t getI64(std::string_view key) const { return getScalar<int64_t>(key); }
  [[nodiscard]] float getF32(std::string_view key) const { return getScalar<float>(key); }
  [[nodiscard]] double getF64(std::string_view key) const { return getScalar<double>(key); }
  [[nodiscard]] bool getBool(std::string_view key) const { return getScalar<bool>(key); }

  /// Any integer type (files disagree on u32 vs i32 vs u64), as int64; throws if the
  /// value is not an integer or a u64 above INT64_MAX.
  [[nodiscard]] int64_t getInteger(std::string_view key) const;
  /// An f32 or f64 value, as double.
  [[nodiscard]] double getFloat(std::string_view key) const;
  [[nodiscard]] const std::string& getString(std::string_view key) const;
  [[nodiscard]] const GgufArray& getArray(std::string_view key) const;
  /// An array of exactly T; throws if absent, not an array, or of another element type.
  template <GgufScalar T>
  [[nodiscard]] std::vector<T> getArrayOf(std::string_view key) const {
    const GgufArray& array = getArray(key);
    if (auto values = array.as<T>()) return std::move(*values);
    failWrongElementType(key, array, ggufValueTypeName(ggufTypeOf<T>()));
  }
  /// An array of strings; throws as getArrayOf.
  [[nodiscard]] const std::vector<std::string>& getStringArray(std::string_view key) const;

  [[nodiscard]] const std::vector<GgufMetadataEntry>& entries() const { return entries_; }
  [[nodiscard]] size_t size() const { return entries_.size(); }
  [[nodiscard]] const std::string& source() const { return source_; }

  /// Same entries in the same order (the source name is not compared).
  friend bool operator==(const GgufMetadata& a, const GgufMetadata& b) { return a.entries_ == b.entries_; }

 private:
  [[noreturn]] void failWrongType(std::string_view key, const GgufValue& value, std::string_view expected) const;
  [[noreturn]] void failWrongElementType(std::string_view key, const GgufArray& array, std::string_view expected) const;

  std::string source_;
  std::vector<GgufMetadataEntry> entries_;
  std::unordered_map<std::string, size_t, GgufStringHash, std::equal_to<>> index_;
};

}  // namespace reel
