#include "ir/Types.h"

#include <fmt/format.h>

#include <array>

namespace reel::ir {
namespace {

struct ElemInfo {
  ElemType type;
  const char* name;
  int64_t blockElems;
  int64_t blockBytes;
};

// Block sizes follow the GGUF/ggml formats (see kernels/QuantFormats.h).
constexpr std::array<ElemInfo, 10> kElemInfo{{
    {ElemType::F32, "f32", 1, 4},
    {ElemType::F16, "f16", 1, 2},
    {ElemType::BF16, "bf16", 1, 2},
    {ElemType::FP8_E4M3, "fp8_e4m3", 1, 1},
    {ElemType::I32, "i32", 1, 4},
    {ElemType::Q4_K, "q4_k", 256, 144},
    {ElemType::Q5_0, "q5_0", 32, 22},
    {ElemType::Q6_K, "q6_k", 256, 210},
    {ElemType::Q8_0, "q8_0", 32, 34},
    {ElemType::Q8_1, "q8_1", 32, 36},
}};

const ElemInfo& info(ElemType type) {
  return kElemInfo[static_cast<size_t>(type)];
}

bool mulChecked(int64_t a, int64_t b, int64_t& out) {
  return !__builtin_mul_overflow(a, b, &out);
}

}  // namespace

llvm::StringRef elemTypeName(ElemType type) {
  return info(type).name;
}

std::optional<ElemType> parseElemType(llvm::StringRef name) {
  for (const ElemInfo& entry : kElemInfo)
    if (name == entry.name) return entry.type;
  return std::nullopt;
}

bool isQuantized(ElemType type) {
  return info(type).blockElems > 1;
}
int64_t blockElems(ElemType type) {
  return info(type).blockElems;
}
int64_t blockBytes(ElemType type) {
  return info(type).blockBytes;
}

std::string dimName(Dim dim) {
  if (dim == kDimM) return "M";
  if (dim == kDimS) return "S";
  return std::to_string(dim);
}

bool TensorType::isStatic() const {
  for (Dim dim : shape)
    if (dim < 0) return false;
  return true;
}

std::optional<int64_t> TensorType::numElements(int64_t m, int64_t s) const {
  int64_t total = 1;
  for (Dim dim : shape) {
    int64_t size = dim == kDimM ? m : dim == kDimS ? s : dim;
    if (!mulChecked(total, size, total)) return std::nullopt;
  }
  return total;
}

std::optional<int64_t> TensorType::numBytes(int64_t m, int64_t s) const {
  std::optional<int64_t> elems = numElements(m, s);
  if (!elems || *elems % blockElems(elem) != 0) return std::nullopt;
  int64_t bytes = 0;
  if (!mulChecked(*elems / blockElems(elem), blockBytes(elem), bytes)) return std::nullopt;
  return bytes;
}

TensorType TensorType::withM(int64_t m) const {
  TensorType result = *this;
  for (Dim& dim : result.shape)
    if (dim == kDimM) dim = m;
  return result;
}

std::string TensorType::str() const {
  std::string text = fmt::format("{}[", elemTypeName(elem).str());
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) text += ", ";
    text += dimName(shape[i]);
  }
  return text + "]";
}

}  // namespace reel::ir
