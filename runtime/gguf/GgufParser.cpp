// The GGUF header parser. Every count, length, dimension, offset and size is checked
// against the file size and for overflow before it is used, so that a hostile file gives
// a one-line reel::Error and never a crash, a hang or a huge allocation: memory grows only
// with bytes actually present in the file, and every loop consumes file bytes.

#include "runtime/gguf/ByteCursor.h"
#include "runtime/gguf/GgufFile.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <numeric>

namespace reel {

namespace {

/// Fewest bytes a tensor info takes: name length, n_dims, one dimension, type, offset.
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;
/// Fewest bytes a metadata entry takes: key length, value type, a one-byte value.
constexpr uint64_t kMinMetadataEntryBytes = 8 + 4 + 1;

/// Parses one file's header; one object per parse.
class HeaderParser {
 public:
  HeaderParser(std::span<const uint8_t> bytes, const std::string& source, const GgufLimits& limits)
      : cursor_(bytes, source), limits_(limits), arrayObjectsLeft_(limits.maxArrayObjects) {
    header_.metadata = GgufMetadata(source);
  }

  GgufHeader parse() && {
    readPreamble();
    readMetadata();
    readAlignment();
    for (uint64_t i = 0; i < tensorCount_; ++i) readTensorInfo(i);
    placeTensorData();
    return std::move(header_);
  }

 private:
  void readPreamble();
  void readCounts();
  void readMetadata();
  GgufValue readValue(GgufValueType type, const std::string& field, unsigned depth);
  GgufArray readArray(const std::string& field, unsigned depth);
  void readAlignment();
  void readTensorInfo(uint64_t index);
  void placeTensorData();
  void rejectOverlaps() const;
  /// Where the data offset field of a tensor info lies in the file.
  static uint64_t offsetFieldOffset(const GgufTensorInfo& info) {
    return info.infoOffset + 8 + info.name.size() + 4 + 8 * uint64_t{info.nDims} + 4;
  }

