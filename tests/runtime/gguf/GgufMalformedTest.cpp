// Malformed GGUF files: each class of defect gives a clean one-line reel::Error naming the
// file, the byte offset and the field; none crashes, hangs or allocates hugely (the ASan
// build checks the latter two).

#include "tests/runtime/gguf/GgufTestSupport.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>

using namespace reel;
using namespace reel::test;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

constexpr uint32_t kF32 = ggml_type::kF32;
constexpr uint64_t kHuge = std::numeric_limits<int64_t>::max();

/// Checks that parsing `bytes` fails with a one-line message containing `fragment`.
void expectError(const std::vector<uint8_t>& bytes, const std::string& fragment) {
  const std::string message = parseError(bytes);
  INFO(message);
  CHECK_THAT(message, StartsWith("t.gguf: offset ") && Contains(fragment));
  CHECK(message.find('\n') == std::string::npos);
}

/// A file with one F32 tensor of `ne` at data offset `offset`, data padded to `dataBytes`.
std::vector<uint8_t> oneTensorFile(const std::vector<int64_t>& ne, uint32_t type, uint64_t offset,
                                   size_t dataBytes = 64) {
  return RawGguf().header(1, 0).tensorInfo("w", ne, type, offset).padTo(32).fill(dataBytes).bytes;
}

}  // namespace

TEST_CASE("every prefix of a valid file is rejected cleanly or parses", "[gguf]") {
  const std::vector<uint8_t> bytes = smallValidFile();
  const GgufFile whole = GgufFile::fromMemory(bytes, "t.gguf");
  uint64_t dataEnd = 0;
  for (const GgufTensorInfo& info : whole.tensors()) dataEnd = std::max(dataEnd, info.fileOffset + info.byteSize);
  for (size_t length = 0; length <= bytes.size(); ++length) {
    INFO("prefix length " << length);
    const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(length));
    const std::string message = parseError(prefix);
    if (length < dataEnd) {
      CHECK_THAT(message, StartsWith("t.gguf: offset "));
    } else {
      CHECK(message == "<parsed>");
    }
  }
}

TEST_CASE("every single-byte corruption of a valid file is rejected cleanly or parses", "[gguf]") {
  const std::vector<uint8_t> bytes = smallValidFile();
  for (size_t at = 0; at < bytes.size(); ++at) {
    for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}}) {
      std::vector<uint8_t> corrupt = bytes;
      corrupt[at] ^= flip;
      const std::string message = parseError(corrupt);  // any other exception fails the test
      if (message != "<parsed>") {
        INFO("byte " << at << " ^ " << int{flip} << ": " << message);
        CHECK_THAT(message, StartsWith("t.gguf: offset "));
      }
    }
  }
}

TEST_CASE("bad magic and versions are rejected", "[gguf]") {
  std::vector<uint8_t> bytes = smallValidFile();
  bytes[0] = 'X';
  expectError(bytes, "offset 0: not a GGUF file (magic 'XGUF' instead of 'GGUF')");
  expectError(RawGguf().header(0, 0, 1).bytes, "offset 4: GGUF version 1 is not supported (only 2 and 3)");
  expectError(RawGguf().header(0, 0, 4).bytes, "GGUF version 4 is not supported");
  expectError(RawGguf().header(0, 0, 0x03000000).bytes, "offset 4: big-endian GGUF files are not supported");
  expectError({'G', 'G'}, "offset 0: magic: unexpected end of file (4 bytes needed, 2 left)");
}

