#include "runtime/gguf/GgufFile.h"

#include "ir/Diagnostics.h"

namespace reel {

GgufFile GgufFile::open(const std::filesystem::path& path, const GgufLimits& limits) {
  GgufFile file;
  file.name_ = path.string();
  file.mapping_ = MappedFile::open(path);
  file.bytes_ = file.mapping_.bytes();
  file.parse(limits);
  return file;
}

GgufFile GgufFile::fromMemory(std::span<const uint8_t> bytes, std::string name, const GgufLimits& limits) {
  GgufFile file;
  file.name_ = std::move(name);
  file.owned_.assign(bytes.begin(), bytes.end());
  file.bytes_ = file.owned_;
  file.parse(limits);
  return file;
}

void GgufFile::parse(const GgufLimits& limits) {
  header_ = parseGgufHeader(bytes_, name_, limits);
}

const GgufTensorInfo* GgufFile::findTensor(std::string_view tensorName) const {
  auto found = header_.tensorIndex.find(tensorName);
  return found == header_.tensorIndex.end() ? nullptr : &header_.tensors[found->second];
}

const GgufTensorInfo& GgufFile::tensor(std::string_view tensorName) const {
  if (const GgufTensorInfo* info = findTensor(tensorName)) return *info;
  failPlain("{}: no tensor named {}", name_, quoteForMessage(tensorName));
}

std::span<const uint8_t> GgufFile::tensorData(const GgufTensorInfo& info) const {
  if (info.fileOffset < header_.dataOffset || info.fileOffset > bytes_.size() ||
      info.byteSize > bytes_.size() - info.fileOffset) {
    failPlain("{}: tensor {}: data [{}, +{}) does not lie in the data section of the file", name_,
              quoteForMessage(info.name), info.fileOffset, info.byteSize);
  }
  return bytes_.subspan(info.fileOffset, info.byteSize);
}

}  // namespace reel
