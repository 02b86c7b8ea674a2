#pragma once
/// \file
/// The GGUF reader (versions 2 and 3). A file is memory-mapped read-only (or parsed from a
/// buffer it copies); the whole header is validated up front, so afterwards every tensor
/// lies inside the file, after the header, aligned, and apart from every other tensor.
/// A file may declare an alignment as small as 1 (`general.alignment`, any power of two);
/// the data of a tensor that then starts off its element type's natural alignment is
/// copied once, at open, to an aligned buffer, so that every span tensorData() returns can
/// be read as floats or quantized blocks in place.
/// Any defect of the file is reported as a one-line reel::Error naming the file, the byte
/// offset and the field, e.g.
///   "model.gguf: offset 8: tensor count 9223372036854775807 exceeds what the file can hold
///    (at most 0 tensor infos of 32+ bytes in the 16 bytes left)".
///
/// Usage:
///   GgufFile file = GgufFile::open("model.gguf");
///   uint32_t layers = file.metadata().getU32("llama.block_count");
///   const GgufTensorInfo& q = file.tensor("blk.0.attn_q.weight");
///   std::span<const uint8_t> bytes = file.tensorData(q);

#include "runtime/gguf/GgufMetadata.h"
#include "runtime/gguf/MappedFile.h"

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace reel {

/// One tensor of a GGUF file, validated.
struct GgufTensorInfo {
  std::string name;
  quant::QType type = quant::QType::F32;
  uint32_t ggmlType = 0;                             ///< the type id as stored in the file
  uint32_t nDims = 1;                                ///< 1..4
  std::array<int64_t, kGgufMaxDims> ne{1, 1, 1, 1};  ///< ggml order: ne[0] = row length; unused dims are 1
  uint64_t offset = 0;                               ///< start of the data, relative to the data section (as stored)
  uint64_t fileOffset = 0;                           ///< start of the data in the file
  uint64_t byteSize = 0;                             ///< bytes of data
  uint64_t infoOffset = 0;                           ///< where the tensor info starts in the file (for messages)

  /// The used dimensions: ne[0..nDims).
  [[nodiscard]] std::span<const int64_t> dims() const { return {ne.data(), nDims}; }
  /// ne[0] * ne[1] * ne[2] * ne[3] (cannot overflow: checked when read).
  [[nodiscard]] int64_t elementCount() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  /// Rows of ne[0] elements: ne[1] * ne[2] * ne[3].
  [[nodiscard]] int64_t rowCount() const { return ne[1] * ne[2] * ne[3]; }
};

/// Sanity limits of the reader, on top of what the file size allows. Memory for metadata
/// grows with the file's bytes; these bound the factor for the object-heavy parts.
struct GgufLimits {
  uint64_t maxTensors = uint64_t{1} << 20;
  uint64_t maxMetadataEntries = uint64_t{1} << 20;
  /// Strings and arrays inside metadata arrays, all arrays together (a string array of
  /// the vocabulary counts one per token).
  uint64_t maxArrayObjects = uint64_t{1} << 24;
};

/// Everything the header of a GGUF file says, validated (what the parser produces).
struct GgufHeader {
  uint32_t version = 0;
  GgufMetadata metadata;
  std::vector<GgufTensorInfo> tensors;  ///< in file order
  std::unordered_map<std::string, size_t, GgufStringHash, std::equal_to<>> tensorIndex;
  uint64_t alignment = kGgufDefaultAlignment;
  uint64_t dataOffset = 0;  ///< start of the data section in the file
};

/// Parses and validates the header of a GGUF file held in `bytes`; `source` names it in
/// error messages. Throws a reel::Error for any defect.
[[nodiscard]] GgufHeader parseGgufHeader(std::span<const uint8_t> bytes, const std::string& source,
                                         const GgufLimits& limits = {});

/// A parsed GGUF file with its bytes (move-only).
class GgufFile {
 public:
  /// Maps and parses the file at `path`.
  static GgufFile open(const std::filesystem::path& path, const GgufLimits& limits = {});
  /// Parses a copy of `bytes`; `name` stands for the file in error messages.
  static GgufFile fromMemory(std::span<const uint8_t> bytes, std::string name, const GgufLimits& limits = {});

  GgufFile(GgufFile&&) noexcept = default;
  GgufFile& operator=(GgufFile&&) noexcept = default;
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;
  ~GgufFile() = default;

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] uint32_t version() const { return header_.version; }
  [[nodiscard]] uint64_t alignment() const { return header_.alignment; }
  /// Start of the data section in the file.
  [[nodiscard]] uint64_t dataOffset() const { return header_.dataOffset; }
  [[nodiscard]] uint64_t fileSize() const { return bytes_.size(); }
  /// All bytes of the file.
  [[nodiscard]] std::span<const uint8_t> bytes() const { return bytes_; }

  [[nodiscard]] const GgufMetadata& metadata() const { return header_.metadata; }
  /// The tensors in file order.
  [[nodiscard]] std::span<const GgufTensorInfo> tensors() const { return header_.tensors; }
  /// The tensor of this name, or nullptr.
  [[nodiscard]] const GgufTensorInfo* findTensor(std::string_view tensorName) const;
  /// The tensor of this name; throws a reel::Error naming the file and the tensor if absent.
  [[nodiscard]] const GgufTensorInfo& tensor(std::string_view tensorName) const;
  /// The data of a tensor of this file (byteSize bytes, checked to lie inside the file).
  [[nodiscard]] std::span<const uint8_t> tensorData(const GgufTensorInfo& info) const;
  /// The data of the tensor of this name; throws if absent.
  [[nodiscard]] std::span<const uint8_t> tensorData(std::string_view tensorName) const {
    return tensorData(tensor(tensorName));
  }
  /// Bytes of tensor data copied at open because the file left them misaligned (0 for
  /// files whose alignment is a multiple of kTensorDataAlignment).
  [[nodiscard]] uint64_t relocatedBytes() const { return relocated_.size(); }

  /// The alignment every tensor's data has in memory: enough for any element or block type.
  static constexpr uint64_t kTensorDataAlignment = 8;

 private:
  GgufFile() = default;
  void parse(const GgufLimits& limits);
  void relocateMisalignedTensors();

  std::string name_;
  MappedFile mapping_;          ///< the bytes when opened from a path
  std::vector<uint8_t> owned_;  ///< the bytes when parsed from memory
  std::span<const uint8_t> bytes_;
  GgufHeader header_;
  std::vector<uint8_t> relocated_;            ///< aligned copies of misaligned tensors' data
  std::vector<uint64_t> relocatedOffset_;     ///< per tensor: its offset in relocated_, or kNotRelocated
  static constexpr uint64_t kNotRelocated = ~uint64_t{0};
};

}  // namespace reel
