#include "runtime/gguf/TensorCheck.h"

#include "quant/QuantFormats.h"
#include "support/Diagnostics.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace reel {
namespace {

/// Elements tested without a branch before looking for the exact one (keeps the loop
/// vectorizable over finite data).
constexpr size_t kScanChunk = 1024;

template <typename Bits>
Bits loadBits(const uint8_t* at) {
  Bits bits;
  std::memcpy(&bits, at, sizeof(Bits));
  return bits;
}

/// IEEE formats: the value is NaN or Inf when every exponent bit is set.
template <typename Bits, Bits kExponent>
constexpr bool exponentAllOnes(Bits bits) {
  return (bits & kExponent) == kExponent;
}

bool f32NonFinite(uint32_t bits) {
  return exponentAllOnes<uint32_t, 0x7f800000u>(bits);
}
bool f16NonFinite(uint16_t bits) {
  return exponentAllOnes<uint16_t, 0x7c00u>(bits);
}
bool bf16NonFinite(uint16_t bits) {
  return exponentAllOnes<uint16_t, 0x7f80u>(bits);
}
bool fp8NonFinite(uint8_t bits) {
  return (bits & 0x7fu) == 0x7fu;  // e4m3fn: S.1111.111 is NaN; there is no Inf
}

/// The first element of a scalar format whose bits `isBad` flags.
template <typename Bits, bool (*isBad)(Bits), float (*decode)(Bits)>
std::optional<NonFiniteValue> scanElements(std::span<const uint8_t> bytes) {
  const size_t count = bytes.size() / sizeof(Bits);
  for (size_t start = 0; start < count; start += kScanChunk) {
    const size_t end = std::min(count, start + kScanChunk);
    bool any = false;
    for (size_t i = start; i < end; ++i) any |= isBad(loadBits<Bits>(bytes.data() + i * sizeof(Bits)));
    if (!any) continue;
    for (size_t i = start; i < end; ++i) {
      const Bits bits = loadBits<Bits>(bytes.data() + i * sizeof(Bits));
      if (isBad(bits)) return NonFiniteValue{i, "", decode(bits)};
    }
  }
  return std::nullopt;
}

float f32FromBits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

/// One f16 field of a block format: its name and its byte offset in the block.
struct ScaleField {
  const char* name;
  size_t offset;
};

/// The first block of `blockBytes` bytes whose f16 fields hold NaN or Inf.
std::optional<NonFiniteValue> scanBlockScales(std::span<const uint8_t> bytes, size_t blockBytes,
                                              std::initializer_list<ScaleField> fields) {
  const size_t blocks = bytes.size() / blockBytes;
  for (size_t block = 0; block < blocks; ++block) {
    const uint8_t* at = bytes.data() + block * blockBytes;
    for (const ScaleField& field : fields) {
      const auto bits = loadBits<uint16_t>(at + field.offset);
      if (f16NonFinite(bits)) return NonFiniteValue{block, field.name, quant::f16ToF32(bits)};
    }
  }
  return std::nullopt;
}

/// "nan", "inf" or "-inf".
std::string valueName(float value) {
  if (value != value) return "nan";
  return value > 0 ? "inf" : "-inf";
}

}  // namespace

std::optional<NonFiniteValue> findNonFiniteValue(quant::QType type, std::span<const uint8_t> bytes) {
  using quant::QType;
  switch (type) {
    case QType::F32:
      return scanElements<uint32_t, f32NonFinite, f32FromBits>(bytes);
    case QType::F16:
      return scanElements<uint16_t, f16NonFinite, quant::f16ToF32>(bytes);
    case QType::BF16:
      return scanElements<uint16_t, bf16NonFinite, quant::bf16ToF32>(bytes);
    case QType::FP8_E4M3:
      return scanElements<uint8_t, fp8NonFinite, quant::fp8E4M3ToF32>(bytes);
    case QType::Q8_0:
      return scanBlockScales(bytes, sizeof(quant::BlockQ80), {{"d", offsetof(quant::BlockQ80, d)}});
    case QType::Q5_0:
      return scanBlockScales(bytes, sizeof(quant::BlockQ50), {{"d", offsetof(quant::BlockQ50, d)}});
    case QType::Q4_0:
      return scanBlockScales(bytes, sizeof(quant::BlockQ40), {{"d", offsetof(quant::BlockQ40, d)}});
    case QType::Q5_1:
      return scanBlockScales(bytes, sizeof(quant::BlockQ51),
                             {{"d", offsetof(quant::BlockQ51, d)}, {"m", offsetof(quant::BlockQ51, m)}});
    case QType::Q6_K:
      return scanBlockScales(bytes, sizeof(quant::BlockQ6K), {{"d", offsetof(quant::BlockQ6K, d)}});
    case QType::Q4_K:
      return scanBlockScales(bytes, sizeof(quant::BlockQ4K),
                             {{"d", offsetof(quant::BlockQ4K, d)}, {"dmin", offsetof(quant::BlockQ4K, dmin)}});
    case QType::Q5_K:
      return scanBlockScales(bytes, sizeof(quant::BlockQ5K),
                             {{"d", offsetof(quant::BlockQ5K, d)}, {"dmin", offsetof(quant::BlockQ5K, dmin)}});
    case QType::Q8_1:
      return scanBlockScales(bytes, sizeof(quant::BlockQ81),
                             {{"d", offsetof(quant::BlockQ81, d)}, {"s", offsetof(quant::BlockQ81, s)}});
  }
  return std::nullopt;
}

void requireFiniteValues(std::string_view source, std::string_view tensorName, quant::QType type, int64_t rowLength,
                         std::span<const uint8_t> bytes) {
  const std::optional<NonFiniteValue> bad = findNonFiniteValue(type, bytes);
  if (!bad) return;
  const auto blockElems = static_cast<uint64_t>(quant::blockElems(type));
  const uint64_t firstElement = bad->index * blockElems;
  const uint64_t row = rowLength > 0 ? firstElement / static_cast<uint64_t>(rowLength) : 0;
  const std::string where =
      *bad->field == '\0'
          ? fmt::format("element {} (row {}, column {}) is {}", bad->index, row,
                        rowLength > 0 ? firstElement % static_cast<uint64_t>(rowLength) : 0, valueName(bad->value))
          : fmt::format("block {} (row {}) has scale {} = {}", bad->index, row, bad->field, valueName(bad->value));
  failPlain("{}: tensor {} ({}): {}; the weights are damaged", source, quoteForMessage(tensorName),
            quant::qtypeName(type), where);
}

void checkTensorValues(const GgufFile& file, const GgufTensorInfo& tensor) {
  requireFiniteValues(file.name(), tensor.name, tensor.type, tensor.ne[0], file.tensorData(tensor));
}

void checkAllTensorValues(const GgufFile& file, unsigned threads) {
  const std::span<const GgufTensorInfo> tensors = file.tensors();
  std::atomic<size_t> next{0};
  std::mutex mutex;
  size_t firstBad = tensors.size();
  std::string firstError;
  const auto work = [&] {
    for (size_t i = next++; i < tensors.size(); i = next++) {
      try {
        checkTensorValues(file, tensors[i]);
      } catch (const Error& error) {
        std::lock_guard lock(mutex);
        if (i < firstBad) {
          firstBad = i;
          firstError = error.what();
        }
      }
    }
  };
  std::vector<std::thread> workers;
  for (unsigned t = 1; t < std::max(1u, threads); ++t) workers.emplace_back(work);
  work();
  for (std::thread& worker : workers) worker.join();
  if (firstBad < tensors.size()) throw Error(firstError);
}

}  // namespace reel
