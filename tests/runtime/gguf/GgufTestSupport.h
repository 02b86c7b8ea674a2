#pragma once
/// \file
/// Helpers of the GGUF tests: a raw byte builder to craft (malformed) files field by field,
/// a small valid file, the error message of a parse, and a temporary directory.

#include "quant/QuantRef.h"
#include "runtime/gguf/GgufFile.h"
#include "runtime/gguf/GgufWriter.h"
#include "support/Diagnostics.h"

#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace reel::test {

/// Builds GGUF bytes field by field (little-endian), valid or not.
class RawGguf {
 public:
  RawGguf& u8(uint8_t value) { return scalar(value); }
  RawGguf& u32(uint32_t value) { return scalar(value); }
  RawGguf& u64(uint64_t value) { return scalar(value); }
  RawGguf& i64(int64_t value) { return scalar(value); }
  RawGguf& str(std::string_view text) {
    u64(text.size());
    bytes.insert(bytes.end(), text.begin(), text.end());
    return *this;
  }
  /// Magic, version and the two counts.
  RawGguf& header(uint64_t tensorCount, uint64_t metadataCount, uint32_t version = 3) {
    bytes.insert(bytes.end(), {'G', 'G', 'U', 'F'});
    return u32(version).u64(tensorCount).u64(metadataCount);
  }
  /// A metadata entry with a u32 value.
  RawGguf& kvU32(std::string_view key, uint32_t value) { return str(key).u32(4).u32(value); }
  /// A tensor info.
  RawGguf& tensorInfo(std::string_view name, const std::vector<int64_t>& ne, uint32_t ggmlType, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(ne.size()));
    for (int64_t dim : ne) i64(dim);
    return u32(ggmlType).u64(offset);
  }
  /// Zero bytes up to a multiple of `alignment`.
  RawGguf& padTo(size_t alignment) {
    bytes.resize((bytes.size() + alignment - 1) / alignment * alignment);
    return *this;
  }
  /// `count` bytes of `fill`.
  RawGguf& fill(size_t count, uint8_t value = 0) {
    bytes.insert(bytes.end(), count, value);
    return *this;
  }

  std::vector<uint8_t> bytes;

 private:
  template <typename T>
  RawGguf& scalar(T value) {
    const size_t at = bytes.size();
    bytes.resize(at + sizeof(T));
    std::memcpy(bytes.data() + at, &value, sizeof(T));
    return *this;
  }
};

/// The message of the reel::Error that parsing `bytes` throws, or "<parsed>".
inline std::string parseError(const std::vector<uint8_t>& bytes) {
  try {
    (void)GgufFile::fromMemory(bytes, "t.gguf");
  } catch (const Error& error) {
    return error.what();
  }
  return "<parsed>";
}

/// `count` floats of a simple deterministic pattern.
inline std::vector<float> patternValues(size_t count, float scale) {
  std::vector<float> values(count);
  for (size_t i = 0; i < count; ++i) values[i] = scale * static_cast<float>(static_cast<int>(i % 17) - 8);
  return values;
}

/// A tensor of `type` and shape `ne` with quantized pattern data.
inline GgufTensorBlob patternTensor(std::string name, quant::QType type, std::vector<int64_t> ne) {
  int64_t rows = 1;
  for (size_t d = 1; d < ne.size(); ++d) rows *= ne[d];
  const auto rowBytes = quant::rowBytes(type, ne[0]);
  std::vector<uint8_t> data(rowBytes * static_cast<size_t>(rows));
  const std::vector<float> row = patternValues(static_cast<size_t>(ne[0]), 0.1f);
  for (int64_t r = 0; r < rows; ++r) {
    quant::quantizeRow(type, row.data(), data.data() + rowBytes * static_cast<size_t>(r), ne[0]);
  }
  return {{std::move(name), type, std::move(ne)}, std::move(data)};
}

