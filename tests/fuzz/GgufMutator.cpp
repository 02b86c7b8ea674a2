#include "tests/fuzz/GgufMutator.h"

#include "quant/QuantRef.h"
#include "runtime/gguf/GgufEncoding.h"
#include "runtime/gguf/GgufFile.h"
#include "runtime/gguf/GgufWriter.h"
#include "support/Diagnostics.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

namespace reel::fuzz {

namespace {

using Rng = std::mt19937_64;

/// Larger alignments would make the rewritten file mostly padding.
constexpr uint64_t kMaxAlignment = 4096;
/// Largest dimension a structured edit writes (the raw edits go beyond).
constexpr int64_t kMaxEditedDim = int64_t{1} << 20;
/// Most elements an array edit adds.
constexpr size_t kMaxArrayGrowth = 4096;

/// Config keys under "<architecture>.", as the GGUF config reader and llama.cpp name them.
constexpr std::array<std::string_view, 13> kArchKeys = {"vocab_size",
                                                        "context_length",
                                                        "embedding_length",
                                                        "block_count",
                                                        "feed_forward_length",
                                                        "attention.head_count",
                                                        "attention.head_count_kv",
                                                        "attention.key_length",
                                                        "attention.value_length",
                                                        "attention.layer_norm_rms_epsilon",
                                                        "rope.freq_base",
                                                        "attention.sliding_window",
                                                        "rope.dimension_count"};
constexpr std::array<std::string_view, 10> kGlobalKeys = {"general.architecture",
                                                          "general.name",
                                                          "general.alignment",
                                                          "general.file_type",
                                                          "tokenizer.ggml.model",
                                                          "tokenizer.ggml.tokens",
                                                          "reel.rope.llama3.factor",
                                                          "reel.rope.llama3.low_freq_factor",
                                                          "reel.rope.llama3.high_freq_factor",
                                                          "reel.rope.llama3.original_context_length"};
constexpr std::array<std::string_view, 8> kStrings = {"", "llama", "qwen2", "mistral", "gpt2", "no_vocab", "l", "qwen"};
/// Tensor names: per block (blk.N.) and global.
constexpr std::array<std::string_view, 12> kBlockTensors = {
    "attn_norm.weight", "attn_q.weight", "attn_k.weight",   "attn_v.weight", "attn_output.weight", "ffn_norm.weight",
    "ffn_gate.weight",  "ffn_up.weight", "ffn_down.weight", "attn_q.bias",   "attn_k.bias",        "attn_v.bias"};
constexpr std::array<std::string_view, 4> kGlobalTensors = {"token_embd.weight", "output.weight", "output_norm.weight",
                                                            "rope_freqs.weight"};
constexpr std::array<quant::QType, 10> kGgufTypes = {
    quant::QType::F32,  quant::QType::F16,  quant::QType::BF16, quant::QType::Q8_0, quant::QType::Q5_0,
    quant::QType::Q5_1, quant::QType::Q4_0, quant::QType::Q4_K, quant::QType::Q5_K, quant::QType::Q6_K};
/// ggml type ids reel does not read (removed, K-quants, i-quants, integers) and junk.
constexpr std::array<uint32_t, 14> kForeignTypeIds = {3, 9, 10, 11, 15, 16, 17, 20, 23, 24, 29, 31, 39, 0xffffffffu};
constexpr std::array<uint64_t, 14> kRawDims = {0,
                                               1,
                                               0xffffffffu,
                                               uint64_t{1} << 32,
                                               uint64_t{1} << 40,
                                               uint64_t{1} << 62,
                                               (uint64_t{1} << 63) - 1,
                                               uint64_t{1} << 63,
                                               ~uint64_t{0},
                                               31,
                                               33,
                                               255,
                                               257,
                                               65537};

/// A parsed file in the form the writer takes.
struct Parsed {
  GgufMetadata metadata{"mutator"};
  std::vector<GgufTensorBlob> tensors;
};

template <typename T, size_t N>
const T& pickFrom(Rng& rng, const std::array<T, N>& values) {
  return values[rng() % N];
}

size_t pickIndex(Rng& rng, size_t count) {
  return static_cast<size_t>(rng() % count);
}

std::optional<Parsed> parse(std::span<const uint8_t> bytes) {
  try {
    const GgufFile file = GgufFile::fromMemory(bytes, "mutator");
    if (file.alignment() > kMaxAlignment) return std::nullopt;
    Parsed parsed;
    parsed.metadata = file.metadata();
    for (const GgufTensorInfo& info : file.tensors()) {
      const std::span<const uint8_t> data = file.tensorData(info);
      parsed.tensors.push_back(
          {{info.name, info.type, {info.dims().begin(), info.dims().end()}}, {data.begin(), data.end()}});
    }
    return parsed;
  } catch (const Error&) {
    return std::nullopt;
  }
}

// ---- values ---------------------------------------------------------------------------

/// The value as an integer when it is one (u64 above INT64_MAX wraps).
std::optional<int64_t> integerOf(const GgufValue& value) {
  return std::visit(
      [](const auto& v) -> std::optional<int64_t> {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
          return static_cast<int64_t>(v);
        else
          return std::nullopt;
      },
      value.storage());
}

std::optional<double> floatOf(const GgufValue& value) {
  if (std::optional<float> single = value.get<float>()) return *single;
  return value.get<double>();
}

/// A value of integer (or bool, or float) type `type` holding `number` (wrapped).
std::optional<GgufValue> numberOfType(GgufValueType type, int64_t number) {
  switch (type) {
    case GgufValueType::UInt8:
      return GgufValue(static_cast<uint8_t>(number));
    case GgufValueType::Int8:
      return GgufValue(static_cast<int8_t>(number));
    case GgufValueType::UInt16:
      return GgufValue(static_cast<uint16_t>(number));
    case GgufValueType::Int16:
      return GgufValue(static_cast<int16_t>(number));
    case GgufValueType::UInt32:
      return GgufValue(static_cast<uint32_t>(number));
    case GgufValueType::Int32:
      return GgufValue(static_cast<int32_t>(number));
    case GgufValueType::UInt64:
      return GgufValue(static_cast<uint64_t>(number));
    case GgufValueType::Int64:
      return GgufValue(number);
    case GgufValueType::Bool:
      return GgufValue((number & 1) != 0);
    case GgufValueType::Float32:
      return GgufValue(static_cast<float>(number));
    case GgufValueType::Float64:
      return GgufValue(static_cast<double>(number));
    default:
      return std::nullopt;
  }
}

/// An integer near `current` or at a boundary of some integer type (wrapping arithmetic:
/// the mutator runs under UBSan too).
int64_t boundaryInteger(Rng& rng, int64_t current) {
  static constexpr std::array<int64_t, 36> kValues = {0,
                                                      1,
                                                      2,
                                                      3,
                                                      4,
                                                      7,
                                                      8,
                                                      15,
                                                      16,
                                                      31,
                                                      32,
                                                      33,
                                                      63,
                                                      64,
                                                      127,
                                                      128,
                                                      255,
                                                      256,
                                                      1023,
                                                      1024,
                                                      4095,
                                                      4096,
                                                      32767,
                                                      65535,
                                                      65536,
                                                      (int64_t{1} << 31) - 1,
                                                      int64_t{1} << 31,
                                                      (int64_t{1} << 32) - 1,
                                                      int64_t{1} << 32,
                                                      int64_t{1} << 40,
                                                      int64_t{1} << 53,
                                                      int64_t{1} << 62,
                                                      std::numeric_limits<int64_t>::max(),
                                                      -1,
                                                      -2,
                                                      std::numeric_limits<int64_t>::min()};
  const auto bits = static_cast<uint64_t>(current);
  switch (rng() % 6) {
    case 0:
      return static_cast<int64_t>(bits + 1);
    case 1:
      return static_cast<int64_t>(bits - 1);
    case 2:
      return static_cast<int64_t>(bits * 2);
    case 3:
      return current / 2;
    default:
      return pickFrom(rng, kValues);
  }
}

double specialFloat(Rng& rng, double current) {
  static constexpr std::array<double, 12> kValues = {0.0,
                                                     -0.0,
                                                     1e-30,
                                                     1e-6,
                                                     0.5,
                                                     1.0,
                                                     -1.0,
                                                     1e30,
                                                     std::numeric_limits<double>::infinity(),
                                                     -std::numeric_limits<double>::infinity(),
                                                     std::numeric_limits<double>::quiet_NaN(),
                                                     std::numeric_limits<double>::denorm_min()};
  switch (rng() % 4) {
    case 0:
      return current * 2;
    case 1:
      return current / 2;
    default:
      return pickFrom(rng, kValues);
  }
}

/// The value with its type changed (the number kept where the new type can hold it).
std::optional<GgufValue> retyped(Rng& rng, const GgufValue& value) {
  static constexpr std::array<GgufValueType, 11> kScalarTypes = {
      GgufValueType::UInt8,  GgufValueType::Int8,    GgufValueType::UInt16, GgufValueType::Int16,
      GgufValueType::UInt32, GgufValueType::Int32,   GgufValueType::UInt64, GgufValueType::Int64,
      GgufValueType::Bool,   GgufValueType::Float32, GgufValueType::Float64};
  if (std::optional<int64_t> number = integerOf(value)) {
    switch (rng() % 4) {
      case 0:
        return GgufValue(std::to_string(*number));
      case 1:
        return GgufValue(GgufArray::of(std::vector<int64_t>{*number}));
      default:
        return numberOfType(pickFrom(rng, kScalarTypes), *number);
    }
  }
  if (std::optional<double> number = floatOf(value)) {
    if (rng() % 2 == 0) return value.get<float>() ? GgufValue(*number) : GgufValue(static_cast<float>(*number));
    const bool fits = std::isfinite(*number) && std::fabs(*number) < 1e15;
    return numberOfType(pickFrom(rng, kScalarTypes), fits ? static_cast<int64_t>(*number) : 0);
  }
  if (const std::string* text = value.string())
    return numberOfType(pickFrom(rng, kScalarTypes), static_cast<int64_t>(text->size()));
  if (const GgufArray* array = value.array())
    return numberOfType(pickFrom(rng, kScalarTypes), static_cast<int64_t>(array->size()));
  return std::nullopt;
}

/// `size` elements taken cyclically from `from` (an empty source gives `empty`).
template <typename T>
std::vector<T> resizedCyclic(const std::vector<T>& from, size_t size, const T& empty) {
  std::vector<T> out;
  out.reserve(size);
  for (size_t i = 0; i < size; ++i) out.push_back(from.empty() ? empty : from[i % from.size()]);
  return out;
}

std::optional<GgufArray> resizedArray(const GgufArray& array, size_t size) {
  switch (array.elementType()) {
    case GgufValueType::String:
      return GgufArray::ofStrings(resizedCyclic(array.strings(), size, std::string()));
    case GgufValueType::Array:
      return GgufArray::ofArrays(resizedCyclic(array.arrays(), size, GgufArray()));
    default: {
      const size_t elementSize = ggufScalarSize(array.elementType());
      const std::vector<uint8_t>& packed = array.packedScalars();
      std::vector<uint8_t> bytes(size * elementSize, 0);
      if (!packed.empty())
        for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = packed[i % packed.size()];
      try {
        return GgufArray::fromPackedScalars(array.elementType(), std::move(bytes));
      } catch (const std::invalid_argument&) {
        return std::nullopt;
      }
    }
  }
}

/// A string mutated by the byte mutator, or one of kStrings.
std::string mutatedString(Rng& rng, const std::string& text, const ByteMutator& fallback) {
  if (text.empty() || rng() % 2 == 0) return std::string(pickFrom(rng, kStrings));
  std::vector<uint8_t> buffer(text.begin(), text.end());
  buffer.resize(text.size() + 16);
  const size_t size = fallback(buffer.data(), text.size(), buffer.size());
  return {buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(std::min(size, buffer.size()))};
}

// ---- metadata edits -------------------------------------------------------------------

/// The file's architecture as its key prefix ("llama" when it names none).
std::string architectureOf(const GgufMetadata& metadata) {
  const GgufValue* value = metadata.find(kGgufArchitectureKey);
  return value && value->string() && !value->string()->empty() ? *value->string() : std::string("llama");
}

std::string knownKey(Rng& rng, const GgufMetadata& metadata) {
  if (rng() % 3 == 0) return std::string(pickFrom(rng, kGlobalKeys));
  return architectureOf(metadata) + "." + std::string(pickFrom(rng, kArchKeys));
}

GgufMetadata withEntries(const std::vector<GgufMetadataEntry>& entries) {
  GgufMetadata metadata("mutator");
  for (const GgufMetadataEntry& entry : entries) metadata.set(entry.key, entry.value);
  return metadata;
}

/// Indices of the entries that satisfy `wanted`.
template <typename Predicate>
std::vector<size_t> entriesWhere(const GgufMetadata& metadata, Predicate wanted) {
  std::vector<size_t> found;
  for (size_t i = 0; i < metadata.size(); ++i)
    if (wanted(metadata.entries()[i].value)) found.push_back(i);
  return found;
}

bool editMetadata(Rng& rng, Parsed& file, const ByteMutator& fallback) {
  GgufMetadata& metadata = file.metadata;
  std::vector<GgufMetadataEntry> entries = metadata.entries();
  auto setAt = [&](size_t index, GgufValue value) {
    metadata.set(entries[index].key, std::move(value));
    return true;
  };
  switch (rng() % 9) {
    case 0: {  // an integer toward a boundary
      const std::vector<size_t> found = entriesWhere(metadata, [](const GgufValue& v) { return integerOf(v); });
      if (found.empty()) return false;
      const size_t index = found[pickIndex(rng, found.size())];
      const GgufValue& value = entries[index].value;
      return setAt(index, *numberOfType(value.type(), boundaryInteger(rng, *integerOf(value))));
    }
    case 1: {  // a float toward a special value
      const std::vector<size_t> found = entriesWhere(metadata, [](const GgufValue& v) { return floatOf(v); });
      if (found.empty()) return false;
      const size_t index = found[pickIndex(rng, found.size())];
      const GgufValue& value = entries[index].value;
      const double number = specialFloat(rng, *floatOf(value));
      return setAt(index, value.get<float>() ? GgufValue(static_cast<float>(number)) : GgufValue(number));
    }
    case 2: {  // a string, or one element of a string array
      const std::vector<size_t> found = entriesWhere(
          metadata, [](const GgufValue& v) { return v.string() || (v.array() && !v.array()->strings().empty()); });
      if (found.empty()) return false;
      const size_t index = found[pickIndex(rng, found.size())];
      const GgufValue& value = entries[index].value;
      if (value.string()) return setAt(index, mutatedString(rng, *value.string(), fallback));
      std::vector<std::string> strings = value.array()->strings();
      std::string& element = strings[pickIndex(rng, strings.size())];
      element = mutatedString(rng, element, fallback);
      return setAt(index, GgufArray::ofStrings(std::move(strings)));
    }
    case 3: {  // an array's length
      const std::vector<size_t> found = entriesWhere(metadata, [](const GgufValue& v) { return v.array(); });
      if (found.empty()) return false;
      const size_t index = found[pickIndex(rng, found.size())];
      const GgufArray& array = *entries[index].value.array();
      const size_t size = array.size();
      const std::array<size_t, 6> sizes = {
          0, 1, size / 2, size > 0 ? size - 1 : 0, size + 1, size + std::min(size, kMaxArrayGrowth)};
      std::optional<GgufArray> resized = resizedArray(array, pickFrom(rng, sizes));
      return resized && setAt(index, std::move(*resized));
    }
    case 4: {  // a value's type
      if (entries.empty()) return false;
      const size_t index = pickIndex(rng, entries.size());
      std::optional<GgufValue> value = retyped(rng, entries[index].value);
      return value && setAt(index, std::move(*value));
    }
    case 5:  // a key dropped
      return !entries.empty() && metadata.erase(entries[pickIndex(rng, entries.size())].key);
    case 6: {  // a key the config reader knows, with a boundary integer, a float or another entry's value
      const std::string key = knownKey(rng, metadata);
      static constexpr std::array<GgufValueType, 5> kTypes = {GgufValueType::UInt32, GgufValueType::Int32,
                                                              GgufValueType::UInt64, GgufValueType::Int64,
                                                              GgufValueType::Float32};
      if (!entries.empty() && rng() % 4 == 0) {
        metadata.set(key, entries[pickIndex(rng, entries.size())].value);
      } else {
        metadata.set(key, *numberOfType(pickFrom(rng, kTypes), boundaryInteger(rng, 0)));
      }
      return true;
    }
    case 7: {  // a key renamed
      if (entries.empty()) return false;
      std::string& key = entries[pickIndex(rng, entries.size())].key;
      key = rng() % 2 == 0 ? knownKey(rng, metadata) : mutatedString(rng, key, fallback);
      if (key.empty()) key = "k";
      metadata = withEntries(entries);
      return true;
    }
    default: {  // an entry moved
      if (entries.size() < 2) return false;
      const size_t from = pickIndex(rng, entries.size());
      GgufMetadataEntry entry = entries[from];
      entries.erase(entries.begin() + static_cast<std::ptrdiff_t>(from));
      entries.insert(entries.begin() + static_cast<std::ptrdiff_t>(pickIndex(rng, entries.size() + 1)),
                     std::move(entry));
      metadata = withEntries(entries);
      return true;
    }
  }
}

// ---- tensor edits ---------------------------------------------------------------------

std::string tensorName(Rng& rng) {
  if (rng() % 4 == 0) return std::string(pickFrom(rng, kGlobalTensors));
  return "blk." + std::to_string(rng() % 5) + "." + std::string(pickFrom(rng, kBlockTensors));
}

/// Values that survive conversion to any tensor type and the tensor check on load: finite
/// and within f16's range (a non-finite value would only make the reader refuse the file).
void makeQuantizable(std::vector<float>& values) {
  for (float& value : values) {
    if (!std::isfinite(value)) value = 0.0f;
    value = std::clamp(value, -65504.0f, 65504.0f);
  }
}

/// The tensor's data as `type` with shape `ne`: converted row by row where the row length
/// stays (so weights stay plausible), else the old bytes repeated. False when the shape is
/// invalid for the type or the data would outgrow `budget` more bytes.
bool reshape(GgufTensorBlob& tensor, quant::QType type, std::vector<int64_t> ne, size_t budget) {
  const std::optional<uint64_t> bytes = ggufTensorBytes(type, ne);
  if (!bytes || *bytes > tensor.data.size() + budget) return false;
  std::vector<uint8_t> data(*bytes, 0);
  const int64_t rowLength = tensor.decl.ne.front();
  if (type != tensor.decl.type && ne.front() == rowLength) {
    const size_t oldRow = quant::rowBytes(tensor.decl.type, rowLength);
    const size_t newRow = quant::rowBytes(type, rowLength);
    std::vector<float> row(static_cast<size_t>(rowLength));
    for (size_t r = 0; (r + 1) * oldRow <= tensor.data.size() && (r + 1) * newRow <= data.size(); ++r) {
      quant::dequantizeRow(tensor.decl.type, tensor.data.data() + r * oldRow, row.data(), rowLength);
      makeQuantizable(row);
      quant::quantizeRow(type, row.data(), data.data() + r * newRow, rowLength);
    }
  } else if (!tensor.data.empty()) {
    for (size_t i = 0; i < data.size(); ++i) data[i] = tensor.data[i % tensor.data.size()];
  }
  tensor.decl.type = type;
  tensor.decl.ne = std::move(ne);
  tensor.data = std::move(data);
  return true;
}

int64_t editedDim(Rng& rng, int64_t current, const std::vector<GgufTensorBlob>& tensors) {
  static constexpr std::array<int64_t, 12> kDims = {1, 2, 3, 8, 16, 31, 32, 33, 64, 96, 128, 256};
  switch (rng() % 5) {
    case 0:
      return current * 2;
    case 1:
      return current / 2;
    case 2:
      return rng() % 2 == 0 ? current + 1 : current - 1;
    case 3: {
      const GgufTensorBlob& other = tensors[pickIndex(rng, tensors.size())];
      return other.decl.ne[pickIndex(rng, other.decl.ne.size())];
    }
    default:
      return pickFrom(rng, kDims);
  }
}

bool editTensors(Rng& rng, Parsed& file, size_t budget) {
  std::vector<GgufTensorBlob>& tensors = file.tensors;
  if (tensors.empty()) {
    GgufTensorBlob blob{{tensorName(rng), quant::QType::F32, {4}}, std::vector<uint8_t>(16, 0)};
    if (budget < 64) return false;
    tensors.push_back(std::move(blob));
    return true;
  }
  const size_t index = pickIndex(rng, tensors.size());
  GgufTensorBlob& tensor = tensors[index];
  std::vector<int64_t> ne = tensor.decl.ne;
  switch (rng() % 7) {
    case 0: {  // a dimension
      int64_t& dim = ne[pickIndex(rng, ne.size())];
      dim = editedDim(rng, dim, tensors);
      return dim >= 1 && dim <= kMaxEditedDim && reshape(tensor, tensor.decl.type, std::move(ne), budget);
    }
    case 1: {  // the rank: a trailing 1 added, or the last two dimensions merged
      if (ne.size() < kGgufMaxDims && (ne.size() == 1 || rng() % 2 == 0)) {
        ne.push_back(1);
      } else if (ne.size() > 1) {
        const int64_t last = ne.back();
        ne.pop_back();
        if (ne.back() > kMaxEditedDim / last) return false;
        ne.back() *= last;
      }
      return reshape(tensor, tensor.decl.type, std::move(ne), budget);
    }
    case 2:  // the type
      return reshape(tensor, pickFrom(rng, kGgufTypes), std::move(ne), budget);
    case 3: {  // the name
      std::string name = tensorName(rng);
      if (rng() % 3 == 0) std::swap(name, tensors[pickIndex(rng, tensors.size())].decl.name);
      tensor.decl.name = std::move(name);
      return true;
    }
    case 4:  // a tensor dropped
      tensors.erase(tensors.begin() + static_cast<std::ptrdiff_t>(index));
      return true;
    case 5: {  // a tensor duplicated under another name
      if (tensor.data.size() > budget) return false;
      GgufTensorBlob copy = tensor;
      copy.decl.name = tensorName(rng);
      tensors.push_back(std::move(copy));
      return true;
    }
    default: {  // a tensor moved
      const size_t to = pickIndex(rng, tensors.size());
      std::swap(tensors[index], tensors[to]);
      return to != index;
    }
  }
}

// ---- raw edits of the written bytes ---------------------------------------------------

template <typename T>
void patch(std::vector<uint8_t>& bytes, size_t at, T value) {
  if (at + sizeof(T) <= bytes.size()) std::memcpy(bytes.data() + at, &value, sizeof(T));
}

template <typename T>
T readAt(const std::vector<uint8_t>& bytes, size_t at) {
  T value{};
  if (at + sizeof(T) <= bytes.size()) std::memcpy(&value, bytes.data() + at, sizeof(T));
  return value;
}

/// Bytes of one metadata entry as the writer wrote it.
size_t encodedEntrySize(const GgufMetadataEntry& entry) {
  std::vector<uint8_t> scratch;
  gguf_encoding::appendValue(scratch, entry.value);
  return sizeof(uint64_t) + entry.key.size() + sizeof(uint32_t) + scratch.size();
}

/// Patches the file as written; false when there was nothing to patch.
bool editBytes(Rng& rng, std::vector<uint8_t>& bytes, size_t maxSize) {
  constexpr size_t kTensorCountAt = 8;
  constexpr size_t kEntryCountAt = 16;
  constexpr size_t kFirstEntryAt = 24;
  const GgufHeader header = parseGgufHeader(bytes, "mutator");
  const size_t choice = rng() % 5;
  if (choice <= 1 && !header.tensors.empty()) {
    const GgufTensorInfo& info = header.tensors[pickIndex(rng, header.tensors.size())];
    const size_t dimsAt = info.infoOffset + sizeof(uint64_t) + info.name.size() + sizeof(uint32_t);
    const size_t typeAt = dimsAt + info.nDims * sizeof(uint64_t);
    const size_t offsetAt = typeAt + sizeof(uint32_t);
    switch (rng() % 3) {
      case 0: {  // the data offset
        const uint64_t other = header.tensors[pickIndex(rng, header.tensors.size())].offset;
        const std::array<uint64_t, 7> offsets = {0,
                                                 other,
                                                 info.offset + 1,
                                                 info.offset + header.alignment,
                                                 bytes.size(),
                                                 info.offset - header.alignment,
                                                 ~uint64_t{0}};
        patch(bytes, offsetAt, pickFrom(rng, offsets));
        return true;
      }
      case 1:  // the type id
        patch(bytes, typeAt, pickFrom(rng, kForeignTypeIds));
        return true;
      default:  // a dimension
        patch(bytes, dimsAt + pickIndex(rng, info.nDims) * sizeof(uint64_t), pickFrom(rng, kRawDims));
        return true;
    }
  }
  if (choice == 2 && header.metadata.size() > 0) {  // an entry written twice
    const size_t index = pickIndex(rng, header.metadata.size());
    size_t at = kFirstEntryAt;
    for (size_t i = 0; i < index; ++i) at += encodedEntrySize(header.metadata.entries()[i]);
    const size_t size = encodedEntrySize(header.metadata.entries()[index]);
    if (bytes.size() + size > maxSize || at + size > bytes.size()) return false;
    const std::vector<uint8_t> entry(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                                     bytes.begin() + static_cast<std::ptrdiff_t>(at + size));
    bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(at + size), entry.begin(), entry.end());
    patch(bytes, kEntryCountAt, readAt<uint64_t>(bytes, kEntryCountAt) + 1);
    return true;
  }
  if (choice == 3) {  // a count off by one
    const size_t at = rng() % 2 == 0 ? kTensorCountAt : kEntryCountAt;
    const uint64_t count = readAt<uint64_t>(bytes, at);
    patch(bytes, at, rng() % 2 == 0 ? count + 1 : count - 1);
    return true;
  }
  static constexpr std::array<uint32_t, 4> kVersions = {1, 2, 4, 0xffffffffu};
  patch(bytes, 4, pickFrom(rng, kVersions));
  return true;
}

// ---- the mutation ---------------------------------------------------------------------

bool alignmentWritable(const GgufMetadata& metadata) {
  const GgufValue* value = metadata.find(kGgufAlignmentKey);
  if (!value) return true;
  const std::optional<uint32_t> alignment = value->get<uint32_t>();
  return alignment && *alignment <= kMaxAlignment;
}

size_t dataBytes(const Parsed& file) {
  size_t total = 0;
  for (const GgufTensorBlob& tensor : file.tensors) total += tensor.data.size();
  return total;
}

/// One structural edit of `file`, written; nullopt when the edit did not apply or the
/// writer refused its result.
std::optional<std::vector<uint8_t>> mutateStructure(Rng& rng, Parsed file, size_t size, size_t maxSize,
                                                    const ByteMutator& fallback) {
  const size_t budget = maxSize > size ? maxSize - size : 0;
  const bool edited = rng() % 2 == 0 ? editMetadata(rng, file, fallback) : editTensors(rng, file, budget);
  if (!edited || !alignmentWritable(file.metadata) || dataBytes(file) > maxSize) return std::nullopt;
  std::vector<uint8_t> bytes = serializeGguf(file.metadata, file.tensors);
  if (rng() % 5 == 0 && !editBytes(rng, bytes, maxSize)) return std::nullopt;
  return bytes;
}

}  // namespace

size_t mutateGguf(uint8_t* data, size_t size, size_t maxSize, unsigned seed, const ByteMutator& fallback) {
  constexpr int kAttempts = 4;
  Rng rng(seed);
  if (rng() % 5 != 0) {
    if (std::optional<Parsed> file = parse({data, size})) {
      for (int attempt = 0; attempt < kAttempts; ++attempt) {
        try {
          std::optional<std::vector<uint8_t>> bytes = mutateStructure(rng, *file, size, maxSize, fallback);
          if (bytes && bytes->size() <= maxSize) {
            std::copy(bytes->begin(), bytes->end(), data);
            return bytes->size();
          }
        } catch (const Error&) {
          // The writer refused the edit (a duplicate name, a bad shape): try another.
        }
      }
    }
  }
  return fallback(data, size, maxSize);
}

}  // namespace reel::fuzz
