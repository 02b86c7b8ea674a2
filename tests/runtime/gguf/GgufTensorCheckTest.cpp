// Tensor value checks (runtime/gguf/TensorCheck.h): NaN and Inf found in every element
// format and in the f16 scales of every block format, reported by tensor, element or block,
// row and column.

#include "quant/QuantFormats.h"
#include "runtime/gguf/TensorCheck.h"
#include "tests/runtime/gguf/GgufTestSupport.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>

using namespace reel;
using namespace reel::test;
using Catch::Matchers::Contains;
using quant::QType;

namespace {

constexpr uint16_t kF16Nan = 0x7e00;
constexpr uint16_t kF16Inf = 0x7c00;
constexpr uint16_t kF16NegInf = 0xfc00;

/// A GGUF file of `tensors` in which the bytes at `byteOffset` of tensor `name` are
/// replaced by `value`'s.
template <typename T>
GgufFile patchedFile(const std::vector<GgufTensorBlob>& tensors, const std::string& name, size_t byteOffset, T value) {
  std::vector<uint8_t> bytes = serializeGguf(GgufMetadata(), tensors);
  const GgufFile clean = GgufFile::fromMemory(bytes, "t.gguf");
  std::memcpy(bytes.data() + clean.tensor(name).fileOffset + byteOffset, &value, sizeof(T));
  return GgufFile::fromMemory(bytes, "t.gguf");
}

/// checkTensorValues' message for tensor `name` of `file`, or "<finite>".
std::string checkMessage(const GgufFile& file, const std::string& name) {
  try {
    checkTensorValues(file, file.tensor(name));
  } catch (const Error& error) {
    return error.what();
  }
  return "<finite>";
}

}  // namespace

TEST_CASE("tensors of every type with finite values pass", "[gguf][check]") {
  const std::vector<GgufTensorBlob> tensors = everyTypeTensors();
  const GgufFile file = GgufFile::fromMemory(serializeGguf(GgufMetadata(), tensors), "t.gguf");
  for (const GgufTensorInfo& tensor : file.tensors()) CHECK(checkMessage(file, tensor.name) == "<finite>");
  CHECK_NOTHROW(checkAllTensorValues(file, 3));
}

TEST_CASE("NaN and Inf elements are found by element, row and column", "[gguf][check]") {
  const std::vector<GgufTensorBlob> tensors = everyTypeTensors();
  CHECK(checkMessage(patchedFile(tensors, "t.f32", 13 * 4, std::numeric_limits<float>::quiet_NaN()), "t.f32") ==
        "t.gguf: tensor 't.f32' (f32): element 13 (row 1, column 5) is nan; the weights are damaged");
  CHECK(checkMessage(patchedFile(tensors, "t.f32", 0, -std::numeric_limits<float>::infinity()), "t.f32") ==
        "t.gguf: tensor 't.f32' (f32): element 0 (row 0, column 0) is -inf; the weights are damaged");
  CHECK(checkMessage(patchedFile(tensors, "t.f16", 4 * 2, kF16Inf), "t.f16") ==
        "t.gguf: tensor 't.f16' (f16): element 4 (row 0, column 4) is inf; the weights are damaged");
  CHECK(checkMessage(patchedFile(tensors, "t.bf16", 9 * 2, uint16_t{0xff80}), "t.bf16") ==
        "t.gguf: tensor 't.bf16' (bf16): element 9 (row 2, column 1) is -inf; the weights are damaged");
  // The largest finite values are not flagged.
  CHECK(checkMessage(patchedFile(tensors, "t.f16", 2, uint16_t{0x7bff}), "t.f16") == "<finite>");
  CHECK(checkMessage(patchedFile(tensors, "t.f32", 4, std::numeric_limits<float>::max()), "t.f32") == "<finite>");
}

TEST_CASE("a bad element deep in a large tensor is found exactly", "[gguf][check]") {
  std::vector<GgufTensorBlob> tensors{patternTensor("big", QType::F32, {100, 50})};
  CHECK(checkMessage(patchedFile(tensors, "big", 4321 * 4, std::numeric_limits<float>::infinity()), "big") ==
        "t.gguf: tensor 'big' (f32): element 4321 (row 43, column 21) is inf; the weights are damaged");
}

