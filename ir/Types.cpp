#include "ir/Types.h"

#include "support/Diagnostics.h"

#include <fmt/format.h>

namespace reel::ir {
namespace {

/// I32's name and size: the one element type that is not a quant::QType.
constexpr llvm::StringLiteral kI32Name = "i32";
constexpr int64_t kI32Bytes = 4;

bool mulChecked(int64_t a, int64_t b, int64_t& out) {
  return !__builtin_mul_overflow(a, b, &out);
}

}  // namespace

ElemType toElemType(quant::QType type) {
  return static_cast<ElemType>(type);
}

quant::QType toQType(ElemType type) {
  if (type == ElemType::I32) failPlain("element type i32 has no storage format");
  return static_cast<quant::QType>(type);
}

llvm::StringRef elemTypeName(ElemType type) {
  if (type == ElemType::I32) return kI32Name;
  std::string_view name = quant::qtypeName(toQType(type));
  return {name.data(), name.size()};
}

std::optional<ElemType> parseElemType(llvm::StringRef name) {
  if (name == kI32Name) return ElemType::I32;
  quant::QType type{};
  if (!quant::parseQType(std::string_view(name.data(), name.size()), type)) return std::nullopt;
  return toElemType(type);
}

bool isQuantized(ElemType type) {
  return blockElems(type) > 1;
}
int64_t blockElems(ElemType type) {
  return type == ElemType::I32 ? 1 : static_cast<int64_t>(quant::blockElems(toQType(type)));
}
int64_t blockBytes(ElemType type) {
  return type == ElemType::I32 ? kI32Bytes : static_cast<int64_t>(quant::blockBytes(toQType(type)));
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
