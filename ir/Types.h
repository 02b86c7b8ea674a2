#pragma once
/// \file
/// Element types and tensor types of the IR. Shapes mix static dims and two symbolic
/// dims: M (tokens in the step) and S (context length). Bucket specialisation replaces
/// M by a number.

#include <llvm/ADT/ArrayRef.h>
#include <llvm/ADT/SmallVector.h>
#include <llvm/ADT/StringRef.h>

#include <cstdint>
#include <optional>
#include <string>

namespace reel::ir {

/// Scalar element types (f32 ... i32), quantized weight formats (q4_k ... q8_0) and the
/// Q8_1 activation format consumed by the DP4A kernels.
enum class ElemType : uint8_t { F32, F16, BF16, FP8_E4M3, I32, Q4_K, Q5_0, Q6_K, Q8_0, Q8_1 };

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
