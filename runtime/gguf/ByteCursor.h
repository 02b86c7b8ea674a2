#pragma once
/// \file
/// A bounds-checked little-endian reader over a byte span, for the GGUF parser. Every read
/// checks the bytes left first; every failure is a reel::Error
/// "<source>: offset <N>: <field>: <what is wrong>".

#include "runtime/gguf/GgufValue.h"
#include "support/Diagnostics.h"

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

namespace reel {

/// Names a field in messages, e.g. "tensor 'w'" + "n_dims"; formatted only on error.
struct FieldName {
  std::string_view subject;
  std::string_view part;

  FieldName(const char* subjectText) : subject(subjectText) {}         // NOLINT: implicit on purpose
  FieldName(const std::string& subjectText) : subject(subjectText) {}  // NOLINT
  FieldName(std::string_view subjectText, std::string_view partText) : subject(subjectText), part(partText) {}

  [[nodiscard]] std::string str() const {
    return part.empty() ? std::string(subject) : fmt::format("{} {}", subject, part);
  }
};

class ByteCursor {
 public:
  ByteCursor(std::span<const uint8_t> bytes, const std::string& source) : bytes_(bytes), source_(source) {}

  [[nodiscard]] uint64_t offset() const { return pos_; }
  [[nodiscard]] uint64_t size() const { return bytes_.size(); }
  [[nodiscard]] uint64_t remaining() const { return bytes_.size() - pos_; }

  /// Reads one scalar; `field` names it in the message if the file ends first.
  template <GgufScalar T>
  T read(FieldName field) {
    require(sizeof(T), field);
    T value;
    std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  /// Reads a GGUF string (u64 length, bytes) of at most `maxBytes` bytes.
  std::string readString(FieldName field, uint64_t maxBytes) {
    const uint64_t lengthOffset = pos_;
    const auto length = read<uint64_t>(field);
    if (length > remaining()) {
      failAt(lengthOffset, "{}: string length {} exceeds the {} bytes left in the file", field.str(), length,
             remaining());
    }
    if (length > maxBytes) {
      failAt(lengthOffset, "{}: string length {} exceeds the limit of {} bytes", field.str(), length, maxBytes);
    }
    std::string text(reinterpret_cast<const char*>(bytes_.data() + pos_), length);
    pos_ += length;
    return text;
  }

  /// Copies the next `count` bytes (the caller has checked `count` against remaining()).
  std::vector<uint8_t> readBytes(uint64_t count, FieldName field) {
    require(count, field);
    std::vector<uint8_t> out(bytes_.begin() + static_cast<std::ptrdiff_t>(pos_),
                             bytes_.begin() + static_cast<std::ptrdiff_t>(pos_ + count));
    pos_ += count;
    return out;
  }

  /// Throws "<source>: offset <offset>: <message>".
  template <typename... Args>
  [[noreturn]] void failAt(uint64_t offset, fmt::format_string<Args...> format, Args&&... args) const {
    failPlain("{}: offset {}: {}", source_, offset, fmt::format(format, std::forward<Args>(args)...));
  }

 private:
  void require(uint64_t count, FieldName field) const {
    if (count > remaining()) {
      failAt(pos_, "{}: unexpected end of file ({} bytes needed, {} left)", field.str(), count, remaining());
    }
  }

  std::span<const uint8_t> bytes_;
  const std::string& source_;
  uint64_t pos_ = 0;
};

}  // namespace reel
