#include "runtime/gguf/GgufWriter.h"

#include "runtime/gguf/GgufEncoding.h"
#include "support/Diagnostics.h"

#include <bit>
#include <cerrno>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <unordered_set>

namespace reel {

namespace enc = gguf_encoding;

template <typename... Args>
void GgufWriter::fail(fmt::format_string<Args...> format, Args&&... args) const {
  failPlain("{}: {}", sinkName_, fmt::format(format, std::forward<Args>(args)...));
}

GgufWriter::GgufWriter(const std::filesystem::path& path)
    : finalPath_(path), partialPath_(path.string() + ".partial"), sinkName_(path.string()), metadata_(path.string()) {
  file_.open(partialPath_, std::ios::binary | std::ios::trunc);
  if (!file_) fail("cannot create {}: {}", partialPath_.string(), std::strerror(errno));
  out_ = &file_;
}

GgufWriter::GgufWriter(std::ostream& out, std::string sinkName)
    : out_(&out), sinkName_(std::move(sinkName)), metadata_(sinkName_) {}

GgufWriter::~GgufWriter() {
  if (phase_ != Phase::Finished && !partialPath_.empty()) {
    file_.close();
    std::error_code ignored;
    std::filesystem::remove(partialPath_, ignored);
  }
}

void GgufWriter::requirePhase(Phase phase, const char* operation) const {
  if (phase_ != phase) throw std::logic_error(std::string("GgufWriter: ") + operation + " called out of order");
}

void GgufWriter::setMetadata(std::string key, GgufValue value) {
  requirePhase(Phase::Declaring, "setMetadata");
  if (key.empty()) fail("metadata key is empty");
  if (key.size() > kGgufMaxKeyBytes)
    fail("metadata key {} is longer than {} bytes", quoteForMessage(key), kGgufMaxKeyBytes);
  if (enc::arrayDepth(value) > kGgufMaxArrayNesting) {
    fail("metadata key {}: arrays nested deeper than {} levels", quoteForMessage(key), kGgufMaxArrayNesting);
  }
  metadata_.set(std::move(key), std::move(value));
}

void GgufWriter::setMetadata(const GgufMetadata& metadata) {
  for (const GgufMetadataEntry& entry : metadata.entries()) setMetadata(entry.key, entry.value);
}

uint64_t GgufWriter::addTensor(GgufTensorDecl decl) {
  requirePhase(Phase::Declaring, "addTensor");
  const std::string field = "tensor " + quoteForMessage(decl.name);
  if (decl.name.empty()) fail("tensor {}: the name is empty", tensors_.size());
  if (decl.name.size() > kGgufMaxTensorNameBytes) {
    fail("{}: the name is longer than {} bytes", field, kGgufMaxTensorNameBytes);
  }
  if (tensorNames_.count(decl.name)) fail("{}: the name appears twice", field);
  const auto ggmlType = ggmlTypeFromQType(decl.type);
  if (!ggmlType) fail("{}: type {} cannot be stored in GGUF", field, quant::qtypeName(decl.type));
  if (decl.ne.empty() || decl.ne.size() > kGgufMaxDims) {
    fail("{}: {} dimensions, expected 1..{}", field, decl.ne.size(), kGgufMaxDims);
  }
  const auto byteSize = ggufTensorBytes(decl.type, decl.ne);
  if (!byteSize) {
    fail(
        "{}: invalid shape [{}] for {} (dims must be positive, ne[0] a multiple of {}, the size "
        "below 2^63)",
        field, fmt::join(decl.ne, ", "), quant::qtypeName(decl.type), quant::blockElems(decl.type));
  }
  tensorNames_.insert(decl.name);
  tensors_.push_back({std::move(decl), *ggmlType, *byteSize, 0});
  return *byteSize;
}

uint32_t GgufWriter::resolveAlignment() {
  const GgufValue* value = metadata_.find(kGgufAlignmentKey);
  if (value == nullptr) {
    metadata_.set(std::string(kGgufAlignmentKey), kGgufDefaultAlignment);
    return kGgufDefaultAlignment;
  }
  const auto alignment = value->get<uint32_t>();
  if (!alignment || !std::has_single_bit(*alignment)) {
    fail("metadata key {} must be a u32 power of two, not {}", quoteForMessage(kGgufAlignmentKey), value->str());
  }
  return *alignment;
}

void GgufWriter::writeHeader() {
  requirePhase(Phase::Declaring, "writeHeader");
  alignment_ = resolveAlignment();
  std::vector<uint8_t> header(kGgufMagic.begin(), kGgufMagic.end());
  enc::appendScalar<uint32_t>(header, kGgufWriteVersion);
  enc::appendScalar<uint64_t>(header, tensors_.size());
  enc::appendScalar<uint64_t>(header, metadata_.size());
  for (const GgufMetadataEntry& entry : metadata_.entries()) {
    enc::appendString(header, entry.key);
    enc::appendScalar<uint32_t>(header, static_cast<uint32_t>(entry.value.type()));
    enc::appendValue(header, entry.value);
  }
  uint64_t dataSize = 0;
  for (PlannedTensor& tensor : tensors_) {
    tensor.offset = dataSize;
    const uint64_t padded = (tensor.byteSize + alignment_ - 1) / alignment_ * alignment_;
    if (__builtin_add_overflow(dataSize, padded, &dataSize)) fail("the tensors' data exceeds 2^64 bytes");
    enc::appendString(header, tensor.decl.name);
    enc::appendScalar<uint32_t>(header, static_cast<uint32_t>(tensor.decl.ne.size()));
    for (int64_t dim : tensor.decl.ne) enc::appendScalar<uint64_t>(header, static_cast<uint64_t>(dim));
    enc::appendScalar<uint32_t>(header, tensor.ggmlType);
    enc::appendScalar<uint64_t>(header, tensor.offset);
  }
  dataBytes_ = dataSize;
  writeBytes(header);
  dataStart_ = (written_ + alignment_ - 1) / alignment_ * alignment_;
  writePadding(dataStart_ - written_);
  phase_ = Phase::WritingData;
}

uint64_t GgufWriter::plannedFileBytes() const {
  if (phase_ == Phase::Declaring) throw std::logic_error("GgufWriter: plannedFileBytes called before writeHeader");
  uint64_t total = 0;
  if (__builtin_add_overflow(dataStart_, dataBytes_, &total)) fail("the file would exceed 2^64 bytes");
  return total;
}

uint64_t GgufWriter::bytesLeftInCurrentTensor() const {
  if (currentTensor_ >= tensors_.size()) return 0;
  return tensors_[currentTensor_].byteSize - currentFilled_;
}

void GgufWriter::writeTensorData(std::span<const uint8_t> bytes) {
  requirePhase(Phase::WritingData, "writeTensorData");
  while (!bytes.empty()) {
    if (currentTensor_ >= tensors_.size()) fail("{} bytes of data beyond the last tensor", bytes.size());
    const PlannedTensor& tensor = tensors_[currentTensor_];
    if (currentFilled_ == 0) writePadding(dataStart_ + tensor.offset - written_);
    const uint64_t take = std::min<uint64_t>(bytes.size(), tensor.byteSize - currentFilled_);
    writeBytes(bytes.first(take));
    bytes = bytes.subspan(take);
    currentFilled_ += take;
    if (currentFilled_ == tensor.byteSize) {
      ++currentTensor_;
      currentFilled_ = 0;
    }
  }
}

void GgufWriter::finish() {
  requirePhase(Phase::WritingData, "finish");
  if (currentTensor_ < tensors_.size()) {
    const PlannedTensor& tensor = tensors_[currentTensor_];
    fail("tensor {} got {} of its {} bytes of data", quoteForMessage(tensor.decl.name), currentFilled_,
         tensor.byteSize);
  }
  writePadding((alignment_ - written_ % alignment_) % alignment_);
  out_->flush();
  if (!*out_) fail("write failed: {}", std::strerror(errno));
  if (!partialPath_.empty()) {
    file_.close();
    if (!file_) fail("closing {} failed: {}", partialPath_.string(), std::strerror(errno));
    std::error_code error;
    std::filesystem::rename(partialPath_, finalPath_, error);
    if (error) fail("cannot rename {} into place: {}", partialPath_.string(), error.message());
  }
  phase_ = Phase::Finished;
}

void GgufWriter::writeBytes(std::span<const uint8_t> bytes) {
  out_->write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!*out_) fail("write failed at offset {}: {}", written_, std::strerror(errno));
  written_ += bytes.size();
}

