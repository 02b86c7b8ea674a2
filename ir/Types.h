#pragma once
/// \file
/// Element types and tensor types of the IR. Shapes mix static dims and two symbolic
/// dims: M (tokens in the step) and S (context length). Bucket specialisation replaces
/// M by a number.

#include "quant/QType.h"

#include <llvm/ADT/ArrayRef.h>
#include <llvm/ADT/SmallVector.h>
#include <llvm/ADT/StringRef.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace reel::ir {

/// Element types: the storage formats of quant::QType (scalar f32 ... fp8_e4m3, the
/// quantized weight formats q4_k ... q8_0 and the Q8_1 activation format of the DP4A
/// kernels), with the same values, so that their names and blocks are described once
/// (quant/QType.h); and i32 (token ids, positions), which only the IR has.
enum class ElemType : uint8_t {
  F32 = static_cast<uint8_t>(quant::QType::F32),
  F16 = static_cast<uint8_t>(quant::QType::F16),
  BF16 = static_cast<uint8_t>(quant::QType::BF16),
  FP8_E4M3 = static_cast<uint8_t>(quant::QType::FP8_E4M3),
  Q4_K = static_cast<uint8_t>(quant::QType::Q4_K),
  Q4_0 = static_cast<uint8_t>(quant::QType::Q4_0),
  Q5_0 = static_cast<uint8_t>(quant::QType::Q5_0),
  Q5_1 = static_cast<uint8_t>(quant::QType::Q5_1),
  Q5_K = static_cast<uint8_t>(quant::QType::Q5_K),
  Q6_K = static_cast<uint8_t>(quant::QType::Q6_K),
  Q8_0 = static_cast<uint8_t>(quant::QType::Q8_0),
  Q8_1 = static_cast<uint8_t>(quant::QType::Q8_1),
  I32 = static_cast<uint8_t>(quant::kQTypes.size()),
};
/// Number of element types (I32 is the last).
inline constexpr size_t kNumElemTypes = quant::kQTypes.size() + 1;

/// The element type of a storage format.
ElemType toElemType(quant::QType type);
/// The storage format of an element type; throws reel::Error for i32, which has none.
quant::QType toQType(ElemType type);

/// The text name of an element type ("f32", "q4_k", ...).
llvm::StringRef elemTypeName(ElemType type);
/// Parses a text name; nullopt if unknown.
std::optional<ElemType> parseElemType(llvm::StringRef name);
/// True for the block-quantized formats (weights and q8_1).
bool isQuantized(ElemType type);
/// Elements per block (1 for scalar types, 32 or 256 for block formats).
int64_t blockElems(ElemType type);
/// Bytes per block (the scalar size for scalar types).
int64_t blockBytes(ElemType type);

/// A dimension: a non-negative static size, or one of the symbolic dims below.
using Dim = int64_t;
inline constexpr Dim kDimM = -1;  ///< tokens in the step
inline constexpr Dim kDimS = -2;  ///< context length (KV-cache capacity)

/// "M", "S" or the number.
std::string dimName(Dim dim);

/// A tensor type: element type plus shape, e.g. f32[M, 4096] or q4_k[4096, 11008].
struct TensorType {
  ElemType elem = ElemType::F32;
  llvm::SmallVector<Dim, 4> shape;

  TensorType() = default;
  TensorType(ElemType elemType, llvm::ArrayRef<Dim> dims) : elem(elemType), shape(dims.begin(), dims.end()) {}

  [[nodiscard]] int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  [[nodiscard]] bool isStatic() const;
  /// Number of elements with M = m and S = s substituted; nullopt on overflow.
  [[nodiscard]] std::optional<int64_t> numElements(int64_t m, int64_t s) const;
  /// Bytes of storage with M = m and S = s; nullopt on overflow or a ragged last block.
  [[nodiscard]] std::optional<int64_t> numBytes(int64_t m, int64_t s) const;
  /// The same type with the symbolic dim M replaced by m.
  [[nodiscard]] TensorType withM(int64_t m) const;
  /// The text form, e.g. "f32[M, 4096]".
  [[nodiscard]] std::string str() const;

  friend bool operator==(const TensorType& a, const TensorType& b) { return a.elem == b.elem && a.shape == b.shape; }
};

}  // namespace reel::ir