TEST_CASE("NaN and Inf block scales are found by block and field", "[gguf][check]") {
  const std::vector<GgufTensorBlob> tensors = everyTypeTensors();
  CHECK(checkMessage(patchedFile(tensors, "t.q8_0", 3 * sizeof(quant::BlockQ80), kF16Nan), "t.q8_0") ==
        "t.gguf: tensor 't.q8_0' (q8_0): block 3 (row 1) has scale d = nan; the weights are damaged");
  CHECK(checkMessage(patchedFile(tensors, "t.q5_0", sizeof(quant::BlockQ50), kF16Inf), "t.q5_0") ==
        "t.gguf: tensor 't.q5_0' (q5_0): block 1 (row 1) has scale d = inf; the weights are damaged");
  CHECK(checkMessage(patchedFile(tensors, "t.q4_k", 0, kF16Nan), "t.q4_k") ==
        "t.gguf: tensor 't.q4_k' (q4_k): block 0 (row 0) has scale d = nan; the weights are damaged");
  CHECK(checkMessage(
            patchedFile(tensors, "t.q4_k", sizeof(quant::BlockQ4K) + offsetof(quant::BlockQ4K, dmin), kF16NegInf),
            "t.q4_k") ==
        "t.gguf: tensor 't.q4_k' (q4_k): block 1 (row 1) has scale dmin = -inf; the weights are damaged");
  CHECK(checkMessage(patchedFile(tensors, "t.q4_0", 2 * sizeof(quant::BlockQ40), kF16Nan), "t.q4_0") ==
        "t.gguf: tensor 't.q4_0' (q4_0): block 2 (row 1) has scale d = nan; the weights are damaged");
  CHECK(checkMessage(patchedFile(tensors, "t.q5_1", 4 * sizeof(quant::BlockQ51), kF16Inf), "t.q5_1") ==
        "t.gguf: tensor 't.q5_1' (q5_1): block 4 (row 1) has scale d = inf; the weights are damaged");
  CHECK(checkMessage(patchedFile(tensors, "t.q5_1", sizeof(quant::BlockQ51) + offsetof(quant::BlockQ51, m), kF16NegInf),
                     "t.q5_1") ==
        "t.gguf: tensor 't.q5_1' (q5_1): block 1 (row 0) has scale m = -inf; the weights are damaged");
  CHECK(checkMessage(patchedFile(tensors, "t.q5_k", 0, kF16Inf), "t.q5_k") ==
        "t.gguf: tensor 't.q5_k' (q5_k): block 0 (row 0) has scale d = inf; the weights are damaged");
  CHECK(checkMessage(patchedFile(tensors, "t.q5_k", sizeof(quant::BlockQ5K) + offsetof(quant::BlockQ5K, dmin), kF16Nan),
                     "t.q5_k") ==
        "t.gguf: tensor 't.q5_k' (q5_k): block 1 (row 1) has scale dmin = nan; the weights are damaged");
  CHECK(checkMessage(patchedFile(tensors, "t.q6_k", offsetof(quant::BlockQ6K, d), kF16Inf), "t.q6_k") ==
        "t.gguf: tensor 't.q6_k' (q6_k): block 0 (row 0) has scale d = inf; the weights are damaged");
  // Quants are integers: any byte pattern in them decodes to a finite value.
  CHECK(checkMessage(patchedFile(tensors, "t.q6_k", 0, uint64_t{~0ull}), "t.q6_k") == "<finite>");
}

TEST_CASE("element and block scans of raw bytes: fp8 NaN, q8_1 fields", "[gguf][check]") {
  const std::vector<uint8_t> fp8{0x00, 0x7e, 0xfe, 0xff};  // 0x7e/0xfe are +-448, 0xff is NaN
  const std::optional<NonFiniteValue> fp8Bad = findNonFiniteValue(QType::FP8_E4M3, fp8);
  REQUIRE(fp8Bad);
  CHECK(fp8Bad->index == 3);
  CHECK(std::isnan(fp8Bad->value));

  std::vector<uint8_t> q81(2 * sizeof(quant::BlockQ81), 0);
  CHECK_FALSE(findNonFiniteValue(QType::Q8_1, q81));
  std::memcpy(q81.data() + sizeof(quant::BlockQ81) + offsetof(quant::BlockQ81, s), &kF16Inf, 2);
  const std::optional<NonFiniteValue> q81Bad = findNonFiniteValue(QType::Q8_1, q81);
  REQUIRE(q81Bad);
  CHECK(q81Bad->index == 1);
  CHECK(std::string(q81Bad->field) == "s");
}

TEST_CASE("checking a whole file names the first bad tensor in file order", "[gguf][check]") {
  std::vector<GgufTensorBlob> tensors = everyTypeTensors();
  std::vector<uint8_t> bytes = serializeGguf(GgufMetadata(), tensors);
  const GgufFile clean = GgufFile::fromMemory(bytes, "t.gguf");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(bytes.data() + clean.tensor("t.q6_k").fileOffset + offsetof(quant::BlockQ6K, d), &kF16Nan, 2);
  std::memcpy(bytes.data() + clean.tensor("t.f32").fileOffset + 8, &nan, 4);
  const GgufFile file = GgufFile::fromMemory(bytes, "t.gguf");
  for (unsigned threads : {1u, 4u})
    CHECK_THROWS_WITH(checkAllTensorValues(file, threads), Contains("tensor 't.f32' (f32): element 2 (row 0"));
}
