// The kernel catalog: ids, argument signatures, launch dims (see KernelCatalog.h).
#include "kernels/KernelCatalog.h"

#include "kernels/GemvShape.h"

#include <fmt/format.h>

#include <algorithm>
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

constexpr QType kGemvTypes[] = {QType::Q4_K, QType::Q6_K, QType::Q8_0, QType::Q5_0};
constexpr QType kEmbedTypes[] = {QType::F32,  QType::F16,  QType::BF16, QType::Q8_0,
                                 QType::Q5_0, QType::Q4_K, QType::Q6_K};

// ---- checks ------------------------------------------------------------------------------

/// A GEMV of weight type T: ints n, k, m, then for a stack of S > 0 matrices each one's rows,
/// which add up to n.
template <QType T, int S>
std::string checkGemv(const int64_t* a) {
  if (a[0] < 1) return "n must be positive";
  if (a[1] < gemvKMultiple(T) || a[1] % gemvKMultiple(T) != 0)
    return fmt::format("k must be a positive multiple of {} for {} weights", gemvKMultiple(T), quant::qtypeName(T));
  if (a[2] < 1 || a[2] > kGemvMaxM) return fmt::format("m must be in 1..{}", kGemvMaxM);
  int64_t sum = 0;
  for (int i = 0; i < S; ++i) {
    if (a[3 + i] < 1) return fmt::format("rows_{} must be positive", i);
    sum += a[3 + i];
  }
  if (S > 0 && sum != a[0]) return fmt::format("n = {} must be the sum of the matrices' rows ({})", a[0], sum);
  return "";
}

/// The GEMV check of weight type t for S stacked matrices (0: not stacked).
template <int S>
CheckFn gemvCheckOf(QType t) {
  switch (t) {
    case QType::Q6_K:
      return checkGemv<QType::Q6_K, S>;
    case QType::Q8_0:
      return checkGemv<QType::Q8_0, S>;
    case QType::Q5_0:
      return checkGemv<QType::Q5_0, S>;
    default:
      return checkGemv<QType::Q4_K, S>;
  }
}

template <int S>
std::string checkGemvMixedStack(const int64_t* a) {
  if (std::string why = checkGemv<QType::Q4_K, S>(a); !why.empty()) return why;
  int64_t lastFrom = 0;
  for (int i = 0; i + 1 < S; ++i) lastFrom += a[3 + i];
  if (lastFrom % kGemvMixedStackAlign != 0)
    return fmt::format("the last matrix must start on a multiple of {} rows, not {}", kGemvMixedStackAlign, lastFrom);
  return "";
}

std::string checkQuantizeQ81(const int64_t* a) {
  if (a[1] % 32 != 0) return "k must be a multiple of 32";
  return "";
}

std::string checkNorm(const int64_t* a) {
  if (a[1] % 4 != 0) return "n must be a multiple of 4";
  return "";
}

std::string checkQ81Rows(const int64_t* a) {
  if (a[1] % 32 != 0) return "n must be a multiple of 32 (whole Q8_1 blocks)";
  return "";
}

std::string checkRope(const int64_t* a) {
  if (a[3] % 2 != 0 || a[3] > 1024) return "head_dim must be even and at most 1024";
  return "";
}

std::string checkAttention(const int64_t* a) {
  const int64_t heads = a[1], kvHeads = a[2], headDim = a[3];
  if (kvHeads < 1 || heads % kvHeads != 0) return "n_heads must be a multiple of n_kv_heads";
  if (heads / kvHeads > kAttnMaxGroup) return fmt::format("at most {} query heads per KV head", kAttnMaxGroup);
  if (headDim % 8 != 0 || headDim > kAttnMaxHeadDim)
    return fmt::format("head_dim must be a multiple of 8, at most {}", kAttnMaxHeadDim);
  return "";
}

std::string checkKvAppend(const int64_t* a) {
  if (a[2] % 2 != 0) return "head_dim must be even";
  return "";
}

std::string checkFp8Gemm(const int64_t* a) {
  if (a[2] % 16 != 0 || a[1] % 16 != 0) return "n and k must be multiples of 16";
  return "";
}