TEST_CASE("huge counts and lengths are rejected before any allocation", "[gguf]") {
  expectError(RawGguf().header(kHuge, 0).bytes,
              "offset 8: tensor count 9223372036854775807 exceeds what the file can hold");
  expectError(RawGguf().header(0, kHuge).fill(100).bytes,
              "offset 16: metadata count 9223372036854775807 exceeds what the file can hold");
  expectError(RawGguf().header(2, 0).fill(40).bytes, "tensor count 2 exceeds what the file can hold");
  expectError(RawGguf().header(1, 3).fill(60).bytes, "tensor count 1 and metadata count 3 together exceed");
  expectError(RawGguf().header(0, 1).u64(kHuge).fill(20).bytes,
              "offset 24: metadata entry 0 key: string length 9223372036854775807 exceeds the 20 bytes left");
  expectError(RawGguf().header(0, 1).str(std::string(65536, 'k')).u32(0).u8(0).bytes,
              "offset 24: metadata entry 0 key: string length 65536 exceeds the limit of 65535 bytes");
  expectError(RawGguf().header(0, 1).u64(100).fill(20).bytes,
              "offset 24: metadata entry 0 key: string length 100 exceeds the 20 bytes left in the file");
  expectError(RawGguf().header(0, 1).str("k").u32(8).u64(kHuge).fill(8).bytes,
              "offset 37: key 'k': string length 9223372036854775807 exceeds the 8 bytes left");
  expectError(RawGguf().header(0, 1).str("k").u32(9).u32(4).u64(kHuge).fill(8).bytes,
              "offset 41: key 'k': array length 9223372036854775807 exceeds what the file can hold");
  expectError(RawGguf().header(0, 1).str("k").u32(9).u32(8).u64(3).u64(0).u64(0).bytes,
              "key 'k': array length 3 exceeds what the file can hold (at most 2 elements of type string");
  expectError(RawGguf().header(0, 1).str("k").u32(9).u32(8).u64(2).u64(0).u64(5).fill(4).bytes,
              "key 'k': string length 5 exceeds the 4 bytes left");
  expectError(RawGguf().header(1, 0).u64(kHuge).fill(40).bytes,
              "offset 24: tensor 0 name: string length 9223372036854775807 exceeds the 40 bytes left");
  expectError(RawGguf().header(1, 0).tensorInfo(std::string(64, 'n'), {8}, kF32, 0).fill(64).bytes,
              "offset 24: tensor 0 name: string length 64 exceeds the limit of 63 bytes");
}

TEST_CASE("bad tensor data offsets are rejected", "[gguf]") {
  expectError(oneTensorFile({8}, kF32, 64), "tensor 'w': data offset 64 with 32 bytes of data runs past the end");
  expectError(oneTensorFile({8}, kF32, 0xffffffffffffffe0ull), "runs past the end of the file");
  expectError(oneTensorFile({8}, kF32, 8), "tensor 'w': data offset 8 is not a multiple of the alignment 32");
  const auto overlapping =
      RawGguf().header(2, 0).tensorInfo("a", {16}, kF32, 0).tensorInfo("b", {8}, kF32, 32).padTo(32).fill(128).bytes;
  expectError(overlapping, "tensor 'b': data [32, 64) overlaps tensor 'a' at [0, 64)");
  const auto sameOffset =
      RawGguf().header(2, 0).tensorInfo("a", {8}, kF32, 0).tensorInfo("b", {8}, kF32, 0).padTo(32).fill(64).bytes;
  expectError(sameOffset, "tensor 'b': data [0, 32) overlaps tensor 'a'");
  // Truncated inside the padding before the data.
  auto truncated = RawGguf().header(1, 0).tensorInfo("w", {8}, kF32, 0).bytes;
  truncated.push_back(0);
  expectError(truncated, "runs past the end of the file");
}

TEST_CASE("bad alignments are rejected", "[gguf]") {
  for (uint32_t alignment : {0u, 3u, 48u}) {
    const auto bytes = RawGguf().header(0, 1).kvU32("general.alignment", alignment).bytes;
    expectError(bytes,
                fmt::format("offset 53: key 'general.alignment': alignment {} is not a power of two", alignment));
  }
  expectError(RawGguf().header(0, 1).str("general.alignment").u32(8).str("32").bytes,
              "key 'general.alignment' is string, expected u32");
  const auto aligned64 =
      RawGguf().header(1, 1).kvU32("general.alignment", 64).tensorInfo("w", {8}, kF32, 32).padTo(64).fill(128).bytes;
  expectError(aligned64, "data offset 32 is not a multiple of the alignment 64");
}

