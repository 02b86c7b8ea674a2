// libFuzzer target of the GGUF reader. Any input must either parse or throw reel::Error;
// a parsed file must give in-bounds tensor data, dequantize without faults, and survive a
// write -> read -> write round trip byte for byte. Anything else aborts, which libFuzzer
// reports as a crash. Under libFuzzer, inputs are mutated by GgufMutator.h.

#include "quant/QuantRef.h"
#include "runtime/gguf/GgufFile.h"
#include "runtime/gguf/GgufWriter.h"
#include "support/Diagnostics.h"
#include "tests/fuzz/FuzzSupport.h"

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <vector>

namespace {

using namespace reel;

[[noreturn]] void die(const char* what) {
  fuzz::die("GgufFuzz", what);
}

/// Reads every accessor of every metadata entry; only reel::Error may come out.
void touchMetadata(const GgufMetadata& metadata) {
  for (const GgufMetadataEntry& entry : metadata.entries()) {
    (void)entry.value.str();
    try {
      (void)metadata.getInteger(entry.key);
    } catch (const Error&) {
    }
    try {
      (void)metadata.getStringArray(entry.key);
    } catch (const Error&) {
    }
  }
}

/// Reads every tensor's bytes and dequantizes its first row (ASan checks the bounds, UBSan
/// the alignment of the blocks and floats read in place).
void touchTensors(const GgufFile& file) {
  unsigned checksum = 0;
  std::vector<float> row;
  for (const GgufTensorInfo& info : file.tensors()) {
    const std::span<const uint8_t> data = file.tensorData(info);
    if (data.size() != info.byteSize) die("tensor data size differs from byteSize");
    for (uint8_t byte : data) checksum += byte;
    if (info.ne[0] <= (1 << 16)) {
      row.resize(static_cast<size_t>(info.ne[0]));
      quant::dequantizeRow(info.type, data.data(), row.data(), info.ne[0]);
    }
  }
  if (checksum == 0xdeadbeef) std::fprintf(stderr, " ");  // keeps the reads
}

/// The file as the writer would write it (the reader accepts only what the writer accepts).
std::vector<uint8_t> rewrite(const GgufFile& file) {
  std::vector<GgufTensorBlob> tensors;
  for (const GgufTensorInfo& info : file.tensors()) {
    const std::span<const uint8_t> data = file.tensorData(info);
    tensors.push_back({{info.name, info.type, {info.dims().begin(), info.dims().end()}}, {data.begin(), data.end()}});
  }
  try {
    return serializeGguf(file.metadata(), tensors);
  } catch (const Error& error) {
    std::fprintf(stderr, "%s\n", error.what());
    die("the writer refuses a file the reader accepted");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::optional<GgufFile> file;
  try {
    file.emplace(GgufFile::fromMemory({data, size}, "fuzz.gguf"));
  } catch (const Error&) {
    return 0;
  }
  touchMetadata(file->metadata());
  touchTensors(*file);
  // Round trip, unless the alignment would blow the rewritten file up.
  if (file->alignment() > 4096) return 0;
  const std::vector<uint8_t> once = rewrite(*file);
  std::optional<GgufFile> reread;
  try {
    reread.emplace(GgufFile::fromMemory(once, "rewritten.gguf"));
  } catch (const Error& error) {
    std::fprintf(stderr, "%s\n", error.what());
    die("the reader rejects what the writer wrote");
  }
  if (rewrite(*reread) != once) die("write -> read -> write is not stable");
  return 0;
}