std::string checkHgemm(const int64_t* a) {
  if (a[2] % 8 != 0 || a[1] % 8 != 0) return "n and k must be multiples of 8";
  return "";
}

std::string noCheck(const int64_t*) {
  return "";
}

// ---- dims adapters (int args in catalog order) ---------------------------------------------

template <QType T, int Matrices>
LaunchDims gemvFromInts(const int64_t* a) {
  return gemvDims(T, a[0], a[1], static_cast<int>(a[2]), Matrices);
}
/// The GEMV dims adapter of weight type t (the rows per block depend on it).
template <int Matrices>
DimsFn gemvDimsOf(QType t) {
  switch (t) {
    case QType::Q6_K:
      return gemvFromInts<QType::Q6_K, Matrices>;
    case QType::Q8_0:
      return gemvFromInts<QType::Q8_0, Matrices>;
    case QType::Q5_0:
      return gemvFromInts<QType::Q5_0, Matrices>;
    default:
      return gemvFromInts<QType::Q4_K, Matrices>;
  }
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
LaunchDims fp8ConvertFromInts(const int64_t* a) {
  return rowKernelDims(a[0], a[1]);
}
LaunchDims singleBlock(const int64_t*) {
  return make(1, 1, 1, 1024);
}
LaunchDims libraryDims(const int64_t*) {
  return LaunchDims{};
}

// ---- argument lists shared by several entries ---------------------------------------------

const std::vector<std::string_view> kGemvInts = {"n: rows of W = outputs per activation row",
                                                 "k: columns of W (a multiple of 256; of 32 for q8_0, q5_0)",
                                                 "m: activation rows, 1..8"};
const std::vector<std::string_view> kGemvStack2Ints = {
    "n: rows of both matrices", "k: columns (a multiple of 256; of 32 for q8_0, q5_0)", "m: activation rows, 1..8",
    "rows_0: rows of w_0", "rows_1: rows of w_1"};
const std::vector<std::string_view> kGemvStack3Ints = {
    "n: rows of the three matrices", "k: columns (a multiple of 256; of 32 for q8_0, q5_0)",
    "m: activation rows, 1..8",      "rows_0: rows of w_0",
    "rows_1: rows of w_1",           "rows_2: rows of w_2"};
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
  return a[2] % 32 == 0 ? "" : "head_dim must be a multiple of 32 for a Q8_1 output";
}

