#pragma once
/// \file
/// Where the CPU reference executor reads weights: tensors by their GGUF name, each with
/// its qtype, its logical shape [rows, cols] and its bytes in the GGUF block layout.
/// GgufWeightSource serves them straight from a memory-mapped GGUF file.

#include "ir/Graph.h"
#include "ir/TensorParallel.h"
#include "quant/QuantRef.h"
#include "runtime/gguf/GgufFile.h"

#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace reel::reference {

/// One weight tensor as stored: qtype, logical shape and bytes (rows * rowBytes).
struct WeightView {
  std::string name;
  quant::QType type = quant::QType::F32;
  int64_t rows = 1;  ///< product of the dims after the first (1 for a vector)
  int64_t cols = 0;  ///< the row length (GGUF ne[0])
  int rank = 1;      ///< 1 for vectors (norms, biases), 2 for matrices
  std::span<const uint8_t> bytes;

  /// Bytes of one row.
  [[nodiscard]] size_t rowBytes() const { return quant::rowBytes(type, cols); }
  /// The bytes of row r.
  [[nodiscard]] const uint8_t* rowData(int64_t r) const { return bytes.data() + static_cast<size_t>(r) * rowBytes(); }
};

/// A read-only set of named weights.
class WeightSource {
 public:
  virtual ~WeightSource() = default;
  /// The tensor of this name, or nullopt.
  [[nodiscard]] virtual std::optional<WeightView> find(std::string_view name) const = 0;
  /// Names this source in error messages (e.g. the file name).
  [[nodiscard]] virtual std::string describe() const = 0;
  /// Throws a reel::Error when `view` (a tensor of this source) holds NaN or Inf, where
  /// this source checks values (see GgufWeightSource); a no-op by default.
  virtual void checkValues(const WeightView& view) const { (void)view; }
};

/// Whether a weight source scans the values of the tensors it serves (runtime/gguf/TensorCheck.h).
enum class TensorValueCheck { Off, On };

/// Weights served from a GGUF file (which must outlive the source). With value checks on
/// (the default), checkValues() scans each tensor once, the first time it is asked for;
/// checkWeightMatches() asks, so the CPU reference refuses NaN and Inf weights before it
/// decodes.
class GgufWeightSource final : public WeightSource {
 public:
  explicit GgufWeightSource(const GgufFile& file, TensorValueCheck check = TensorValueCheck::On)
      : file_(file), check_(check) {}
  [[nodiscard]] std::optional<WeightView> find(std::string_view name) const override;
  [[nodiscard]] std::string describe() const override { return file_.name(); }
  void checkValues(const WeightView& view) const override;
  [[nodiscard]] const GgufFile& file() const { return file_; }
  /// Turns the value checks on or off (the CLI's --check-tensors=on|off).
  void setValueCheck(TensorValueCheck check) { check_ = check; }
  [[nodiscard]] TensorValueCheck valueCheck() const { return check_; }

 private:
  const GgufFile& file_;
  TensorValueCheck check_;
  mutable std::mutex checkedMutex_;
  mutable std::unordered_set<std::string> checked_;  ///< tensors whose values passed
};

/// Checks that `view` has the qtype and exactly the shape (rank and every dimension) the
/// weight op `weightOp` declares, and that its values are finite where the source checks
/// values; throws a reel::Error naming the tensor, the source and both types otherwise.
void checkWeightMatches(const ir::Op& weightOp, const WeightView& view, const WeightSource& source);

/// Piece `piece` of `full` cut into `shard.parts` equal pieces along IR dim `shard.axis` (a
/// matrix's 0: rows, 1: the row length; a vector's only dim is its row length). A piece of
/// rows views `full`'s bytes; a piece of the row length is copied into `storage`, which must
/// outlive the view. Throws a reel::Error naming the tensor when the dim does not cut into
/// whole blocks.
WeightView weightPiece(const WeightView& full, const ir::WeightShard& shard, int64_t piece,
                       std::vector<uint8_t>& storage);

/// Sets the element type of every `weight` op in `module` to the qtype the source stores
/// it in (a GGUF file decides its own qtypes); a tensor missing from the source, or one of
/// another shape or rank, is a reel::Error. Returns how many weight types changed.
int adoptWeightTypes(ir::Module& module, const WeightSource& source);

}  // namespace reel::reference