/// Metadata with one value of every GGUF type, arrays of every element type, nested arrays.
inline GgufMetadata everyTypeMetadata() {
  GgufMetadata metadata;
  metadata.set("general.architecture", "llama");
  metadata.set("v.u8", uint8_t{200});
  metadata.set("v.i8", int8_t{-100});
  metadata.set("v.u16", uint16_t{60000});
  metadata.set("v.i16", int16_t{-30000});
  metadata.set("v.u32", uint32_t{4000000000u});
  metadata.set("v.i32", int32_t{-2000000000});
  metadata.set("v.f32", 1.5f);
  metadata.set("v.bool", true);
  metadata.set("v.string", "h\xc3\xa9llo, world");
  metadata.set("v.empty_string", "");
  metadata.set("v.u64", uint64_t{18000000000000000000ull});
  metadata.set("v.i64", int64_t{-9000000000000000000ll});
  metadata.set("v.f64", 2.25);
  metadata.set("a.u8", GgufArray::of<uint8_t>({1, 2, 255}));
  metadata.set("a.i8", GgufArray::of<int8_t>({-1, 2}));
  metadata.set("a.u16", GgufArray::of<uint16_t>({1, 65535}));
  metadata.set("a.i16", GgufArray::of<int16_t>({-32768}));
  metadata.set("a.u32", GgufArray::of<uint32_t>({7, 8, 9}));
  metadata.set("a.i32", GgufArray::of<int32_t>({-7}));
  metadata.set("a.f32", GgufArray::of<float>({0.5f, -0.25f}));
  metadata.set("a.bool", GgufArray::of<bool>({true, false, true}));
  metadata.set("a.u64", GgufArray::of<uint64_t>({1ull << 40}));
  metadata.set("a.i64", GgufArray::of<int64_t>({-(1ll << 40)}));
  metadata.set("a.f64", GgufArray::of<double>({3.125}));
  metadata.set("a.string", GgufArray::ofStrings({"<s>", "", "tok\n"}));
  metadata.set("a.empty", GgufArray::of<float>({}));
  metadata.set("a.nested", GgufArray::ofArrays({GgufArray::of<uint32_t>({1, 2}), GgufArray::ofStrings({"x"}),
                                                GgufArray::ofArrays({GgufArray::of<bool>({false})})}));
  return metadata;
}

/// Tensors of every supported type (small shapes).
inline std::vector<GgufTensorBlob> everyTypeTensors() {
  using quant::QType;
  std::vector<GgufTensorBlob> tensors;
  tensors.push_back(patternTensor("t.f32", QType::F32, {8, 3}));
  tensors.push_back(patternTensor("t.f16", QType::F16, {5}));
  tensors.push_back(patternTensor("t.bf16", QType::BF16, {4, 2, 2}));
  tensors.push_back(patternTensor("t.q8_0", QType::Q8_0, {64, 2}));
  tensors.push_back(patternTensor("t.q5_0", QType::Q5_0, {32, 1, 1, 2}));
  tensors.push_back(patternTensor("t.q4_0", QType::Q4_0, {64, 2}));
  tensors.push_back(patternTensor("t.q5_1", QType::Q5_1, {96, 2}));
  tensors.push_back(patternTensor("t.q4_k", QType::Q4_K, {256, 2}));
  tensors.push_back(patternTensor("t.q5_k", QType::Q5_K, {256, 2}));
  tensors.push_back(patternTensor("t.q6_k", QType::Q6_K, {256}));
  return tensors;
}

/// A small valid file: a few metadata entries and three small tensors (about 700 bytes).
inline std::vector<uint8_t> smallValidFile() {
  GgufMetadata metadata;
  metadata.set("general.architecture", "llama");
  metadata.set("llama.block_count", uint32_t{2});
  metadata.set("tokenizer.ggml.tokens", GgufArray::ofStrings({"a", "bc"}));
  metadata.set("a.nested", GgufArray::ofArrays({GgufArray::of<int16_t>({3})}));
  metadata.set("v.bool", false);
  std::vector<GgufTensorBlob> tensors;
  tensors.push_back(patternTensor("norm", quant::QType::F32, {8}));
  tensors.push_back(patternTensor("w", quant::QType::Q8_0, {32, 2}));
  tensors.push_back(patternTensor("h", quant::QType::F16, {3}));
  return serializeGguf(metadata, tensors);
}

/// A fresh directory under the system temp directory, removed at scope exit.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("reel-gguf-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  [[nodiscard]] std::filesystem::path file(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace reel::test
