// The kernel catalog: ids, argument signatures, launch dims (see KernelCatalog.h).
#include "kernels/KernelCatalog.h"

#include "kernels/GemvShape.h"

#include <fmt/format.h>

#include <algorithm>
#include <initializer_list>
#include <type_traits>
#include <utility>

namespace reel::kernels {
namespace {

uint32_t u32(int64_t v) {
  return static_cast<uint32_t>(std::max<int64_t>(v, 1));
}
int64_t ceilDiv(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

LaunchDims make(int64_t gx, int64_t gy, int64_t gz, int64_t threads, int64_t smem = 0) {
  LaunchDims d;
  d.grid = {u32(gx), u32(gy), u32(gz)};
  d.block = {u32(threads), 1, 1};
  d.smemBytes = static_cast<uint32_t>(smem);
  return d;
}

constexpr QType kGemvTypes[] = {QType::Q4_K, QType::Q6_K, QType::Q8_0, QType::Q5_0, QType::Q4_0, QType::Q5_K};
constexpr QType kEmbedTypes[] = {QType::F32,  QType::F16,  QType::BF16, QType::Q8_0, QType::Q5_0,
                                 QType::Q4_K, QType::Q6_K, QType::Q4_0, QType::Q5_K};

/// What `pick` gives for weight type t among Types, each passed as std::integral_constant<QType, T>
/// (for Q4_K where t is none of them).
template <QType... Types, typename Pick>
auto ofType(QType t, Pick pick) {
  auto picked = pick(std::integral_constant<QType, QType::Q4_K>{});
  (void)((t == Types ? (picked = pick(std::integral_constant<QType, Types>{}), true) : false) || ...);
  return picked;
}
/// ofType over the DP4A GEMVs' weight types.
template <typename Pick>
auto ofGemvType(QType t, Pick pick) {
  return ofType<QType::Q4_K, QType::Q6_K, QType::Q8_0, QType::Q5_0, QType::Q4_0, QType::Q5_K>(t, pick);
}
/// ofType over the embedding tables' types (kEmbedTypes).
template <typename Pick>
auto ofEmbedType(QType t, Pick pick) {
  return ofType<QType::F32, QType::F16, QType::BF16, QType::Q8_0, QType::Q5_0, QType::Q4_K, QType::Q6_K, QType::Q4_0,
                QType::Q5_K>(t, pick);
}

// ---- checks ------------------------------------------------------------------------------

/// A GEMV of weight type T: ints n, k, m, row_sets, then for a stack of S > 0 matrices each
/// one's rows, which add up to n.
template <QType T, int S>
std::string checkGemv(const int64_t* a) {
  if (a[0] < 1) return "n must be positive";
  if (a[1] < gemvKMultiple(T) || a[1] % gemvKMultiple(T) != 0)
    return fmt::format("k must be a positive multiple of {} for {} weights", gemvKMultiple(T), quant::qtypeName(T));
  if (a[2] < 1 || a[2] > kGemvMaxM) return fmt::format("m must be in 1..{}", kGemvMaxM);
  if (!gemvRowSetsSupported(static_cast<int>(std::min<int64_t>(a[3], INT32_MAX))))
    return fmt::format("row_sets must be 1 or 2, got {}", a[3]);
  int64_t sum = 0;
  for (int i = 0; i < S; ++i) {
    if (a[4 + i] < 1) return fmt::format("rows_{} must be positive", i);
    sum += a[4 + i];
  }
  if (S > 0 && sum != a[0]) return fmt::format("n = {} must be the sum of the matrices' rows ({})", a[0], sum);
  return "";
}

/// The GEMV check of weight type t for S stacked matrices (0: not stacked).
template <int S>
CheckFn gemvCheckOf(QType t) {
  return ofGemvType(t, [](auto type) -> CheckFn { return checkGemv<decltype(type)::value, S>; });
}

template <int S>
std::string checkGemvMixedStack(const int64_t* a) {
  if (std::string why = checkGemv<QType::Q4_K, S>(a); !why.empty()) return why;
  int64_t lastFrom = 0;
  for (int i = 0; i + 1 < S; ++i) lastFrom += a[4 + i];
  if (lastFrom % kGemvMixedStackAlign != 0)
    return fmt::format("the last matrix must start on a multiple of {} rows, not {}", kGemvMixedStackAlign, lastFrom);
  return "";
}

/// "" when the first int args, named `names`, are all at least 1; else which is not.
std::string positive(const int64_t* a, std::initializer_list<const char*> names) {
  const int64_t* value = a;
  for (const char* name : names) {
    if (*value++ < 1) return fmt::format("{} must be positive", name);
  }
  return "";
}

std::string checkQuantizeQ81(const int64_t* a) {
  if (std::string why = positive(a, {"m", "k"}); !why.empty()) return why;
  if (a[1] % 32 != 0) return "k must be a multiple of 32";
  return "";
}

std::string checkNorm(const int64_t* a) {
  if (std::string why = positive(a, {"m", "n"}); !why.empty()) return why;
  if (a[1] % 4 != 0) return "n must be a multiple of 4";
  return "";
}

std::string checkQ81Rows(const int64_t* a) {
  if (std::string why = positive(a, {"m", "n"}); !why.empty()) return why;
  if (a[1] % 32 != 0) return "n must be a multiple of 32 (whole Q8_1 blocks)";
  return "";
}

std::string checkRope(const int64_t* a) {
  if (std::string why = positive(a, {"m", "n_heads"}); !why.empty()) return why;
  if (a[3] < 2 || a[3] % 2 != 0 || a[3] > 1024) return "head_dim must be even, 2 to 1024";
  return "";
}

std::string checkAttention(const int64_t* a) {
  if (std::string why = positive(a, {"m", "n_heads", "n_kv_heads", "head_dim", "max_ctx"}); !why.empty()) return why;
  const int64_t heads = a[1], kvHeads = a[2], headDim = a[3];
  if (heads % kvHeads != 0) return "n_heads must be a multiple of n_kv_heads";
  if (heads / kvHeads > kAttnMaxGroup) return fmt::format("at most {} query heads per KV head", kAttnMaxGroup);
  if (headDim % 8 != 0 || headDim > kAttnMaxHeadDim)
    return fmt::format("head_dim must be a multiple of 8, at most {}", kAttnMaxHeadDim);
  return "";
}

/// Flash-decoding's first phase: splits (int 7) as well.
std::string checkAttentionSplit(const int64_t* a) {
  if (std::string why = checkAttention(a); !why.empty()) return why;
  return a[7] < 1 ? "splits must be positive" : "";
}

std::string checkKvAppend(const int64_t* a) {
  if (std::string why = positive(a, {"m", "n_kv_heads", "head_dim", "max_ctx"}); !why.empty()) return why;
  if (a[2] % 2 != 0) return "head_dim must be even";
  if (a[4] % 2 != 0 || a[5] % 2 != 0) return "k_stride and v_stride must be even";
  return "";
}

std::string checkAttentionReduce(const int64_t* a) {
  return positive(a, {"m", "n_heads", "head_dim", "splits"});
}

std::string checkFp8Gemm(const int64_t* a) {
  if (std::string why = positive(a, {"m", "n", "k"}); !why.empty()) return why;
  if (a[2] % 16 != 0 || a[1] % 16 != 0) return "n and k must be multiples of 16";
  if (a[3] != 0 && a[3] != 1) return "per_row must be 0 or 1";
  return "";
}

std::string checkHgemm(const int64_t* a) {
  if (std::string why = positive(a, {"m", "n", "k"}); !why.empty()) return why;
  if (a[2] % 8 != 0 || a[1] % 8 != 0) return "n and k must be multiples of 8";
  return "";
}

std::string checkFp8Convert(const int64_t* a) {
  if (std::string why = positive(a, {"n", "k"}); !why.empty()) return why;
  return a[2] != 0 && a[2] != 1 ? "per_row must be 0 or 1" : "";
}

/// An embedding table of type T: whole blocks per row.
template <QType T>
std::string checkEmbed(const int64_t* a) {
  if (std::string why = positive(a, {"m", "n", "vocab"}); !why.empty()) return why;
  const auto block = static_cast<int64_t>(quant::blockElems(T));
  return a[1] % block != 0 ? fmt::format("n must be a multiple of {} for {} tables", block, quant::qtypeName(T)) : "";
}
CheckFn embedCheckOf(QType t) {
  return ofEmbedType(t, [](auto type) -> CheckFn { return checkEmbed<decltype(type)::value>; });
}

std::string checkCount(const int64_t* a) {
  return positive(a, {"count"});
}

/// Kernels of (m rows, n columns).
std::string checkRows(const int64_t* a) {
  return positive(a, {"m", "n"});
}

std::string checkSample(const int64_t* a) {
  if (std::string why = positive(a, {"m", "n"}); !why.empty()) return why;
  if (a[1] > kSampleMaxVocab) return fmt::format("n {} is above the sample kernel's {}", a[1], kSampleMaxVocab);
  return "";
}

/// Kernels of (m rows, k columns).
std::string checkRowsK(const int64_t* a) {
  return positive(a, {"m", "k"});
}

// ---- dims adapters (int args in catalog order) ---------------------------------------------

LaunchDims gemvFromInts(const int64_t* a) {
  return gemvDims(a[0], static_cast<int>(a[3]));
}
LaunchDims quantizeFromInts(const int64_t* a) {
  return quantizeQ81Dims(a[0], a[1]);
}
LaunchDims normFromInts(const int64_t* a) {
  return normDims(a[0], a[1]);
}
LaunchDims countFromInts(const int64_t* a) {
  return elementwiseDims(a[0]);
}
LaunchDims matrixFromInts(const int64_t* a) {
  return elementwiseDims(a[0] * a[1]);
}
LaunchDims ropeFromInts(const int64_t* a) {
  return ropeDims(a[0], a[1], a[2], a[3]);
}
LaunchDims embedFromInts(const int64_t* a) {
  return embedDims(a[0], a[1]);
}
LaunchDims kvAppendFromInts(const int64_t* a) {
  return kvAppendDims(a[0], a[1], a[2]);
}
LaunchDims attnFromInts(const int64_t* a) {
  return attentionDims(a[0], a[1], a[2], a[3], 1);
}
LaunchDims attnSplitFromInts(const int64_t* a) {
  return attentionDims(a[0], a[1], a[2], a[3], a[7]);
}
LaunchDims attnReduceFromInts(const int64_t* a) {
  return attentionReduceDims(a[0], a[1], a[2]);
}
LaunchDims argmaxFromInts(const int64_t* a) {
  return argmaxDims(a[0], a[1]);
}
LaunchDims sampleFromInts(const int64_t* a) {
  return sampleDims(a[0], a[1]);
}
LaunchDims fp8ConvertFromInts(const int64_t* a) {
  return rowKernelDims(a[0], a[1]);
}
LaunchDims singleBlock(const int64_t*) {
  return make(1, 1, 1, 1024);
}
LaunchDims libraryDims(const int64_t*) {
  return LaunchDims{};
}

// ---- footprints (int args in catalog order) ------------------------------------------------

int64_t mul(int64_t a, int64_t b) {
  return saturatingMul(a, b);
}
int64_t mul(int64_t a, int64_t b, int64_t c) {
  return saturatingMul(saturatingMul(a, b), c);
}
int64_t mul(int64_t a, int64_t b, int64_t c, int64_t d) {
  return saturatingMul(mul(a, b, c), d);
}

/// Blocks of `elems` elements that hold n elements (a partial block counts).
int64_t wholeBlocks(int64_t n, int64_t elems) {
  return n < 0 ? kFootprintOverflow : n / elems + (n % elems != 0 ? 1 : 0);
}
/// Bytes of a row of n elements of `type` in the GGUF layout.
int64_t ggufRowBytes(QType type, int64_t n) {
  return mul(wholeBlocks(n, static_cast<int64_t>(quant::blockElems(type))),
             static_cast<int64_t>(quant::blockBytes(type)));
}
/// Bytes of a GEMV weight row of k elements: GGUF rows (Q4_K) or row-planar ones (rounded to 16).
int64_t gemvRowBytes(QType type, int64_t k) {
  const int64_t bytes = ggufRowBytes(type, k);
  if (!quant::needsRowPlanar(type) || bytes == kFootprintOverflow) return bytes;
  return saturatingAdd(bytes, 15) / 16 * 16;
}
/// m row-planar Q8_1 rows of k values.
int64_t q81Bytes(int64_t m, int64_t k) {
  return mul(m, ggufRowBytes(QType::Q8_1, k));
}
/// rows x cols f32 values.
int64_t f32Bytes(int64_t rows, int64_t cols) {
  return mul(rows, cols, 4);
}
/// `rows` rows of `width` elements of `elemBytes` bytes, `stride` elements apart: the last ends at
/// (rows - 1) * stride + width elements.
int64_t stridedBytes(int64_t rows, int64_t stride, int64_t width, int64_t elemBytes) {
  if (rows < 1 || width == 0) return 0;
  return mul(saturatingAdd(mul(rows - 1, stride), width), elemBytes);
}

/// Builds an entry's footprints in argument order.
class Footprints {
 public:
  Footprints& read(int64_t bytes) { return put({bytes, PtrUse::Read}); }
  Footprints& write(int64_t bytes) { return put({bytes, PtrUse::Write}); }
  /// Step data the kernel trusts as indices: m int32 values of that step input.
  Footprints& stepData(PtrUse use, int64_t m) { return put({mul(m, 4), use}); }
  /// A K or V cache: one slot of max_ctx positions of `rowElems` f16 values.
  Footprints& kvCache(int64_t maxCtx, int64_t rowElems) {
    return put({mul(maxCtx, rowElems, 2), PtrUse::KvCache, maxCtx});
  }
  operator Footprint() const { return footprint_; }  // NOLINT(google-explicit-constructor)

 private:
  Footprints& put(PtrFootprint arg) {
    footprint_[count_++] = arg;
    return *this;
  }
  Footprint footprint_{};
  size_t count_ = 0;
};

/// The DP4A GEMVs, ints (n, k, m, row_sets[, rows_0 .. rows_{S-1}]): `Weights` weight pointers, the
/// activations, then `Outputs` f32 [m][rows] outputs. Stacked (S > 0): matrix i has rows_i rows,
/// and a mixed stack's last matrix type L. Not stacked: each matrix has n rows (one for the plain
/// GEMV, gate and up for gate+up and SwiGLU).
template <QType T, int S, int Weights, int Outputs, QType L = T>
Footprint gemvFootprint(const int64_t* a) {
  const int64_t n = a[0], k = a[1], m = a[2];
  Footprints f;
  for (int i = 0; i < Weights; ++i) f.read(mul(S > 0 ? a[4 + i] : n, gemvRowBytes(S > 0 && i + 1 == S ? L : T, k)));
  f.read(q81Bytes(m, k));
  for (int i = 0; i < Outputs; ++i) f.write(f32Bytes(m, S > 0 ? a[4 + i] : n));
  return f;
}
/// The footprint of the plain (S = 0) or stacked GEMV of weight type t.
template <int S, int Weights, int Outputs>
FootprintFn gemvFootprintOf(QType t) {
  return ofGemvType(t,
                    [](auto type) -> FootprintFn { return gemvFootprint<decltype(type)::value, S, Weights, Outputs>; });
}

Footprint quantizeFootprint(const int64_t* a) {
  return Footprints().read(f32Bytes(a[0], a[1])).write(q81Bytes(a[0], a[1]));
}
/// rms_norm and add_rms_norm (Residual), f32 or Q8_1 output: (m, n).
template <bool Residual, bool Q81>
Footprint normFootprint(const int64_t* a) {
  const int64_t m = a[0], n = a[1];
  Footprints f;
  f.read(f32Bytes(m, n));
  if (Residual) f.read(f32Bytes(m, n));
  f.read(f32Bytes(1, n));
  if (Residual) f.write(f32Bytes(m, n));
  return f.write(Q81 ? q81Bytes(m, n) : f32Bytes(m, n));
}
/// (m, n_heads, n_kv_heads, head_dim, q_stride, k_stride): q and k rotated in place (k absent
/// with no KV heads).
Footprint ropeFootprint(const int64_t* a) {
  const int64_t m = a[0], headDim = a[3];
  return Footprints()
      .write(stridedBytes(m, a[4], mul(a[1], headDim), 4))
      .write(stridedBytes(m, a[5], mul(a[2], headDim), 4))
      .read(mul(m, 4));
}
/// (m, n, vocab): a GGUF table of vocab rows, the tokens (out-of-range ids give zeros), the rows.
template <QType T>
Footprint embedFootprint(const int64_t* a) {
  return Footprints().read(mul(a[2], ggufRowBytes(T, a[1]))).read(mul(a[0], 4)).write(f32Bytes(a[0], a[1]));
}
FootprintFn embedFootprintOf(QType t) {
  return ofEmbedType(t, [](auto type) -> FootprintFn { return embedFootprint<decltype(type)::value>; });
}
/// add, swiglu: (count) f32 values of two inputs and the output.
Footprint binaryFootprint(const int64_t* a) {
  return Footprints().read(f32Bytes(a[0], 1)).read(f32Bytes(a[0], 1)).write(f32Bytes(a[0], 1));
}
Footprint swigluQ81Footprint(const int64_t* a) {
  return Footprints().read(f32Bytes(a[0], a[1])).read(f32Bytes(a[0], a[1])).write(q81Bytes(a[0], a[1]));
}
Footprint biasAddFootprint(const int64_t* a) {
  return Footprints().write(f32Bytes(a[0], a[1])).read(f32Bytes(1, a[1]));
}
/// (m, n): the sample kernel reads the logits and each row's parameters, recent tokens and
/// position, and writes one token per row. It checks every recent token against n.
Footprint sampleFootprint(const int64_t* a) {
  return Footprints()
      .read(f32Bytes(a[0], a[1]))
      .read(mul(a[0], kSampleRowWords, 4))
      .read(mul(a[0], kSampleWindow, 4))
      .read(mul(a[0], 4))
      .write(mul(a[0], 4));
}
Footprint castFootprint(const int64_t* a) {
  return Footprints().read(f32Bytes(a[0], 1)).write(mul(a[0], 2));
}
Footprint argmaxFootprint(const int64_t* a) {
  return Footprints().read(f32Bytes(a[0], a[1])).write(mul(a[0], 4));
}
/// (m, n_kv_heads, head_dim, max_ctx, k_stride, v_stride). The kernel skips positions outside
/// [0, max_ctx), so any positions do; the slots index the cache.
Footprint kvAppendFootprint(const int64_t* a) {
  const int64_t m = a[0], rowElems = mul(a[1], a[2]);
  return Footprints()
      .read(stridedBytes(m, a[4], rowElems, 4))
      .read(stridedBytes(m, a[5], rowElems, 4))
      .kvCache(a[3], rowElems)
      .kvCache(a[3], rowElems)
      .stepData(PtrUse::Slots, m)
      .read(mul(m, 4));
}
/// The attention kernels' ints start (m, n_heads, n_kv_heads, head_dim, max_ctx, window, q_stride);
/// splits is int 7 where there are splits, and the fused RoPE variants' k_stride and v_stride
/// follow. Form: which kernel of the family.
enum class AttnForm { Decode, Split, Prefill, DecodeRope, SplitRope };
template <AttnForm Form, bool Q81 = false>
Footprint attentionFootprint(const int64_t* a) {
  const int64_t m = a[0], heads = a[1], headDim = a[3], maxCtx = a[4];
  const int64_t kvRow = mul(a[2], headDim);
  const bool rope = Form == AttnForm::DecodeRope || Form == AttnForm::SplitRope;
  const bool split = Form == AttnForm::Split || Form == AttnForm::SplitRope;
  const int64_t splits = split ? a[7] : 1;
  const int tail = Form == AttnForm::SplitRope ? 8 : 7;  // k_stride of the RoPE variants
  Footprints f;
  f.read(stridedBytes(m, a[6], mul(heads, headDim), 4));
  if (rope) f.read(stridedBytes(m, a[tail], kvRow, 4)).read(stridedBytes(m, a[tail + 1], kvRow, 4));
  f.kvCache(maxCtx, kvRow).kvCache(maxCtx, kvRow).stepData(PtrUse::Slots, m);
  // Prefill rows attend up to their positions; decode rows up to their KV lengths (and the
  // RoPE variants append at their positions, which the kernel bounds by max_ctx).
  f.stepData(Form == AttnForm::Prefill ? PtrUse::Positions : PtrUse::KvLens, m);
  if (rope) f.read(mul(m, 4));
  if (split) return f.write(mul(m, heads, splits, mul(headDim, 4))).write(mul(m, heads, splits, 8));
  return f.write(Q81 ? q81Bytes(m, mul(heads, headDim)) : mul(m, heads, headDim, 4));
}
/// (m, n_heads, head_dim, splits): the partials of attn_decode_split, then the rows.
template <bool Q81>
Footprint attentionReduceFootprint(const int64_t* a) {
  const int64_t m = a[0], heads = a[1], headDim = a[2], splits = a[3];
  return Footprints()
      .read(mul(m, heads, splits, mul(headDim, 4)))
      .read(mul(m, heads, splits, 8))
      .write(Q81 ? q81Bytes(m, mul(heads, headDim)) : mul(m, heads, headDim, 4));
}
/// (n, k, per_row): f32 (or f16) weights to E4M3 and their scales.
template <int SourceBytes>
Footprint fp8ConvertFootprint(const int64_t* a) {
  const int64_t n = a[0], k = a[1];
  return Footprints().read(mul(n, k, SourceBytes)).write(mul(n, k)).write(a[2] != 0 ? mul(n, 4) : 4);
}
Footprint fp8QuantizeActFootprint(const int64_t* a) {
  return Footprints().read(f32Bytes(a[0], a[1])).write(mul(a[0], a[1])).write(4);
}
/// (m, n, k, per_row).
Footprint fp8GemmFootprint(const int64_t* a) {
  const int64_t m = a[0], n = a[1], k = a[2];
  return Footprints().read(mul(n, k)).read(a[3] != 0 ? mul(n, 4) : 4).read(mul(m, k)).read(4).write(f32Bytes(m, n));
}
/// (m, n, k).
Footprint hgemmFootprint(const int64_t* a) {
  const int64_t m = a[0], n = a[1], k = a[2];
  return Footprints().read(mul(n, k, 2)).read(mul(m, k, 2)).write(f32Bytes(m, n));
}

// ---- argument lists shared by several entries ---------------------------------------------

constexpr std::string_view kRowSetsArg = "row_sets: weight rows each lane streams, 1 or 2 (select-launch-config)";
const std::vector<std::string_view> kGemvInts = {"n: rows of W = outputs per activation row",
                                                 "k: columns of W (a multiple of 256; of 32 for q8_0, q5_0)",
                                                 "m: activation rows, 1..8", kRowSetsArg};
const std::vector<std::string_view> kGemvStack2Ints = {
    "n: rows of both matrices", "k: columns (a multiple of 256; of 32 for q8_0, q5_0)",
    "m: activation rows, 1..8", kRowSetsArg,
    "rows_0: rows of w_0",      "rows_1: rows of w_1"};
const std::vector<std::string_view> kGemvStack3Ints = {"n: rows of the three matrices",
                                                       "k: columns (a multiple of 256; of 32 for q8_0, q5_0)",
                                                       "m: activation rows, 1..8",
                                                       kRowSetsArg,
                                                       "rows_0: rows of w_0",
                                                       "rows_1: rows of w_1",
                                                       "rows_2: rows of w_2"};
const std::vector<std::string_view> kAttnInts = {"m: query rows (sequences)",
                                                 "n_heads: query heads",
                                                 "n_kv_heads: KV heads (n_heads multiple of it, ratio <= 8)",
                                                 "head_dim: multiple of 8, <= 256",
                                                 "max_ctx: positions per KV slot",
                                                 "window: sliding window (0 = none)",
                                                 "q_stride: floats between consecutive query rows"};
const std::vector<std::string_view> kRopeFloats = {
    "freq_base: theta base (e.g. 10000, 500000)", "llama3_factor: llama3 scaling factor (1 = off)",
    "low_freq_factor: llama3 low_freq_factor", "high_freq_factor: llama3 high_freq_factor",
    "original_max_positions: llama3 original_max_position_embeddings (0 = off)"};

/// The ints the fused RoPE + append variants take after the plain attention's (and splits).
const std::vector<std::string_view> kRopeAppendInts = {"k_stride: floats between key rows",
                                                       "v_stride: floats between value rows",
                                                       "style: 0 = norm (adjacent pairs), 1 = neox (halves)"};

std::vector<std::string_view> joined(std::vector<std::string_view> a, const std::vector<std::string_view>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string checkAttentionRope(const int64_t* a, int styleIndex) {
  if (std::string why = checkAttention(a); !why.empty()) return why;
  if (a[styleIndex] != 0 && a[styleIndex] != 1) return "style must be 0 (norm) or 1 (neox)";
  return "";
}
std::string checkDecodeRope(const int64_t* a) {
  return checkAttentionRope(a, 9);
}
std::string checkSplitRope(const int64_t* a) {
  return checkAttentionRope(a, 10);
}

/// Attention writing Q8_1 rows: each Q8_1 block of 32 values within one head.
std::string checkAttentionQ81(const int64_t* a) {
  if (std::string why = checkAttention(a); !why.empty()) return why;
  return a[3] % 32 == 0 ? "" : "head_dim must be a multiple of 32 for a Q8_1 output";
}
std::string checkDecodeRopeQ81(const int64_t* a) {
  if (std::string why = checkDecodeRope(a); !why.empty()) return why;
  return a[3] % 32 == 0 ? "" : "head_dim must be a multiple of 32 for a Q8_1 output";
}
std::string checkReduceQ81(const int64_t* a) {
  if (std::string why = checkAttentionReduce(a); !why.empty()) return why;
  return a[2] % 32 == 0 ? "" : "head_dim must be a multiple of 32 for a Q8_1 output";
}

/// `base` writing its result rows (its last pointer) as quantize_q8_1 would: id `<base>_q8_1`.
struct Q81Form {
  std::string_view base;
  CheckFn check;
  FootprintFn footprint;
};
KernelInfo withQ81Output(const KernelInfo& base, const Q81Form& form) {
  KernelInfo k = base;
  k.id += "_q8_1";
  k.ptrArgs.back() = "out: Q8_1 row-planar [m] rows of q81RowBytes(width) instead of f32";
  k.doc = "as the kernel without _q8_1, writing its rows as quantize_q8_1 would (bit-identical to the two kernels)";
  k.check = form.check;
  k.footprint = form.footprint;
  return k;
}

std::vector<KernelInfo> buildCatalog() {
  std::vector<KernelInfo> c;
  for (QType t : kGemvTypes) {
    c.push_back({gemvKernelId(t),
                 "gemv",
                 KernelKind::Kernel,
                 {"weights: W [n][k] (Q4_K: GGUF rows; Q6_K/Q8_0/Q5_0: row-planar repack)",
                  "act: Q8_1 row-planar activations [m] rows of q81RowBytes(k)", "out: f32 [m][n]"},
                 kGemvInts,
                 {},
                 "out[i][r] = dot(W[r], act[i]) with DP4A on Q8_1 activations",
                 gemvFromInts,
                 gemvCheckOf<0>(t),
                 gemvFootprintOf<0, 1, 1>(t)});
    c.push_back({gemvGateUpKernelId(t),
                 "gemv",
                 KernelKind::Kernel,
                 {"w_gate: gate weights [n][k]", "w_up: up weights [n][k], same type",
                  "act: Q8_1 row-planar activations", "out_gate: f32 [m][n]", "out_up: f32 [m][n]"},
                 kGemvInts,
                 {},
                 "the gate and up GEMVs of one activation in one launch",
                 gemvFromInts,
                 gemvCheckOf<0>(t),
                 gemvFootprintOf<0, 2, 2>(t)});
    c.push_back({gemvSwigluKernelId(t),
                 "gemv",
                 KernelKind::Kernel,
                 {"w_gate: gate weights [n][k]", "w_up: up weights [n][k], same type",
                  "act: Q8_1 row-planar activations", "out: f32 [m][n] = silu(gate) * up"},
                 kGemvInts,
                 {},
                 "gate and up GEMVs fused with SwiGLU",
                 gemvFromInts,
                 gemvCheckOf<0>(t),
                 gemvFootprintOf<0, 2, 1>(t)});
  }
  for (QType t : kGemvTypes) {
    c.push_back({gemvStackedKernelId(t, 2),
                 "gemv",
                 KernelKind::Kernel,
                 {"w_0: weights [rows_0][k]", "w_1: weights [rows_1][k], same type", "act: Q8_1 row-planar activations",
                  "out_0: f32 [m][rows_0]", "out_1: f32 [m][rows_1]"},
                 kGemvStack2Ints,
                 {},
                 "two GEMVs of one activation in one launch, the matrices stacked along the rows",
                 gemvFromInts,
                 gemvCheckOf<2>(t),
                 gemvFootprintOf<2, 2, 2>(t)});
    c.push_back({gemvStackedKernelId(t, 3),
                 "gemv",
                 KernelKind::Kernel,
                 {"w_0: weights [rows_0][k]", "w_1: weights [rows_1][k], same type",
                  "w_2: weights [rows_2][k], same type", "act: Q8_1 row-planar activations", "out_0: f32 [m][rows_0]",
                  "out_1: f32 [m][rows_1]", "out_2: f32 [m][rows_2]"},
                 kGemvStack3Ints,
                 {},
                 "three GEMVs of one activation (q, k, v) in one launch, the matrices stacked along the rows",
                 gemvFromInts,
                 gemvCheckOf<3>(t),
                 gemvFootprintOf<3, 3, 3>(t)});
  }
  for (const int matrices : {2, 3}) {
    c.push_back({gemvMixedStackKernelId(QType::Q4_K, QType::Q6_K, matrices),
                 "gemv",
                 KernelKind::Kernel,
                 matrices == 2
                     ? std::vector<std::string_view>{"w_0: Q4_K weights [rows_0][k]",
                                                     "w_1: Q6_K weights [rows_1][k] (row-planar)",
                                                     "act: Q8_1 row-planar activations", "out_0: f32 [m][rows_0]",
                                                     "out_1: f32 [m][rows_1]"}
                     : std::vector<std::string_view>{"w_0: Q4_K weights [rows_0][k]", "w_1: Q4_K weights [rows_1][k]",
                                                     "w_2: Q6_K weights [rows_2][k] (row-planar)",
                                                     "act: Q8_1 row-planar activations", "out_0: f32 [m][rows_0]",
                                                     "out_1: f32 [m][rows_1]", "out_2: f32 [m][rows_2]"},
                 matrices == 2 ? kGemvStack2Ints : kGemvStack3Ints,
                 {},
                 "a stacked GEMV whose last matrix is Q6_K (Q4_K_M's q, k and v in one launch)",
                 gemvFromInts,
                 matrices == 2 ? checkGemvMixedStack<2> : checkGemvMixedStack<3>,
                 matrices == 2 ? gemvFootprint<QType::Q4_K, 2, 2, 2, QType::Q6_K>
                               : gemvFootprint<QType::Q4_K, 3, 3, 3, QType::Q6_K>});
  }
  c.push_back({"quantize_q8_1",
               "quant",
               KernelKind::Kernel,
               {"x: f32 [m][k]", "out: Q8_1 row-planar [m] rows of q81RowBytes(k)"},
               {"m: rows", "k: columns (multiple of 32; 256 for the GEMVs)"},
               {},
               "activation quantizer of the DP4A GEMVs (bit-identical to quant::quantizeQ81)",
               quantizeFromInts,
               checkQuantizeQ81,
               quantizeFootprint});
  c.push_back({"rms_norm",
               "norm",
               KernelKind::Kernel,
               {"x: f32 [m][n]", "weight: f32 [n]", "out: f32 [m][n]"},
               {"m: rows", "n: row length (multiple of 4)"},
               {"eps: added to the mean square"},
               "out = x / sqrt(mean(x^2) + eps) * weight",
               normFromInts,
               checkNorm,
               normFootprint<false, false>});
  c.push_back(
      {"add_rms_norm",
       "norm",
       KernelKind::Kernel,
       {"x: f32 [m][n]", "residual: f32 [m][n]", "weight: f32 [n]",
        "sum_out: f32 [m][n] = x + residual (may alias x or residual)", "norm_out: f32 [m][n] = rms_norm(sum_out)"},
       {"m: rows", "n: row length (multiple of 4)"},
       {"eps: added to the mean square"},
       "fused residual add + RMSNorm",
       normFromInts,
       checkNorm,
       normFootprint<true, false>});
  c.push_back({"rms_norm_q8_1",
               "norm",
               KernelKind::Kernel,
               {"x: f32 [m][n]", "weight: f32 [n]", "out: Q8_1 row-planar [m] rows of q81RowBytes(n)"},
               {"m: rows", "n: row length (multiple of 32)"},
               {"eps: added to the mean square"},
               "rms_norm writing its rows as quantize_q8_1 would (bit-identical to the two kernels)",
               normFromInts,
               checkQ81Rows,
               normFootprint<false, true>});
  c.push_back({"add_rms_norm_q8_1",
               "norm",
               KernelKind::Kernel,
               {"x: f32 [m][n]", "residual: f32 [m][n]", "weight: f32 [n]",
                "sum_out: f32 [m][n] = x + residual (may alias x or residual)",
                "norm_out: Q8_1 row-planar rows of rms_norm(sum_out)"},
               {"m: rows", "n: row length (multiple of 32)"},
               {"eps: added to the mean square"},
               "fused residual add + RMSNorm with a Q8_1 epilogue",
               normFromInts,
               checkQ81Rows,
               normFootprint<true, true>});
  for (std::string_view style : {"norm", "neox"}) {
    c.push_back({style == "norm" ? "rope_norm" : "rope_neox",
                 "rope",
                 KernelKind::Kernel,
                 {"q: f32 rows (rotated in place) of n_heads*head_dim", "k: f32 rows (in place) of n_kv_heads*head_dim",
                  "positions: int32 [m]"},
                 {"m: rows", "n_heads: query heads", "n_kv_heads: key heads", "head_dim: rotated dims per head (even)",
                  "q_stride: floats between query rows", "k_stride: floats between key rows"},
                 kRopeFloats,
                 style == "norm" ? "rotary embedding of adjacent pairs (x[2i], x[2i+1]) (GGML NORM style)"
                                 : "rotary embedding of halves (x[i], x[i + head_dim/2]) (GPT-NeoX style)",
                 ropeFromInts,
                 checkRope,
                 ropeFootprint});
  }
  for (QType t : kEmbedTypes) {
    c.push_back({embedKernelId(t),
                 "embed",
                 KernelKind::Kernel,
                 {"table: [vocab][n] in the GGUF layout", "tokens: int32 [m]", "out: f32 [m][n]"},
                 {"m: rows", "n: embedding width (multiple of the block size)",
                  "vocab: table rows (out-of-range ids give zeros)"},
                 {},
                 "embedding lookup with dequantization",
                 embedFromInts,
                 embedCheckOf(t),
                 embedFootprintOf(t)});
  }
  c.push_back({"add",
               "elementwise",
               KernelKind::Kernel,
               {"a: f32", "b: f32", "out: f32 = a + b (may alias a or b)"},
               {"count: elements"},
               {},
               "residual add",
               countFromInts,
               checkCount,
               binaryFootprint});
  c.push_back({"swiglu",
               "elementwise",
               KernelKind::Kernel,
               {"gate: f32", "up: f32", "out: f32 = silu(gate) * up"},
               {"count: elements"},
               {},
               "SwiGLU",
               countFromInts,
               checkCount,
               binaryFootprint});
  c.push_back({"swiglu_q8_1",
               "elementwise",
               KernelKind::Kernel,
               {"gate: f32 [m][n]", "up: f32 [m][n]", "out: Q8_1 row-planar rows of silu(gate) * up"},
               {"m: rows", "n: columns (multiple of 32)"},
               {},
               "SwiGLU writing its rows as quantize_q8_1 would (bit-identical to the two kernels)",
               matrixFromInts,
               checkQ81Rows,
               swigluQ81Footprint});
  c.push_back({"bias_add",
               "elementwise",
               KernelKind::Kernel,
               {"x: f32 [m][n], in place", "bias: f32 [n]"},
               {"m: rows", "n: columns"},
               {},
               "x[i][j] += bias[j]",
               matrixFromInts,
               checkRows,
               biasAddFootprint});
  c.push_back({"cast_f32_f16",
               "elementwise",
               KernelKind::Kernel,
               {"in: f32", "out: f16"},
               {"count: elements"},
               {},
               "f32 -> f16 (round to nearest even), e.g. HGEMM activations",
               countFromInts,
               checkCount,
               castFootprint});
  c.push_back({"argmax",
               "sample",
               KernelKind::Kernel,
               {"x: f32 [m][n]", "out: int32 [m]"},
               {"m: rows", "n: columns"},
               {},
               "index of each row's maximum (the lowest index on ties; NaN never wins)",
               argmaxFromInts,
               checkRows,
               argmaxFootprint});
  c.push_back({"kv_append",
               "attention",
               KernelKind::Kernel,
               {"k_new: f32 rows of n_kv_heads*head_dim", "v_new: f32 rows", "k_cache: f16 [slot][pos][n_kv][hd]",
                "v_cache: f16, same layout", "slots: int32 [m] (negative = padding row, skipped)",
                "positions: int32 [m] (where the row is written)"},
               {"m: rows", "n_kv_heads: KV heads", "head_dim: dims per head (even)", "max_ctx: positions per slot",
                "k_stride: floats between k_new rows", "v_stride: floats between v_new rows"},
               {},
               "writes each row's K and V (as f16) at its slot and position",
               kvAppendFromInts,
               checkKvAppend,
               kvAppendFootprint});
  c.push_back({"attn_decode",
               "attention",
               KernelKind::Kernel,
               {"q: f32 [m] rows of n_heads*head_dim", "k_cache: f16", "v_cache: f16", "slots: int32 [m]",
                "kv_lens: int32 [m] (0 = padding row: zeros out)", "out: f32 [m][n_heads][head_dim]"},
               kAttnInts,
               {"scale: score scale (1/sqrt(head_dim))"},
               "batched decode attention: row i attends to positions [max(0, len-window), len) of its slot",
               attnFromInts,
               checkAttention,
               attentionFootprint<AttnForm::Decode>});
  auto splitInts = kAttnInts;
  splitInts.push_back("splits: KV splits per row (flash-decoding)");
  c.push_back({"attn_decode_split",
               "attention",
               KernelKind::Kernel,
               {"q: f32 rows", "k_cache: f16", "v_cache: f16", "slots: int32 [m]", "kv_lens: int32 [m]",
                "part_out: f32 [m][n_heads][splits][head_dim] (unnormalized)",
                "part_ml: f32 [m][n_heads][splits][2] (running max, sum of exp)"},
               splitInts,
               {"scale: score scale"},
               "flash-decoding, phase 1: each split of the KV range on its own block",
               attnSplitFromInts,
               checkAttentionSplit,
               attentionFootprint<AttnForm::Split>});
  const std::vector<std::string_view> ropeFloats = joined({"scale: score scale"}, kRopeFloats);
  c.push_back({"attn_decode_rope",
               "attention",
               KernelKind::Kernel,
               {"q: f32 rows, not yet rotated", "k: f32 [m] rows of n_kv_heads*head_dim, not yet rotated",
                "v: f32 [m] rows of n_kv_heads*head_dim", "k_cache: f16", "v_cache: f16", "slots: int32 [m]",
                "kv_lens: int32 [m]", "positions: int32 [m] (the new token's)", "out: f32 [m][n_heads][head_dim]"},
               joined(kAttnInts, kRopeAppendInts),
               ropeFloats,
               "attn_decode that first rotates q, and rotates k and appends k, v at the row's position (RoPE + "
               "kv_append + attention in one launch)",
               attnFromInts,
               checkDecodeRope,
               attentionFootprint<AttnForm::DecodeRope>});
  c.push_back({"attn_decode_split_rope",
               "attention",
               KernelKind::Kernel,
               {"q: f32 rows, not yet rotated", "k: f32 rows, not yet rotated", "v: f32 rows", "k_cache: f16",
                "v_cache: f16", "slots: int32 [m]", "kv_lens: int32 [m]", "positions: int32 [m]",
                "part_out: f32 [m][n_heads][splits][head_dim]", "part_ml: f32 [m][n_heads][splits][2]"},
               joined(splitInts, kRopeAppendInts),
               ropeFloats,
               "attn_decode_split with the RoPE + append prologue (the split holding the new position appends)",
               attnSplitFromInts,
               checkSplitRope,
               attentionFootprint<AttnForm::SplitRope>});
  c.push_back(
      {"attn_decode_reduce",
       "attention",
       KernelKind::Kernel,
       {"part_out: from attn_decode_split", "part_ml: from attn_decode_split", "out: f32 [m][n_heads][head_dim]"},
       {"m: rows", "n_heads: query heads", "head_dim: dims per head", "splits: splits per row"},
       {},
       "flash-decoding, phase 2: log-sum-exp merge of the splits",
       attnReduceFromInts,
       checkAttentionReduce,
       attentionReduceFootprint<false>});
  // The decode kernels that write the final attention rows have a Q8_1 form (fold-quantize).
  const Q81Form q81Forms[] = {{"attn_decode", checkAttentionQ81, attentionFootprint<AttnForm::Decode, true>},
                              {"attn_decode_rope", checkDecodeRopeQ81, attentionFootprint<AttnForm::DecodeRope, true>},
                              {"attn_decode_reduce", checkReduceQ81, attentionReduceFootprint<true>}};
  for (const Q81Form& form : q81Forms) {
    const auto found = std::find_if(c.begin(), c.end(), [&](const KernelInfo& k) { return k.id == form.base; });
    c.push_back(withQ81Output(*found, form));
  }
  c.push_back({"attn_prefill",
               "attention",
               KernelKind::Kernel,
               {"q: f32 rows", "k_cache: f16 (the step's K already appended)", "v_cache: f16", "slots: int32 [m]",
                "positions: int32 [m]: row i attends to [0, positions[i]] (causal)", "out: f32 [m][n_heads][head_dim]"},
               kAttnInts,
               {"scale: score scale"},
               "prefill attention with a causal mask (positions give the mask)",
               attnFromInts,
               checkAttention,
               attentionFootprint<AttnForm::Prefill>});
  for (std::string_view src : {"f32", "f16"}) {
    c.push_back({src == "f32" ? "fp8_convert_f32" : "fp8_convert_f16",
                 "fp8",
                 KernelKind::Kernel,
                 {"in: weights [n][k]", "out: E4M3 [n][k]", "scales: f32 [n] (per_row) or [1]: dequantization scales"},
                 {"n: rows", "k: columns", "per_row: 1 = a scale per row, 0 = one per tensor"},
                 {},
                 "weight conversion to FP8 E4M3 with amax/448 scales (load time; several launches, not for capture)",
                 fp8ConvertFromInts,
                 checkFp8Convert,
                 src == "f32" ? fp8ConvertFootprint<4> : fp8ConvertFootprint<2>});
  }
  c.push_back({"fp8_quantize_act",
               "fp8",
               KernelKind::Kernel,
               {"x: f32 [m][k]", "out: E4M3 [m][k]", "scale: f32 [1] (written: amax/448)"},
               {"m: rows", "k: columns"},
               {},
               "activation quantizer to E4M3 with one dynamic per-tensor scale (one block)",
               singleBlock,
               checkRowsK,
               fp8QuantizeActFootprint});
  c.push_back({"fp8_gemm_cublaslt",
               "fp8",
               KernelKind::Library,
               {"w: E4M3 [n][k]", "w_scales: f32 [n] (per_row) or [1]", "act: E4M3 [m][k]", "act_scale: f32 [1]",
                "out: f32 [m][n]"},
               {"m: rows of act", "n: rows of W (multiple of 16)", "k: multiple of 16",
                "per_row: w_scales per row (1) or one (0)"},
               {},
               "out = (act * act_scale) (W * w_scales)^T through cuBLASLt FP8 (needs a BlasContext)",
               libraryDims,
               checkFp8Gemm,
               fp8GemmFootprint});
  c.push_back({"hgemm_cublas",
               "hgemm",
               KernelKind::Library,
               {"w: f16 [n][k]", "x: f16 [m][k]", "out: f32 [m][n]"},
               {"m: rows of x", "n: rows of W", "k: columns"},
               {},
               "out = x W^T by cublasGemmEx, f16 inputs, f32 accumulate and output (needs a BlasContext)",
               libraryDims,
               checkHgemm,
               hgemmFootprint});
  c.push_back({"sample",
               "sample",
               KernelKind::Kernel,
               {"x: f32 [m][n] logits", "sampling: SampleRow [m] (kernels/SampleMath.h)",
                "recent: int32 [m][256] recent tokens, -1 for none", "positions: int32 [m] (the draw's counter)",
                "out: int32 [m]"},
               {"m: rows", "n: columns (at most 262144)"},
               {},
               "each row's next token: penalties over its recent tokens, then the argmax where its temperature is <= "
               "0, else top-k (at most 1024), top-p, min-p, temperature and a draw seeded by (seed, position)",
               sampleFromInts,
               checkSample,
               sampleFootprint});
  return c;
}

}  // namespace

std::string gemvKernelId(QType t) {
  return fmt::format("gemv_dp4a_{}", quant::qtypeName(t));
}
std::string gemvGateUpKernelId(QType t) {
  return fmt::format("gemv_dp4a_gate_up_{}", quant::qtypeName(t));
}
std::string gemvStackedKernelId(QType t, int matrices) {
  return fmt::format("gemv_dp4a_stack{}_{}", matrices, quant::qtypeName(t));
}
std::string gemvMixedStackKernelId(QType t, QType last, int matrices) {
  return fmt::format("gemv_dp4a_stack{}_{}_{}", matrices, quant::qtypeName(t), quant::qtypeName(last));
}
std::string gemvSwigluKernelId(QType t) {
  return fmt::format("gemv_dp4a_swiglu_{}", quant::qtypeName(t));
}
std::string embedKernelId(QType t) {
  return fmt::format("embed_{}", quant::qtypeName(t));
}

const std::vector<KernelInfo>& kernelCatalog() {
  static const std::vector<KernelInfo> catalog = buildCatalog();
  return catalog;
}

const KernelInfo* findKernel(std::string_view id) {
  for (const KernelInfo& k : kernelCatalog()) {
    if (k.id == id) return &k;
  }
  return nullptr;
}

std::string_view argName(std::string_view description) {
  return description.substr(0, description.find(':'));
}

std::string checkKernelArgs(std::string_view id, const int64_t* ints) {
  const KernelInfo* k = findKernel(id);
  if (k == nullptr) return "unknown kernel";
  for (size_t i = 0; i < k->intArgs.size(); ++i)
    if (ints[i] < 0 || ints[i] > kMaxIntArg)
      return fmt::format("{} = {} is out of range [0, {}]", argName(k->intArgs[i]), ints[i], kMaxIntArg);
  return k->check(ints);
}

LaunchDims kernelDims(std::string_view id, const int64_t* ints) {
  const KernelInfo* k = findKernel(id);
  return k == nullptr ? LaunchDims{} : k->dims(ints);
}

LaunchDims gemvDims(int64_t n, int rowSets) {
  const int64_t rows = kGemvRowsPerWarp * std::max(rowSets, 1);
  return make(ceilDiv(n, rows), 1, 1, 32 * quant::kGemvKSplit);
}
LaunchDims quantizeQ81Dims(int64_t m, int64_t k) {
  return make(ceilDiv(k, 256), m, 1, 256);
}
LaunchDims normDims(int64_t m, int64_t n) {
  return make(m, 1, 1, std::clamp<int64_t>(ceilDiv(n / 4, 32) * 32, 32, 1024));
}
LaunchDims rowKernelDims(int64_t m, int64_t) {
  return make(m, 1, 1, 256);
}
LaunchDims argmaxDims(int64_t m, int64_t n) {
  return make(m, 1, 1, n >= 16384 ? 1024 : 256);
}
LaunchDims sampleDims(int64_t m, int64_t n) {
  // The dynamic shared memory is the bitmap of penalised tokens: one bit per column, 16-byte
  // granules.
  LaunchDims d = make(m, 1, 1, 1024);
  d.smemBytes = static_cast<uint32_t>(ceilDiv(std::clamp<int64_t>(n, 1, kSampleMaxVocab), 128) * 16);
  return d;
}
LaunchDims elementwiseDims(int64_t count) {
  return make(std::min<int64_t>(ceilDiv(count, 256), 4096), 1, 1, 256);
}
LaunchDims ropeDims(int64_t m, int64_t nHeads, int64_t nKvHeads, int64_t headDim) {
  // One pair per thread, 128 threads per block: a row's heads spread over several SMs.
  const int64_t pairs = std::max<int64_t>((nHeads + nKvHeads) * headDim / 2, 1);
  const int64_t threads = std::min<int64_t>(ceilDiv(pairs, 32) * 32, 128);
  return make(m, ceilDiv(pairs, threads), 1, threads);
}
LaunchDims embedDims(int64_t m, int64_t) {
  return make(m, 1, 1, 256);
}
LaunchDims attentionDims(int64_t m, int64_t nHeads, int64_t nKvHeads, int64_t headDim, int64_t splits) {
  const int64_t group = nHeads / std::max<int64_t>(nKvHeads, 1);
  const int64_t warps = attnWarps(attnGroupCap(group), headDim > 128 ? 256 : 128);
  // Shared memory: the group's scaled queries [group][head_dim], the appended row's K and V (f16,
  // [2][head_dim]), the warps' P*V sums [warps][group][head_dim], their (max, sum of exp) pairs
  // [warps][group][2] and the combined (max, sum of exp) [group][2].
  const int64_t smem = 4 * (group * (headDim + warps * headDim + warps * 2) + headDim + 2 * group);
  return make(nKvHeads, m, splits, 32 * warps, smem);
}
LaunchDims attentionReduceDims(int64_t m, int64_t nHeads, int64_t headDim) {
  return make(nHeads, m, 1, headDim);
}
LaunchDims kvAppendDims(int64_t m, int64_t nKvHeads, int64_t headDim) {
  return make(m, 1, 1, std::min<int64_t>(nKvHeads * headDim / 2, 256));
}

std::string describeCatalog() {
  std::string out;
  for (const KernelInfo& k : kernelCatalog()) {
    out += fmt::format("{} [{}{}]: {}\n", k.id, k.family, k.kind == KernelKind::Library ? ", library" : "", k.doc);
    for (size_t i = 0; i < k.ptrArgs.size(); ++i) out += fmt::format("  ptr[{}] {}\n", i, k.ptrArgs[i]);
    for (size_t i = 0; i < k.intArgs.size(); ++i) out += fmt::format("  int[{}] {}\n", i, k.intArgs[i]);
    for (size_t i = 0; i < k.floatArgs.size(); ++i) out += fmt::format("  float[{}] {}\n", i, k.floatArgs[i]);
  }
  return out;
}

}  // namespace reel::kernels