TEST_CASE("a file of alignment 1 serves every tensor's data aligned, with the file's bytes", "[gguf]") {
  // Two F32 tensors packed at odd data offsets (3 floats at 1, 2 floats at 14).
  RawGguf raw;
  raw.header(2, 1).kvU32("general.alignment", 1).tensorInfo("a", {3}, kF32, 1).tensorInfo("b", {2}, kF32, 14);
  for (int i = 0; i < 22; ++i) raw.u8(static_cast<uint8_t>(17 * i + 5));
  const GgufFile file = GgufFile::fromMemory(raw.bytes, "t.gguf");
  CHECK(file.relocatedBytes() > 0);
  for (const GgufTensorInfo& info : file.tensors()) {
    INFO(info.name);
    const std::span<const uint8_t> data = file.tensorData(info);
    CHECK(reinterpret_cast<uintptr_t>(data.data()) % GgufFile::kTensorDataAlignment == 0);
    REQUIRE(data.size() == info.byteSize);
    CHECK(std::equal(data.begin(), data.end(), raw.bytes.begin() + static_cast<std::ptrdiff_t>(info.fileOffset)));
    const GgufTensorInfo copy = info;  // a caller's copy of the info finds the same data
    CHECK(file.tensorData(copy).data() == data.data());
  }
}

TEST_CASE("unknown value types and tensor types are rejected", "[gguf]") {
  expectError(RawGguf().header(0, 1).str("k").u32(13).fill(8).bytes, "offset 33: key 'k': unknown value type 13");
  expectError(RawGguf().header(0, 1).str("k").u32(9).u32(77).u64(0).bytes,
              "offset 37: key 'k': unknown array element type 77");
  expectError(RawGguf().header(0, 1).str("k").u32(7).u8(2).fill(8).bytes, "key 'k': bool value 2 is neither 0 nor 1");
  expectError(RawGguf().header(0, 1).str("k").u32(9).u32(7).u64(2).u8(1).u8(5).fill(8).bytes,
              "offset 50: key 'k': bool element 1 is 5, neither 0 nor 1");
  expectError(oneTensorFile({32}, 3, 0), "tensor 'w': ggml type 3 (Q4_1) is not supported");
  expectError(oneTensorFile({32}, 1000, 0), "ggml type 1000 (unknown) is not supported");
  expectError(oneTensorFile({32}, 9, 0), "ggml type 9 (Q8_1) is not supported");
  auto deep = RawGguf().header(0, 1).str("k").u32(9);
  for (int level = 0; level < 5; ++level) deep.u32(9).u64(1);
  deep.u32(0).u64(0).fill(8);
  expectError(deep.bytes, "key 'k': arrays nested deeper than 4 levels");
}

TEST_CASE("bad tensor shapes are rejected", "[gguf]") {
  expectError(oneTensorFile({1, 1, 1, 1, 1}, kF32, 0), "offset 33: tensor 'w': n_dims 5 is not in 1..4");
  expectError(oneTensorFile({}, kF32, 0), "tensor 'w': n_dims 0 is not in 1..4");
  expectError(oneTensorFile({8, 0}, kF32, 0), "offset 45: tensor 'w': ne[1] = 0 is not positive");
  expectError(oneTensorFile({-8}, kF32, 0), "tensor 'w': ne[0] = -8 is not positive");
  expectError(oneTensorFile({1ll << 32, 1ll << 32}, kF32, 0),
              "tensor 'w': the element count of ne = [4294967296, 4294967296] overflows int64");
  expectError(oneTensorFile({1ll << 62}, kF32, 0), "tensor 'w': the byte size of ne = [4611686018427387904] overflows");
  expectError(oneTensorFile({100}, ggml_type::kQ4_K, 0),
              "tensor 'w': row length ne[0] = 100 is not a multiple of the Q4_K block size 256");
  expectError(oneTensorFile({16}, ggml_type::kQ8_0, 0), "not a multiple of the Q8_0 block size 32");
  // A huge but representable tensor must not fit in a small file.
  expectError(oneTensorFile({1ll << 40}, kF32, 0), "runs past the end of the file");
}

