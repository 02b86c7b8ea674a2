#include "runtime/gguf/GgufFile.h"

#include "support/Diagnostics.h"

#include <algorithm>
#include <cstdint>

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
  relocateMisalignedTensors();
}

void GgufFile::relocateMisalignedTensors() {
  auto misaligned = [&](const GgufTensorInfo& info) {
    return reinterpret_cast<uintptr_t>(bytes_.data() + info.fileOffset) % kTensorDataAlignment != 0;
  };
  // Each copy starts on a kTensorDataAlignment boundary of the buffer.
  auto paddedSize = [](const GgufTensorInfo& info) {
    return (info.byteSize + kTensorDataAlignment - 1) / kTensorDataAlignment * kTensorDataAlignment;
  };
  uint64_t total = 0;
  for (const GgufTensorInfo& info : header_.tensors)
    if (misaligned(info)) total += paddedSize(info);
  if (total == 0) return;
  // operator new aligns the buffer to at least __STDCPP_DEFAULT_NEW_ALIGNMENT__ (16).
  static_assert(__STDCPP_DEFAULT_NEW_ALIGNMENT__ % kTensorDataAlignment == 0);
  relocated_.resize(total);
  relocatedOffset_.assign(header_.tensors.size(), kNotRelocated);
  uint64_t next = 0;
  for (size_t i = 0; i < header_.tensors.size(); ++i) {
    const GgufTensorInfo& info = header_.tensors[i];
    if (!misaligned(info)) continue;
    std::copy_n(bytes_.data() + info.fileOffset, info.byteSize, relocated_.data() + next);
    relocatedOffset_[i] = next;
    next += paddedSize(info);
  }
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
  if (!relocatedOffset_.empty()) {
    // `info` is one of this file's tensors when it lies in header_.tensors; a copy made by
    // the caller is looked up by name.
    const GgufTensorInfo* first = header_.tensors.data();
    size_t index = header_.tensors.size();
    if (&info >= first && &info < first + header_.tensors.size()) {
      index = static_cast<size_t>(&info - first);
    } else if (auto found = header_.tensorIndex.find(info.name);
               found != header_.tensorIndex.end() && header_.tensors[found->second].fileOffset == info.fileOffset) {
      index = found->second;
    }
    if (index < header_.tensors.size() && relocatedOffset_[index] != kNotRelocated) {
      return std::span<const uint8_t>(relocated_).subspan(relocatedOffset_[index], info.byteSize);
    }
  }
  return bytes_.subspan(info.fileOffset, info.byteSize);
}

}  // namespace reel