  ByteCursor cursor_;
  const GgufLimits& limits_;
  uint64_t arrayObjectsLeft_;  ///< strings and arrays that metadata arrays may still hold
  GgufHeader header_;
  uint64_t tensorCount_ = 0;
  uint64_t metadataCount_ = 0;
  uint64_t alignmentValueOffset_ = 0;  ///< where general.alignment's value lies, if present
};

void HeaderParser::readPreamble() {
  const auto magic = cursor_.read<uint32_t>("magic");
  if (std::memcmp(&magic, kGgufMagic.data(), sizeof(magic)) != 0) {
    cursor_.failAt(0, "not a GGUF file (magic {} instead of 'GGUF')",
                   quoteForMessage({reinterpret_cast<const char*>(&magic), sizeof(magic)}));
  }
  const auto version = cursor_.read<uint32_t>("version");
  if (version != 2 && version != 3) {
    const uint32_t swapped = __builtin_bswap32(version);
    if (swapped == 2 || swapped == 3) cursor_.failAt(4, "big-endian GGUF files are not supported");
    cursor_.failAt(4, "GGUF version {} is not supported (only 2 and 3)", version);
  }
  header_.version = version;
  readCounts();
}

void HeaderParser::readCounts() {
  const uint64_t tensorCountOffset = cursor_.offset();
  tensorCount_ = cursor_.read<uint64_t>("tensor count");
  const uint64_t metadataCountOffset = cursor_.offset();
  metadataCount_ = cursor_.read<uint64_t>("metadata count");
  const uint64_t left = cursor_.remaining();
  if (tensorCount_ > left / kMinTensorInfoBytes) {
    cursor_.failAt(tensorCountOffset,
                   "tensor count {} exceeds what the file can hold (at most {} tensor infos of {}+ "
                   "bytes in the {} bytes left)",
                   tensorCount_, left / kMinTensorInfoBytes, kMinTensorInfoBytes, left);
  }
  if (tensorCount_ > limits_.maxTensors) {
    cursor_.failAt(tensorCountOffset, "tensor count {} exceeds the limit of {}", tensorCount_, limits_.maxTensors);
  }
  if (metadataCount_ > left / kMinMetadataEntryBytes) {
    cursor_.failAt(metadataCountOffset,
                   "metadata count {} exceeds what the file can hold (at most {} entries of {}+ "
                   "bytes in the {} bytes left)",
                   metadataCount_, left / kMinMetadataEntryBytes, kMinMetadataEntryBytes, left);
  }
  if (metadataCount_ > limits_.maxMetadataEntries) {
    cursor_.failAt(metadataCountOffset, "metadata count {} exceeds the limit of {}", metadataCount_,
                   limits_.maxMetadataEntries);
  }
  // Each product is at most `left`, so the sum cannot overflow.
  if (tensorCount_ * kMinTensorInfoBytes + metadataCount_ * kMinMetadataEntryBytes > left) {
    cursor_.failAt(tensorCountOffset,
                   "tensor count {} and metadata count {} together exceed what the {} bytes left "
                   "can hold",
                   tensorCount_, metadataCount_, left);
  }
}

void HeaderParser::readMetadata() {
  for (uint64_t i = 0; i < metadataCount_; ++i) {
    const uint64_t keyOffset = cursor_.offset();
    std::string key = cursor_.readString(fmt::format("metadata entry {} key", i), kGgufMaxKeyBytes);
    if (key.empty()) cursor_.failAt(keyOffset, "metadata entry {}: the key is empty", i);
    const std::string field = "key " + quoteForMessage(key);
    if (header_.metadata.contains(key)) cursor_.failAt(keyOffset, "{} appears twice", field);
    const uint64_t typeOffset = cursor_.offset();
    const auto typeId = cursor_.read<uint32_t>({field, "value type"});
    const auto type = ggufValueTypeFromId(typeId);
    if (!type) cursor_.failAt(typeOffset, "{}: unknown value type {}", field, typeId);
    if (key == kGgufAlignmentKey) alignmentValueOffset_ = cursor_.offset();
    GgufValue value = readValue(*type, field, 0);
    header_.metadata.set(std::move(key), std::move(value));
  }
}

GgufValue HeaderParser::readValue(GgufValueType type, const std::string& field, unsigned depth) {
  switch (type) {
    case GgufValueType::UInt8:
      return cursor_.read<uint8_t>(field);
    case GgufValueType::Int8:
      return cursor_.read<int8_t>(field);
    case GgufValueType::UInt16:
      return cursor_.read<uint16_t>(field);
    case GgufValueType::Int16:
      return cursor_.read<int16_t>(field);
    case GgufValueType::UInt32:
      return cursor_.read<uint32_t>(field);
    case GgufValueType::Int32:
      return cursor_.read<int32_t>(field);
    case GgufValueType::Float32:
      return cursor_.read<float>(field);
    case GgufValueType::UInt64:
      return cursor_.read<uint64_t>(field);
    case GgufValueType::Int64:
      return cursor_.read<int64_t>(field);
    case GgufValueType::Float64:
      return cursor_.read<double>(field);
    case GgufValueType::Bool: {
      const uint64_t valueOffset = cursor_.offset();
      const auto raw = cursor_.read<uint8_t>(field);
      if (raw > 1) cursor_.failAt(valueOffset, "{}: bool value {} is neither 0 nor 1", field, raw);
      return raw == 1;
    }
    case GgufValueType::String:
      return cursor_.readString(field, cursor_.size());
    case GgufValueType::Array:
      return readArray(field, depth);
  }
  cursor_.failAt(cursor_.offset(), "{}: unknown value type", field);  // unreachable: ids are checked
}

GgufArray HeaderParser::readArray(const std::string& field, unsigned depth) {
  const uint64_t typeOffset = cursor_.offset();
  if (depth >= kGgufMaxArrayNesting) {
    cursor_.failAt(typeOffset, "{}: arrays nested deeper than {} levels", field, kGgufMaxArrayNesting);
  }
  const auto typeId = cursor_.read<uint32_t>({field, "array element type"});
  const auto elementType = ggufValueTypeFromId(typeId);
  if (!elementType) cursor_.failAt(typeOffset, "{}: unknown array element type {}", field, typeId);
  const uint64_t countOffset = cursor_.offset();
  const auto count = cursor_.read<uint64_t>({field, "array length"});
  const uint64_t minBytes = ggufMinEncodedSize(*elementType);
  if (count > cursor_.remaining() / minBytes) {
    cursor_.failAt(countOffset,
                   "{}: array length {} exceeds what the file can hold (at most {} elements of "
                   "type {} in the {} bytes left)",
                   field, count, cursor_.remaining() / minBytes, ggufValueTypeName(*elementType), cursor_.remaining());
  }
  const bool holdsObjects = *elementType == GgufValueType::String || *elementType == GgufValueType::Array;
  if (holdsObjects && count > arrayObjectsLeft_) {
    cursor_.failAt(countOffset, "{}: array length {} exceeds the limit of {} strings and arrays in all metadata arrays",
                   field, count, limits_.maxArrayObjects);
  }
  if (holdsObjects) arrayObjectsLeft_ -= count;
  if (*elementType == GgufValueType::String) {
    std::vector<std::string> strings;
    for (uint64_t i = 0; i < count; ++i) strings.push_back(cursor_.readString(field, cursor_.size()));
    return GgufArray::ofStrings(std::move(strings));
  }
  if (*elementType == GgufValueType::Array) {
    std::vector<GgufArray> arrays;
    for (uint64_t i = 0; i < count; ++i) arrays.push_back(readArray(field, depth + 1));
    return GgufArray::ofArrays(std::move(arrays));
  }
  const uint64_t elementsOffset = cursor_.offset();
  std::vector<uint8_t> packed = cursor_.readBytes(count * minBytes, field);
  if (*elementType == GgufValueType::Bool) {
    for (size_t i = 0; i < packed.size(); ++i) {
      if (packed[i] > 1) {
        cursor_.failAt(elementsOffset + i, "{}: bool element {} is {}, neither 0 nor 1", field, i, packed[i]);
      }
    }
  }
  return GgufArray::fromPackedScalars(*elementType, std::move(packed));
}

void HeaderParser::readAlignment() {
  const GgufValue* value = header_.metadata.find(kGgufAlignmentKey);
  if (value == nullptr) return;
  const auto alignment = value->get<uint32_t>();
  if (!alignment) {
    cursor_.failAt(alignmentValueOffset_, "key {} is {}, expected u32", quoteForMessage(kGgufAlignmentKey),
                   ggufValueTypeName(value->type()));
  }
  if (!std::has_single_bit(*alignment)) {
    cursor_.failAt(alignmentValueOffset_, "key {}: alignment {} is not a power of two",
                   quoteForMessage(kGgufAlignmentKey), *alignment);
  }
  header_.alignment = *alignment;
}

void HeaderParser::readTensorInfo(uint64_t index) {
  GgufTensorInfo info;
  info.infoOffset = cursor_.offset();
  info.name = cursor_.readString(fmt::format("tensor {} name", index), kGgufMaxTensorNameBytes);
  if (info.name.empty()) cursor_.failAt(info.infoOffset, "tensor {}: the name is empty", index);
  const std::string field = "tensor " + quoteForMessage(info.name);
  if (auto previous = header_.tensorIndex.find(info.name); previous != header_.tensorIndex.end()) {
    cursor_.failAt(info.infoOffset, "{}: the name appears twice (tensors {} and {})", field, previous->second, index);
  }

  const uint64_t dimsOffset = cursor_.offset();
  info.nDims = cursor_.read<uint32_t>({field, "n_dims"});
  if (info.nDims == 0 || info.nDims > kGgufMaxDims) {
    cursor_.failAt(dimsOffset, "{}: n_dims {} is not in 1..{}", field, info.nDims, kGgufMaxDims);
  }
  int64_t elements = 1;
  bool overflow = false;
  for (uint32_t d = 0; d < info.nDims; ++d) {
    const uint64_t dimOffset = cursor_.offset();
    static constexpr std::array<std::string_view, kGgufMaxDims> kDimNames = {"ne[0]", "ne[1]", "ne[2]", "ne[3]"};
    info.ne[d] = cursor_.read<int64_t>({field, kDimNames[d]});
    if (info.ne[d] <= 0) cursor_.failAt(dimOffset, "{}: ne[{}] = {} is not positive", field, d, info.ne[d]);
    overflow = overflow || __builtin_mul_overflow(elements, info.ne[d], &elements);
  }
  if (overflow) {
    cursor_.failAt(dimsOffset, "{}: the element count of ne = [{}] overflows int64", field,
                   fmt::join(info.dims(), ", "));
  }

  const uint64_t typeOffset = cursor_.offset();
  info.ggmlType = cursor_.read<uint32_t>({field, "type"});
  const auto qtype = qtypeFromGgmlType(info.ggmlType);
  if (!qtype) {
    cursor_.failAt(
        typeOffset,
        "{}: ggml type {} ({}) is not supported (only F32, F16, BF16, Q8_0, Q5_0, Q5_1, Q4_0, Q4_K, Q5_K, Q6_K)", field,
        info.ggmlType, ggmlTypeName(info.ggmlType));
  }
  info.type = *qtype;
  const auto blockElems = static_cast<int64_t>(quant::blockElems(info.type));
  if (info.ne[0] % blockElems != 0) {
    cursor_.failAt(dimsOffset, "{}: row length ne[0] = {} is not a multiple of the {} block size {}", field, info.ne[0],
                   ggmlTypeName(info.ggmlType), blockElems);
  }
  const auto bytes = ggufTensorBytes(info.type, info.dims());
  if (!bytes) {
    cursor_.failAt(dimsOffset, "{}: the byte size of ne = [{}] overflows int64", field, fmt::join(info.dims(), ", "));
  }
  info.byteSize = *bytes;

  const uint64_t offsetOffset = cursor_.offset();
  info.offset = cursor_.read<uint64_t>({field, "data offset"});
  if (info.offset % header_.alignment != 0) {
    cursor_.failAt(offsetOffset, "{}: data offset {} is not a multiple of the alignment {}", field, info.offset,
                   header_.alignment);
  }
  header_.tensorIndex.emplace(info.name, header_.tensors.size());
  header_.tensors.push_back(std::move(info));
}

void HeaderParser::placeTensorData() {
  // The data section starts at the first aligned offset after the header; tensor offsets
  // are relative to it, so no tensor can overlap the header.
  const uint64_t headerEnd = cursor_.offset();
  const uint64_t alignment = header_.alignment;
  header_.dataOffset = (headerEnd + alignment - 1) / alignment * alignment;  // headerEnd < 2^63
  const uint64_t fileSize = cursor_.size();
  for (GgufTensorInfo& info : header_.tensors) {
    uint64_t start = 0;
    uint64_t end = 0;
    if (__builtin_add_overflow(header_.dataOffset, info.offset, &start) ||
        __builtin_add_overflow(start, info.byteSize, &end) || end > fileSize) {
      cursor_.failAt(offsetFieldOffset(info),
                     "tensor {}: data offset {} with {} bytes of data runs past the end of the file "
                     "(data section at {}, file size {})",
                     quoteForMessage(info.name), info.offset, info.byteSize, header_.dataOffset, fileSize);
    }
    info.fileOffset = start;
  }
  rejectOverlaps();
}

void HeaderParser::rejectOverlaps() const {
  const std::vector<GgufTensorInfo>& tensors = header_.tensors;
  std::vector<size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return tensors[a].fileOffset != tensors[b].fileOffset ? tensors[a].fileOffset < tensors[b].fileOffset : a < b;
  });
  for (size_t k = 1; k < order.size(); ++k) {
    const GgufTensorInfo& before = tensors[order[k - 1]];
    const GgufTensorInfo& after = tensors[order[k]];
    if (before.fileOffset + before.byteSize > after.fileOffset) {
      cursor_.failAt(offsetFieldOffset(after), "tensor {}: data [{}, {}) overlaps tensor {} at [{}, {})",
                     quoteForMessage(after.name), after.offset, after.offset + after.byteSize,
                     quoteForMessage(before.name), before.offset, before.offset + before.byteSize);
    }
  }
}

}  // namespace

GgufHeader parseGgufHeader(std::span<const uint8_t> bytes, const std::string& source, const GgufLimits& limits) {
  return HeaderParser(bytes, source, limits).parse();
}

}  // namespace reel