void GgufWriter::writePadding(uint64_t count) {
  static constexpr std::array<uint8_t, 256> kZeros{};
  while (count > 0) {
    const uint64_t chunk = std::min<uint64_t>(count, kZeros.size());
    writeBytes(std::span(kZeros).first(chunk));
    count -= chunk;
  }
}

namespace {

void writeAll(GgufWriter& writer, const GgufMetadata& metadata, std::span<const GgufTensorBlob> tensors) {
  writer.setMetadata(metadata);
  for (const GgufTensorBlob& tensor : tensors) writer.addTensor(tensor.decl);
  writer.writeHeader();
  for (const GgufTensorBlob& tensor : tensors) {
    if (tensor.data.size() != writer.bytesLeftInCurrentTensor()) {
      failPlain("tensor {}: {} bytes of data given, {} expected", quoteForMessage(tensor.decl.name), tensor.data.size(),
                writer.bytesLeftInCurrentTensor());
    }
    writer.writeTensorData(tensor.data);
  }
  writer.finish();
}

}  // namespace

void writeGgufFile(const std::filesystem::path& path, const GgufMetadata& metadata,
                   std::span<const GgufTensorBlob> tensors) {
  GgufWriter writer(path);
  writeAll(writer, metadata, tensors);
}

std::vector<uint8_t> serializeGguf(const GgufMetadata& metadata, std::span<const GgufTensorBlob> tensors) {
  std::ostringstream out(std::ios::binary);
  GgufWriter writer(out, "<memory>");
  writeAll(writer, metadata, tensors);
  const std::string bytes = std::move(out).str();
  return {bytes.begin(), bytes.end()};
}

}  // namespace reel
