#pragma once
/// \file
/// Kernel times measured on one GPU (`reel tune`), kept in the GPU profile's `[measured]`
/// table. Where a measurement covers a decision, the decision passes take it over the cost
/// model's estimate and `--explain` quotes it; everything else stays estimated.
///
///   [measured]
///   gpu = "NVIDIA H100 80GB HBM3"            # what ran the measurements
///   read_bandwidth_gbs = 3060                # streaming read rate in the same run
///   [[measured.gemv]]                        # one DP4A GEMV launch, us by row sets 1, 2
///   kernel = "gemv_dp4a_q4_k"  n = 2048  k = 2048  m = 1  us = [9.1, 10.4]
///   [[measured.attention]]                   # decode attention, us by splits 1, 2, 4, ...
///   rows = 1  heads = 32  kv_heads = 4  head_dim = 64  context = 4096  us = [31.0, 17.2, ...]
///   [[measured.matmul]]                      # one matmul by one kernel family, us
///   family = "mma"  qtype = "q4_k"  n = 4096  k = 11008  m = 32  us = 41.2
///   prefill_tokens = 256                     # the prefill chunk (M of @prefill) by measurement
///
/// A GEMV record is one launch of the kernel with the int arguments n, k and m (n: a stack's
/// rows added up; gate+up's rows of one matrix). An attention record times the split kernel and its reduction
/// for splits > 1, and splits[i] = 2^i. A matmul record times everything select-precision's
/// choice of `family` launches for one matmul of the weight shape at M = m, the activation
/// conversion included (quantize_q8_1, fp8_quantize_act or cast_f32_f16), as the cost model's
/// matmulWithPrep estimates it.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

// The IR's enums, declared opaquely: this header stays free of LLVM (ir/Types.h and
// ir/DecisionAttrs.h define them), since kernels-only tools include the launch policy.
namespace reel::ir {
enum class ElemType : uint8_t;
enum class MatmulKernel : uint8_t;
}  // namespace reel::ir

namespace reel::passes {

/// One GEMV launch, as select-launch-config configures it.
struct GemvKey {
  std::string kernel;  ///< the kernel table's id, e.g. "gemv_dp4a_stack3_q4_k_q6_k"
  int64_t n = 0;       ///< its `n` (a stack's rows added up; gate+up: one matrix's rows)
  int64_t k = 0;
  int64_t m = 1;  ///< activation rows of the launch (the row chunk)
  bool operator==(const GemvKey&) const = default;
};

struct GemvMeasurement {
  GemvKey key;
  std::vector<double> usByRowSets;  ///< [0]: one row set per lane, [1]: two
};

/// One decode attention shape at one context length.
struct AttentionKey {
  int64_t rows = 1;
  int64_t heads = 0;
  int64_t kvHeads = 0;
  int64_t headDim = 0;
  int64_t context = 0;
  bool operator==(const AttentionKey&) const = default;
};

struct AttentionMeasurement {
  AttentionKey key;
  std::vector<double> usBySplits;  ///< [i]: 2^i splits (the reduction included for i > 0)
};

/// Where flash-decoding starts to pay for one attention shape, by measurement.
struct MeasuredThreshold {
  int64_t context = 0;  ///< the context threshold: the long-context class runs above it
  std::string reason;
};

/// One matmul y[m, n] = x[m, k] w[n, k]^T with w of `qtype`, run by one kernel family.
struct MatmulKey {
  ir::MatmulKernel family{};
  ir::ElemType qtype{};  ///< the stored weight's type
  int64_t n = 0;
  int64_t k = 0;
  int64_t m = 1;
  bool operator==(const MatmulKey&) const = default;
};

struct MatmulMeasurement {
  MatmulKey key;
  double us = 0;  ///< the family's launches for one matmul, activation conversion included
};

struct Measurements {
  std::string gpu;              ///< the device that ran them
  double readBandwidthGBs = 0;  ///< streaming read rate measured in the same run
  std::vector<GemvMeasurement> gemv;
  std::vector<AttentionMeasurement> attention;
  std::vector<MatmulMeasurement> matmul;
  /// M of the @prefill graph `reel tune` found best (0: not measured): the default of
  /// --prefill-tokens under this profile.
  int64_t prefillTokens = 0;

  [[nodiscard]] bool empty() const { return gemv.empty() && attention.empty() && matmul.empty() && prefillTokens == 0; }
  /// The measured time of `key`, if measured.
  [[nodiscard]] std::optional<double> matmulUs(const MatmulKey& key) const;
  /// The launch time of `key` with `rowSets` rows per lane, if measured.
  [[nodiscard]] std::optional<double> gemvUs(const GemvKey& key, int rowSets) const;
  /// The GEMV record of `key`, if any.
  [[nodiscard]] const GemvMeasurement* findGemv(const GemvKey& key) const;
  /// Attention time at `key` with `splits` splits: a measured context, or linear between the
  /// two nearest measured contexts of the same shape; nullopt outside them.
  [[nodiscard]] std::optional<double> attentionUs(const AttentionKey& key, int64_t splits) const;
  /// The threshold of the measured contexts of `shape` (its context ignored): the last context
  /// before the first at which some split count beats one split by 10% or more (the first
  /// measured context where that one already does; the last measured where none does).
  /// nullopt when the shape was not measured.
  [[nodiscard]] std::optional<MeasuredThreshold> flashDecodingThreshold(const AttentionKey& shape) const;
};

/// The `[measured]` table as TOML text, ready to append to a profile.
std::string formatMeasurements(const Measurements& measured);

}  // namespace reel::passes
