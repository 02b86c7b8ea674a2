#pragma once
/// \file
/// Tensor value checks (llama.cpp's `--check-tensors`): a weight that holds NaN or Inf
/// poisons every activation it touches, and greedy decoding then emits token 0 forever.
/// The checks find the first value that is not finite:
///   f32, f16, bf16       every element;
///   fp8_e4m3             every element (NaN only: the format has no infinities);
///   q8_0, q5_0, q4_0,    the f16 scale `d` of every block;
///   q6_k
///   q4_k, q5_k           the f16 scales `d` and `dmin` of every block;
///   q5_1                 the f16 scale `d` and min `m` of every block;
///   q8_1                 the f16 fields `d` and `s` of every block.
/// The quants of a block are integers, so a block with finite scales decodes to finite
/// values. A check reads each element once (only the scale fields of quantized blocks),
/// which costs less than one decode step over the same weights.
///
/// Usage:
///   checkTensorValues(file, file.tensor("blk.0.attn_q.weight"));  // throws on NaN/Inf
///   checkAllTensorValues(file, 4);                                // every tensor, 4 threads

#include "quant/QuantRef.h"
#include "runtime/gguf/GgufFile.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace reel {

/// The first value of a tensor's data that is not finite.
struct NonFiniteValue {
  uint64_t index = 0;      ///< the element, or for a block format the block
  const char* field = "";  ///< the block field ("d", "dmin", "s"); empty for an element
  float value = 0;         ///< the value as decoded: NaN or +-inf
};

/// The first NaN or Inf in `bytes`, the data of a tensor of `type` (whole blocks), or
/// nullopt when every value is finite.
[[nodiscard]] std::optional<NonFiniteValue> findNonFiniteValue(quant::QType type, std::span<const uint8_t> bytes);

/// Throws a one-line reel::Error naming `source`, the tensor and its first non-finite
/// element (with its row and column) or block scale, e.g.
///   "m.gguf: tensor 'blk.0.attn_q.weight' (q4_k): block 5 (row 0) has scale d = nan; the
///    weights are damaged"
void requireFiniteValues(std::string_view source, std::string_view tensorName, quant::QType type, int64_t rowLength,
                         std::span<const uint8_t> bytes);

/// requireFiniteValues over one tensor of `file`.
void checkTensorValues(const GgufFile& file, const GgufTensorInfo& tensor);

/// checkTensorValues over every tensor of `file`, spread over `threads` threads; the error
/// names the first bad tensor in file order.
void checkAllTensorValues(const GgufFile& file, unsigned threads = 1);

}  // namespace reel