TEST_CASE("duplicate and empty names are rejected", "[gguf]") {
  const auto duplicateTensors =
      RawGguf().header(2, 0).tensorInfo("w", {8}, kF32, 0).tensorInfo("w", {8}, kF32, 32).padTo(32).fill(64).bytes;
  expectError(duplicateTensors, "offset 57: tensor 'w': the name appears twice (tensors 0 and 1)");
  const auto duplicateKeys = RawGguf().header(0, 2).kvU32("k", 1).kvU32("k", 2).bytes;
  expectError(duplicateKeys, "offset 41: key 'k' appears twice");
  expectError(RawGguf().header(0, 1).str("").u32(0).u8(0).bytes, "metadata entry 0: the key is empty");
  expectError(RawGguf().header(1, 0).tensorInfo("", {8}, kF32, 0).padTo(32).fill(32).bytes,
              "offset 24: tensor 0: the name is empty");
  const auto hostileName = RawGguf().header(1, 0).tensorInfo("a\nb", {8}, 3, 0).padTo(32).fill(32).bytes;
  expectError(hostileName, "tensor 'a\\x0ab': ggml type 3");
}

TEST_CASE("tensorData rejects a tensor info that is not from the file", "[gguf]") {
  const GgufFile file = GgufFile::fromMemory(smallValidFile(), "t.gguf");
  GgufTensorInfo forged = file.tensors()[0];
  forged.byteSize = file.fileSize();
  CHECK_THROWS_WITH(file.tensorData(forged), Contains("does not lie in the data section"));
}

TEST_CASE("the sanity limits hold even where the file is large enough", "[gguf]") {
  const GgufLimits limits{.maxTensors = 2, .maxMetadataEntries = 3, .maxArrayObjects = 5};
  const auto parseWithLimits = [&](const std::vector<uint8_t>& bytes) -> std::string {
    try {
      (void)GgufFile::fromMemory(bytes, "t.gguf", limits);
    } catch (const Error& error) {
      return error.what();
    }
    return "<parsed>";
  };
  CHECK_THAT(parseWithLimits(RawGguf().header(3, 0).fill(200).bytes),
             Contains("offset 8: tensor count 3 exceeds the limit of 2"));
  CHECK_THAT(parseWithLimits(RawGguf().header(0, 4).fill(200).bytes),
             Contains("offset 16: metadata count 4 exceeds the limit of 3"));
  const auto strings = [](uint64_t count) {
    auto raw = RawGguf().header(0, 1).str("k").u32(9).u32(8).u64(count);
    for (uint64_t i = 0; i < count; ++i) raw.str("s");
    return raw.bytes;
  };
  CHECK(parseWithLimits(strings(5)) == "<parsed>");
  CHECK_THAT(parseWithLimits(strings(6)),
             Contains("offset 41: key 'k': array length 6 exceeds the limit of 5 strings and arrays"));
  // Nested arrays count too, at every level: 2 + 2 * 2 = 6 objects.
  auto nested = RawGguf().header(0, 1).str("k").u32(9).u32(9).u64(2);
  for (int outer = 0; outer < 2; ++outer) {
    nested.u32(9).u64(2);
    for (int inner = 0; inner < 2; ++inner) nested.u32(0).u64(0);
  }
  CHECK_THAT(parseWithLimits(nested.bytes), Contains("exceeds the limit of 5 strings and arrays"));
}
