#pragma once
/// \file
/// A read-only memory mapping of a whole file (RAII, move-only).

#include <cstdint>
#include <filesystem>
#include <span>

namespace reel {

/// A file mapped read-only into memory for the lifetime of the object. An empty file maps
/// to an empty span. The bytes stay at the same address when the object is moved.
/// Caveat of every mapping: if another process truncates the file while it is mapped,
/// reading the lost pages raises SIGBUS.
class MappedFile {
 public:
  MappedFile() = default;
  /// Maps `path`; throws a reel::Error naming the path if it cannot be opened or mapped or
  /// is not a regular file.
  static MappedFile open(const std::filesystem::path& path);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  [[nodiscard]] std::span<const uint8_t> bytes() const { return {data_, size_}; }

 private:
  MappedFile(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  void unmap() noexcept;

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace reel