/// `base` writing its result rows (its last pointer) as quantize_q8_1 would: id `<base>_q8_1`.
KernelInfo withQ81Output(const KernelInfo& base, CheckFn check) {
  KernelInfo k = base;
  k.id += "_q8_1";
  k.ptrArgs.back() = "out: Q8_1 row-planar [m] rows of q81RowBytes(width) instead of f32";
  k.doc = "as the kernel without _q8_1, writing its rows as quantize_q8_1 would (bit-identical to the two kernels)";
  k.check = check;
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
                 gemvDimsOf<1>(t),
                 gemvCheckOf<0>(t)});
    c.push_back({gemvGateUpKernelId(t),
                 "gemv",
                 KernelKind::Kernel,
                 {"w_gate: gate weights [n][k]", "w_up: up weights [n][k], same type",
                  "act: Q8_1 row-planar activations", "out_gate: f32 [m][n]", "out_up: f32 [m][n]"},
                 kGemvInts,
                 {},
                 "the gate and up GEMVs of one activation in one launch",
                 gemvDimsOf<2>(t),
                 gemvCheckOf<0>(t)});
    c.push_back({gemvSwigluKernelId(t),
                 "gemv",
                 KernelKind::Kernel,
                 {"w_gate: gate weights [n][k]", "w_up: up weights [n][k], same type",
                  "act: Q8_1 row-planar activations", "out: f32 [m][n] = silu(gate) * up"},
                 kGemvInts,
                 {},
                 "gate and up GEMVs fused with SwiGLU",
                 gemvDimsOf<2>(t),
                 gemvCheckOf<0>(t)});
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
                 gemvDimsOf<1>(t),
                 gemvCheckOf<2>(t)});
    c.push_back({gemvStackedKernelId(t, 3),
                 "gemv",
                 KernelKind::Kernel,
                 {"w_0: weights [rows_0][k]", "w_1: weights [rows_1][k], same type",
                  "w_2: weights [rows_2][k], same type", "act: Q8_1 row-planar activations", "out_0: f32 [m][rows_0]",
                  "out_1: f32 [m][rows_1]", "out_2: f32 [m][rows_2]"},
                 kGemvStack3Ints,
                 {},
                 "three GEMVs of one activation (q, k, v) in one launch, the matrices stacked along the rows",
                 gemvDimsOf<1>(t),
                 gemvCheckOf<3>(t)});
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
                 gemvDimsOf<1>(QType::Q4_K),
                 matrices == 2 ? checkGemvMixedStack<2> : checkGemvMixedStack<3>});
  }
  c.push_back({"quantize_q8_1",
               "quant",
               KernelKind::Kernel,
               {"x: f32 [m][k]", "out: Q8_1 row-planar [m] rows of q81RowBytes(k)"},
               {"m: rows", "k: columns (multiple of 32; 256 for the GEMVs)"},
               {},
               "activation quantizer of the DP4A GEMVs (bit-identical to quant::quantizeQ81)",
               quantizeFromInts,
               checkQuantizeQ81});
  c.push_back({"rms_norm",
               "norm",
               KernelKind::Kernel,
               {"x: f32 [m][n]", "weight: f32 [n]", "out: f32 [m][n]"},
               {"m: rows", "n: row length (multiple of 4)"},
               {"eps: added to the mean square"},
               "out = x / sqrt(mean(x^2) + eps) * weight",
               normFromInts,
               checkNorm});
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
       checkNorm});
  c.push_back({"rms_norm_q8_1",
               "norm",
               KernelKind::Kernel,
               {"x: f32 [m][n]", "weight: f32 [n]", "out: Q8_1 row-planar [m] rows of q81RowBytes(n)"},
               {"m: rows", "n: row length (multiple of 32)"},
               {"eps: added to the mean square"},
               "rms_norm writing its rows as quantize_q8_1 would (bit-identical to the two kernels)",
               normFromInts,
               checkQ81Rows});
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
               checkQ81Rows});
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
                 checkRope});
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
                 noCheck});
  }
  c.push_back({"add",
               "elementwise",
               KernelKind::Kernel,
               {"a: f32", "b: f32", "out: f32 = a + b (may alias a or b)"},
               {"count: elements"},
               {},
               "residual add",
               countFromInts,
               noCheck});
  c.push_back({"swiglu",
               "elementwise",
               KernelKind::Kernel,
               {"gate: f32", "up: f32", "out: f32 = silu(gate) * up"},
               {"count: elements"},
               {},
               "SwiGLU",
               countFromInts,
               noCheck});
  c.push_back({"swiglu_q8_1",
               "elementwise",
               KernelKind::Kernel,
               {"gate: f32 [m][n]", "up: f32 [m][n]", "out: Q8_1 row-planar rows of silu(gate) * up"},
               {"m: rows", "n: columns (multiple of 32)"},
               {},
               "SwiGLU writing its rows as quantize_q8_1 would (bit-identical to the two kernels)",
               matrixFromInts,
               checkQ81Rows});
  c.push_back({"bias_add",
               "elementwise",
               KernelKind::Kernel,
               {"x: f32 [m][n], in place", "bias: f32 [n]"},
               {"m: rows", "n: columns"},
               {},
               "x[i][j] += bias[j]",
               matrixFromInts,
               noCheck});
  c.push_back({"cast_f32_f16",
               "elementwise",
               KernelKind::Kernel,
               {"in: f32", "out: f16"},
               {"count: elements"},
               {},
               "f32 -> f16 (round to nearest even), e.g. HGEMM activations",
               countFromInts,
               noCheck});
  c.push_back({"argmax",
               "sample",
               KernelKind::Kernel,
               {"x: f32 [m][n]", "out: int32 [m]"},
               {"m: rows", "n: columns"},
               {},
               "index of each row's maximum (the lowest index on ties; NaN never wins)",
               argmaxFromInts,
               noCheck});
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
               checkKvAppend});
  c.push_back({"attn_decode",
               "attention",
               KernelKind::Kernel,
               {"q: f32 [m] rows of n_heads*head_dim", "k_cache: f16", "v_cache: f16", "slots: int32 [m]",
                "kv_lens: int32 [m] (0 = padding row: zeros out)", "out: f32 [m][n_heads][head_dim]"},
               kAttnInts,
               {"scale: score scale (1/sqrt(head_dim))"},
               "batched decode attention: row i attends to positions [max(0, len-window), len) of its slot",
               attnFromInts,
               checkAttention});
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
               checkAttention});
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
               checkDecodeRope});
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
               checkSplitRope});
  c.push_back(
      {"attn_decode_reduce",
       "attention",
       KernelKind::Kernel,
       {"part_out: from attn_decode_split", "part_ml: from attn_decode_split", "out: f32 [m][n_heads][head_dim]"},
       {"m: rows", "n_heads: query heads", "head_dim: dims per head", "splits: splits per row"},
       {},
       "flash-decoding, phase 2: log-sum-exp merge of the splits",
       attnReduceFromInts,
       noCheck});
  // The decode kernels that write the final attention rows have a Q8_1 form (fold-quantize).
  const std::pair<std::string_view, CheckFn> q81Forms[] = {{"attn_decode", checkAttentionQ81},
                                                           {"attn_decode_rope", checkDecodeRopeQ81},
                                                           {"attn_decode_reduce", checkReduceQ81}};
  for (const auto& form : q81Forms) {  // (clang 14 cannot capture a structured binding)
    const auto found = std::find_if(c.begin(), c.end(), [&](const KernelInfo& k) { return k.id == form.first; });
    c.push_back(withQ81Output(*found, form.second));
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
               checkAttention});
  for (std::string_view src : {"f32", "f16"}) {
    c.push_back({src == "f32" ? "fp8_convert_f32" : "fp8_convert_f16",
                 "fp8",
                 KernelKind::Kernel,
                 {"in: weights [n][k]", "out: E4M3 [n][k]", "scales: f32 [n] (per_row) or [1]: dequantization scales"},
                 {"n: rows", "k: columns", "per_row: 1 = a scale per row, 0 = one per tensor"},
                 {},
                 "weight conversion to FP8 E4M3 with amax/448 scales (load time; several launches, not for capture)",
                 fp8ConvertFromInts,
                 noCheck});
  }
  c.push_back({"fp8_quantize_act",
               "fp8",
               KernelKind::Kernel,
               {"x: f32 [m][k]", "out: E4M3 [m][k]", "scale: f32 [1] (written: amax/448)"},
               {"m: rows", "k: columns"},
               {},
               "activation quantizer to E4M3 with one dynamic per-tensor scale (one block)",
               singleBlock,
               noCheck});
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
               checkFp8Gemm});
  c.push_back({"hgemm_cublas",
               "hgemm",
               KernelKind::Library,
               {"w: f16 [n][k]", "x: f16 [m][k]", "out: f32 [m][n]"},
               {"m: rows of x", "n: rows of W", "k: columns"},
               {},
               "out = x W^T by cublasGemmEx, f16 inputs, f32 accumulate and output (needs a BlasContext)",
               libraryDims,
               checkHgemm});
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

std::string checkKernelArgs(std::string_view id, const int64_t* ints) {
  const KernelInfo* k = findKernel(id);
  if (k == nullptr) return "unknown kernel";
  return k->check(ints);
}

LaunchDims kernelDims(std::string_view id, const int64_t* ints) {
  const KernelInfo* k = findKernel(id);
  return k == nullptr ? LaunchDims{} : k->dims(ints);
}

LaunchDims gemvDims(QType weightType, int64_t n, int64_t k, int m, int matrices) {
  const int rows = kGemvRowsPerWarp * gemvRowSets(weightType, n, k, m, matrices);
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
