#pragma once
/// \file
/// The GGUF writer (version 3). It streams: the header (metadata and tensor infos) is
/// built in memory, the tensor data goes straight to the output in declaration order, so
/// a multi-gigabyte file never sits in memory.
///
/// Usage:
///   GgufWriter writer("out.gguf");
///   writer.setMetadata("general.architecture", "llama");
///   writer.addTensor({"token_embd.weight", QType::Q4_K, {4096, 32000}});
///   writer.writeHeader();
///   writer.writeTensorData(bytes);   // any number of chunks, tensor after tensor
///   writer.finish();
///
/// The writer sets `general.alignment` (u32, default 32) if the metadata lacks it and pads
/// the data section and every tensor's data to it. It refuses what the reader (or
/// llama.cpp) would refuse: duplicate or over-long names, bad shapes, types GGUF lacks.

#include "runtime/gguf/GgufMetadata.h"

#include <fmt/format.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iosfwd>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

namespace reel {

/// A tensor to write: its name, type and shape (ggml order, ne[0] = row length).
struct GgufTensorDecl {
  std::string name;
  quant::QType type = quant::QType::F32;
  std::vector<int64_t> ne;
};

/// A tensor with all its data in memory (for small files and tests).
struct GgufTensorBlob {
  GgufTensorDecl decl;
  std::vector<uint8_t> data;
};

class GgufWriter {
 public:
  /// Writes the file at `path`: to `path` + ".partial" first, renamed by finish(); a
  /// writer destroyed before finish() removes the partial file.
  explicit GgufWriter(const std::filesystem::path& path);
  /// Writes to a stream; `sinkName` stands for it in error messages.
  GgufWriter(std::ostream& out, std::string sinkName);
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;
  ~GgufWriter();

  /// Sets one metadata key (before writeHeader).
  void setMetadata(std::string key, GgufValue value);
  /// Sets every key of `metadata`, in its order (before writeHeader).
  void setMetadata(const GgufMetadata& metadata);
  /// Declares the next tensor (before writeHeader); returns the bytes of data it takes.
  uint64_t addTensor(GgufTensorDecl decl);
  /// Writes the header, the metadata, the tensor infos and the padding up to the data.
  void writeHeader();
  /// Appends tensor data: the tensors' bytes in declaration order, in chunks of any size
  /// (a chunk may span tensors); the padding between tensors is written automatically.
  void writeTensorData(std::span<const uint8_t> bytes);
  /// Checks that every tensor got all its bytes, pads the end, flushes and (for a path)
  /// renames the partial file into place.
  void finish();

  /// The size the finished file has: header, padding, every tensor's data (after writeHeader).
  [[nodiscard]] uint64_t plannedFileBytes() const;
  /// Bytes the tensor being filled still needs (0 once every tensor is complete).
  [[nodiscard]] uint64_t bytesLeftInCurrentTensor() const;
  [[nodiscard]] uint64_t bytesWritten() const { return written_; }

 private:
  enum class Phase { Declaring, WritingData, Finished };
  struct PlannedTensor {
    GgufTensorDecl decl;
    uint32_t ggmlType = 0;
    uint64_t byteSize = 0;
    uint64_t offset = 0;  ///< relative to the data section
  };

  void requirePhase(Phase phase, const char* operation) const;
  uint32_t resolveAlignment();
  void writeBytes(std::span<const uint8_t> bytes);
  void writePadding(uint64_t count);
  template <typename... Args>
  [[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) const;

  std::filesystem::path finalPath_;  ///< empty when writing to a caller's stream
  std::filesystem::path partialPath_;
  std::ofstream file_;
  std::ostream* out_ = nullptr;
  std::string sinkName_;
  Phase phase_ = Phase::Declaring;
  GgufMetadata metadata_;
  std::vector<PlannedTensor> tensors_;
  std::unordered_set<std::string> tensorNames_;
  uint64_t alignment_ = kGgufDefaultAlignment;
  uint64_t dataStart_ = 0;      ///< file offset of the data section
  uint64_t dataBytes_ = 0;      ///< the data section's size, every tensor padded to the alignment
  size_t currentTensor_ = 0;    ///< the tensor writeTensorData fills next
  uint64_t currentFilled_ = 0;  ///< its bytes written so far
  uint64_t written_ = 0;
};

/// Writes a whole GGUF file in one call.
void writeGgufFile(const std::filesystem::path& path, const GgufMetadata& metadata,
                   std::span<const GgufTensorBlob> tensors);
/// The bytes of a GGUF file with this metadata and these tensors.
[[nodiscard]] std::vector<uint8_t> serializeGguf(const GgufMetadata& metadata, std::span<const GgufTensorBlob> tensors);

}  // namespace reel
