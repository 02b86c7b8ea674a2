// The kernel catalog: ids, argument signatures, launch dims (see KernelCatalog.h).
#include "kernels/KernelCatalog.h"

#include "kernels/AttentionPrefillShape.h"
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

using args::ArgDocs;
using Fp = PtrFootprint;

/// CUDA's limits on a grid's x and y (and z) dimensions.
constexpr int64_t kMaxGridX = 2147483647;
constexpr int64_t kMaxGridY = 65535;

// ---- checks ------------------------------------------------------------------------------

/// "" when the named values are all at least 1; else which is not.
std::string positive(std::initializer_list<std::pair<const char*, int64_t>> values) {
  for (const auto& [name, value] : values) {
    if (value < 1) return fmt::format("{} must be positive", name);
  }
  return "";
}

/// The ints every GEMV of weight type T takes.
template <QType T>
std::string checkGemvShape(const args::GemvShape& a) {
  if (a.n < 1) return "n must be positive";
  if (a.k < gemvKMultiple(T) || a.k % gemvKMultiple(T) != 0)
    return fmt::format("k must be a positive multiple of {} for {} weights", gemvKMultiple(T), quant::qtypeName(T));
  if (a.m < 1 || a.m > kGemvMaxM) return fmt::format("m must be in 1..{}", kGemvMaxM);
  if (!gemvRowSetsSupported(static_cast<int>(std::min<int64_t>(a.rowSets, INT32_MAX))))
    return fmt::format("row_sets must be 1 or 2, got {}", a.rowSets);
  return "";
}
template <QType T, template <class> class Args>
std::string checkGemv(const Args<Fp>& a) {
  return checkGemvShape<T>(a);
}
/// A stack of S matrices: each one's rows, which add up to n; a mixed stack (Last != T) also
/// starts its last matrix on a multiple of kGemvMixedStackAlign rows.
template <QType T, int S, QType Last = T>
std::string checkGemvStack(const typename args::GemvStacked<S>::template Of<Fp>& a) {
  if (std::string why = checkGemvShape<T>(a); !why.empty()) return why;
  int64_t sum = 0;
  for (size_t i = 0; i < a.rows.size(); ++i) {
    if (a.rows[i] < 1) return fmt::format("rows_{} must be positive", i);
    sum += a.rows[i];
  }
  if (sum != a.n) return fmt::format("n = {} must be the sum of the matrices' rows ({})", a.n, sum);
  if (Last == T) return "";
  const int64_t lastFrom = sum - a.rows.back();
  if (lastFrom % kGemvMixedStackAlign != 0)
    return fmt::format("the last matrix must start on a multiple of {} rows, not {}", kGemvMixedStackAlign, lastFrom);
  return "";
}

/// The mmq kernel of weight type T: whole units of k, any m >= 1, n within the grid's y limit.
template <QType T>
std::string checkMmq(const args::Mmq<Fp>& a) {
  if (std::string why = positive({{"n", a.n}, {"m", a.m}}); !why.empty()) return why;
  if (a.k < gemvKMultiple(T) || a.k % gemvKMultiple(T) != 0)
    return fmt::format("k must be a positive multiple of {} for {} weights", gemvKMultiple(T), quant::qtypeName(T));
  if (mmqGrid(a.n, a.m).y > kMaxGridY)
    return fmt::format("n must be at most {} ({} blocks of {} rows)", kMaxGridY * kMmqRowsPerBlock, kMaxGridY,
                       kMmqRowsPerBlock);
  return "";
}

/// The mma_f16 kernel (Q4_K): whole units of k, any m >= 1, n and m within the grid's limits.
std::string checkMmaF16(const args::MmaF16<Fp>& a) {
  if (std::string why = positive({{"n", a.n}, {"m", a.m}}); !why.empty()) return why;
  if (a.k < 256 || a.k % 256 != 0) return "k must be a positive multiple of 256 for q4_k weights";
  const MmaF16Grid grid = mmaF16Grid(a.n, a.m);
  if (grid.y > kMaxGridY) return fmt::format("n must be at most {} rows", kMaxGridY * kMmaF16Rows);
  if (grid.z > kMaxGridY) return fmt::format("m must be at most {} rows", kMaxGridY * kMmaF16MaxTokens);
  return "";
}

/// The dequantization of weight type T: whole blocks of k, at least one row.
template <QType T>
std::string checkDequantF16(const args::DequantF16<Fp>& a) {
  if (std::string why = positive({{"n", a.n}}); !why.empty()) return why;
  if (a.k < gemvKMultiple(T) || a.k % gemvKMultiple(T) != 0)
    return fmt::format("k must be a positive multiple of {} for {} weights", gemvKMultiple(T), quant::qtypeName(T));
  if (dequantF16Blocks(a.n, a.k) > kMaxGridX)
    return fmt::format("n x k / 32 = {} groups is over the grid's {} blocks of {}", a.n * (a.k / 32), kMaxGridX,
                       kDequantThreads);
  return "";
}

std::string checkQuantizeQ81(const args::QuantizeQ81<Fp>& a) {
  if (std::string why = positive({{"m", a.m}, {"k", a.k}}); !why.empty()) return why;
  if (a.k % 32 != 0) return "k must be a multiple of 32";
  return "";
}

/// RMSNorm of (m, n): n a multiple of 4 (a float4 per thread), of 32 for a Q8_1 output.
template <template <class> class Args, bool Q81>
std::string checkNorm(const Args<Fp>& a) {
  if (std::string why = positive({{"m", a.m}, {"n", a.n}}); !why.empty()) return why;
  if (Q81 && a.n % 32 != 0) return "n must be a multiple of 32 (whole Q8_1 blocks)";
  if (a.n % 4 != 0) return "n must be a multiple of 4";
  return "";
}

std::string checkSwigluQ81(const args::SwigluQ81<Fp>& a) {
  if (std::string why = positive({{"m", a.m}, {"n", a.n}}); !why.empty()) return why;
  if (a.n % 32 != 0) return "n must be a multiple of 32 (whole Q8_1 blocks)";
  return "";
}

std::string checkRope(const args::Rope<Fp>& a) {
  if (std::string why = positive({{"m", a.m}, {"n_heads", a.nHeads}}); !why.empty()) return why;
  if (a.headDim < 2 || a.headDim % 2 != 0 || a.headDim > 1024) return "head_dim must be even, 2 to 1024";
  return "";
}

std::string checkAttnShape(const args::AttnShape& a) {
  if (std::string why = positive({{"m", a.m},
                                  {"n_heads", a.nHeads},
                                  {"n_kv_heads", a.nKvHeads},
                                  {"head_dim", a.headDim},
                                  {"max_ctx", a.maxCtx}});
      !why.empty())
    return why;
  if (a.nHeads % a.nKvHeads != 0) return "n_heads must be a multiple of n_kv_heads";
  if (a.nHeads / a.nKvHeads > kAttnMaxGroup) return fmt::format("at most {} query heads per KV head", kAttnMaxGroup);
  if (a.headDim % 8 != 0 || a.headDim > kAttnMaxHeadDim)
    return fmt::format("head_dim must be a multiple of 8, at most {}", kAttnMaxHeadDim);
  return "";
}

/// Attention writing Q8_1 rows: each Q8_1 block of 32 values within one head.
std::string checkQ81Heads(int64_t headDim) {
  return headDim % 32 == 0 ? "" : "head_dim must be a multiple of 32 for a Q8_1 output";
}

/// The attention kernels: the shape, then splits (flash-decoding), the RoPE style (fused RoPE
/// prologue) and the head_dim of a Q8_1 output where the signature has them.
template <template <class> class Args, bool Q81 = false>
std::string checkAttention(const Args<Fp>& a) {
  if (std::string why = checkAttnShape(a); !why.empty()) return why;
  if constexpr (requires { a.splits; }) {
    if (a.splits < 1) return "splits must be positive";
  }
  if constexpr (requires { a.style; }) {
    if (a.style != 0 && a.style != 1) return "style must be 0 (norm) or 1 (neox)";
  }
  return Q81 ? checkQ81Heads(a.headDim) : "";
}

/// The tensor-core prefill attention: the attention shape, and a head_dim it has an
/// instantiation for.
std::string checkFlashPrefill(const args::AttnPrefillFlash<Fp>& a) {
  if (std::string why = checkAttnShape(a); !why.empty()) return why;
  if (!flashPrefillSupportsHeadDim(a.headDim)) return "head_dim must be 32, 64 or 128";
  return "";
}

std::string checkKvAppend(const args::KvAppend<Fp>& a) {
  if (std::string why =
          positive({{"m", a.m}, {"n_kv_heads", a.nKvHeads}, {"head_dim", a.headDim}, {"max_ctx", a.maxCtx}});
      !why.empty())
    return why;
  if (a.headDim % 2 != 0) return "head_dim must be even";
  if (a.kStride % 2 != 0 || a.vStride % 2 != 0) return "k_stride and v_stride must be even";
  return "";
}

template <bool Q81>
std::string checkAttentionReduce(const args::AttnReduce<Fp>& a) {
  if (std::string why = positive({{"m", a.m}, {"n_heads", a.nHeads}, {"head_dim", a.headDim}, {"splits", a.splits}});
      !why.empty())
    return why;
  return Q81 ? checkQ81Heads(a.headDim) : "";
}

std::string checkFp8Gemm(const args::Fp8Gemm<Fp>& a) {
  if (std::string why = positive({{"m", a.m}, {"n", a.n}, {"k", a.k}}); !why.empty()) return why;
  if (a.k % 16 != 0 || a.n % 16 != 0) return "n and k must be multiples of 16";
  if (a.perRow != 0 && a.perRow != 1) return "per_row must be 0 or 1";
  return "";
}

std::string checkHgemm(const args::Hgemm<Fp>& a) {
  if (std::string why = positive({{"m", a.m}, {"n", a.n}, {"k", a.k}}); !why.empty()) return why;
  if (a.k % 8 != 0 || a.n % 8 != 0) return "n and k must be multiples of 8";
  return "";
}

/// An embedding table of type T: whole blocks per row.
template <QType T>
std::string checkEmbed(const args::Embed<Fp>& a) {
  if (std::string why = positive({{"m", a.m}, {"n", a.n}, {"vocab", a.vocab}}); !why.empty()) return why;
  const auto block = static_cast<int64_t>(quant::blockElems(T));
  return a.n % block != 0 ? fmt::format("n must be a multiple of {} for {} tables", block, quant::qtypeName(T)) : "";
}

/// Kernels over `count` elements.
template <template <class> class Args>
std::string checkCount(const Args<Fp>& a) {
  return positive({{"count", a.count}});
}

/// Kernels of (m rows, n columns).
template <template <class> class Args>
std::string checkRows(const Args<Fp>& a) {
  return positive({{"m", a.m}, {"n", a.n}});
}

std::string checkSample(const args::Sample<Fp>& a) {
  if (std::string why = positive({{"m", a.m}, {"n", a.n}}); !why.empty()) return why;
  if (a.n > kSampleMaxVocab) return fmt::format("n {} is above the sample kernel's {}", a.n, kSampleMaxVocab);
  return "";
}

std::string checkFp8QuantizeAct(const args::Fp8QuantizeAct<Fp>& a) {
  return positive({{"m", a.m}, {"k", a.k}});
}

// ---- launch dims (overloaded per signature; entry() picks by the signature) ------------------

/// Every DP4A GEMV signature (plain, gate+up, stacked) through its shared shape.
LaunchDims launchDims(const args::GemvShape& a) {
  return gemvDims(a.n, static_cast<int>(a.rowSets));
}
LaunchDims launchDims(const args::Mmq<Fp>& a) {
  return mmqDims(a.n, a.m);
}
LaunchDims launchDims(const args::MmaF16<Fp>& a) {
  return mmaF16Dims(a.n, a.m);
}
LaunchDims launchDims(const args::DequantF16<Fp>& a) {
  return dequantF16Dims(a.n, a.k);
}
LaunchDims launchDims(const args::QuantizeQ81<Fp>& a) {
  return quantizeQ81Dims(a.m, a.k);
}
LaunchDims launchDims(const args::RmsNorm<Fp>& a) {
  return normDims(a.m, a.n);
}
LaunchDims launchDims(const args::AddRmsNorm<Fp>& a) {
  return normDims(a.m, a.n);
}
LaunchDims launchDims(const args::Rope<Fp>& a) {
  return ropeDims(a.m, a.nHeads, a.nKvHeads, a.headDim);
}
LaunchDims launchDims(const args::Embed<Fp>& a) {
  return embedDims(a.m, a.n);
}
LaunchDims launchDims(const args::Add<Fp>& a) {
  return elementwiseDims(a.count);
}
LaunchDims launchDims(const args::Swiglu<Fp>& a) {
  return elementwiseDims(a.count);
}
LaunchDims launchDims(const args::Cast<Fp>& a) {
  return elementwiseDims(a.count);
}
LaunchDims launchDims(const args::SwigluQ81<Fp>& a) {
  return elementwiseDims(a.m * a.n);
}
LaunchDims launchDims(const args::BiasAdd<Fp>& a) {
  return elementwiseDims(a.m * a.n);
}
LaunchDims launchDims(const args::Argmax<Fp>& a) {
  return argmaxDims(a.m, a.n);
}
LaunchDims launchDims(const args::Sample<Fp>& a) {
  return sampleDims(a.m, a.n);
}
LaunchDims launchDims(const args::KvAppend<Fp>& a) {
  return kvAppendDims(a.m, a.nKvHeads, a.headDim);
}
/// The one-pass attention signatures (decode, prefill, decode with rope) through their shared
/// shape; the split ones below add their splits.
LaunchDims launchDims(const args::AttnShape& a) {
  return attentionDims(a.m, a.nHeads, a.nKvHeads, a.headDim, 1);
}
LaunchDims launchDims(const args::AttnPrefillFlash<Fp>& a) {
  return flashPrefillDims(a.m, a.nHeads);
}
LaunchDims launchDims(const args::AttnSplit<Fp>& a) {
  return attentionDims(a.m, a.nHeads, a.nKvHeads, a.headDim, a.splits);
}
LaunchDims launchDims(const args::AttnSplitRope<Fp>& a) {
  return attentionDims(a.m, a.nHeads, a.nKvHeads, a.headDim, a.splits);
}
LaunchDims launchDims(const args::AttnReduce<Fp>& a) {
  return attentionReduceDims(a.m, a.nHeads, a.headDim);
}
LaunchDims launchDims(const args::Fp8QuantizeAct<Fp>& /*a*/) {
  return make(1, 1, 1, 1024);  // one block
}
LaunchDims launchDims(const args::Fp8Gemm<Fp>& /*a*/) {
  return LaunchDims{};  // a library call
}
LaunchDims launchDims(const args::Hgemm<Fp>& /*a*/) {
  return LaunchDims{};  // a library call
}

// ---- footprints (each pointer's by name) -------------------------------------------------------

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

Fp read(int64_t bytes) {
  return {bytes, PtrUse::Read};
}
Fp write(int64_t bytes) {
  return {bytes, PtrUse::Write};
}
/// Step data the kernel trusts as indices: m int32 values of that step input.
Fp stepData(PtrUse use, int64_t m) {
  return {mul(m, 4), use};
}
/// A K or V cache: one slot of max_ctx positions of `rowElems` f16 values.
Fp kvCache(int64_t maxCtx, int64_t rowElems) {
  return {mul(maxCtx, rowElems, 2), PtrUse::KvCache, maxCtx};
}

/// The plain GEMV of weight type T: n rows.
template <QType T>
void gemvFootprint(args::Gemv<Fp>& a) {
  a.weights = read(mul(a.n, gemvRowBytes(T, a.k)));
  a.act = read(q81Bytes(a.m, a.k));
  a.out = write(f32Bytes(a.m, a.n));
}
/// Gate+up: two matrices of n rows, two outputs.
template <QType T>
void gateUpFootprint(args::GemvGateUp<Fp>& a) {
  a.wGate = a.wUp = read(mul(a.n, gemvRowBytes(T, a.k)));
  a.act = read(q81Bytes(a.m, a.k));
  a.outGate = a.outUp = write(f32Bytes(a.m, a.n));
}
/// A stack of S matrices, rows_i rows each, the last of type Last.
template <QType T, int S, QType Last = T>
void stackFootprint(typename args::GemvStacked<S>::template Of<Fp>& a) {
  for (size_t i = 0; i < a.w.size(); ++i) {
    a.w[i] = read(mul(a.rows[i], gemvRowBytes(i + 1 == a.w.size() ? Last : T, a.k)));
    a.out[i] = write(f32Bytes(a.m, a.rows[i]));
  }
  a.act = read(q81Bytes(a.m, a.k));
}

/// The mmq kernel of weight type T: n weight rows in the GEMV's layout, m activation rows.
template <QType T>
void mmqFootprint(args::Mmq<Fp>& a) {
  a.weights = read(mul(a.n, gemvRowBytes(T, a.k)));
  a.act = read(q81Bytes(a.m, a.k));
  a.out = write(f32Bytes(a.m, a.n));
}

/// The mma_f16 kernel: n Q4_K rows, m f16 activation rows.
void mmaF16Footprint(args::MmaF16<Fp>& a) {
  a.weights = read(mul(a.n, gemvRowBytes(QType::Q4_K, a.k)));
  a.act = read(mul(a.m, a.k, 2));
  a.out = write(f32Bytes(a.m, a.n));
}

/// The dequantization of weight type T: n weight rows in the GEMV's layout in, n f16 rows out.
template <QType T>
void dequantF16Footprint(args::DequantF16<Fp>& a) {
  a.weights = read(mul(a.n, gemvRowBytes(T, a.k)));
  a.out = write(mul(a.n, a.k, 2));
}

void quantizeFootprint(args::QuantizeQ81<Fp>& a) {
  a.x = read(f32Bytes(a.m, a.k));
  a.out = write(q81Bytes(a.m, a.k));
}
/// f32 [m][n] rows, or Q8_1 rows of n values.
int64_t rowBytes(bool q81, int64_t m, int64_t n) {
  return q81 ? q81Bytes(m, n) : f32Bytes(m, n);
}
template <bool Q81>
void rmsNormFootprint(args::RmsNorm<Fp>& a) {
  a.x = read(f32Bytes(a.m, a.n));
  a.weight = read(f32Bytes(1, a.n));
  a.out = write(rowBytes(Q81, a.m, a.n));
}
template <bool Q81>
void addRmsNormFootprint(args::AddRmsNorm<Fp>& a) {
  a.x = a.residual = read(f32Bytes(a.m, a.n));
  a.weight = read(f32Bytes(1, a.n));
  a.sumOut = write(f32Bytes(a.m, a.n));
  a.normOut = write(rowBytes(Q81, a.m, a.n));
}
/// q and k rotated in place (k absent with no KV heads).
void ropeFootprint(args::Rope<Fp>& a) {
  a.q = write(stridedBytes(a.m, a.qStride, mul(a.nHeads, a.headDim), 4));
  a.k = write(stridedBytes(a.m, a.kStride, mul(a.nKvHeads, a.headDim), 4));
  a.positions = read(mul(a.m, 4));
}
/// A GGUF table of vocab rows, the tokens (out-of-range ids give zeros), the rows.
template <QType T>
void embedFootprint(args::Embed<Fp>& a) {
  a.table = read(mul(a.vocab, ggufRowBytes(T, a.n)));
  a.tokens = read(mul(a.m, 4));
  a.out = write(f32Bytes(a.m, a.n));
}
void addFootprint(args::Add<Fp>& a) {
  a.lhs = a.rhs = read(f32Bytes(a.count, 1));
  a.out = write(f32Bytes(a.count, 1));
}
void swigluFootprint(args::Swiglu<Fp>& a) {
  a.gate = a.up = read(f32Bytes(a.count, 1));
  a.out = write(f32Bytes(a.count, 1));
}
void swigluQ81Footprint(args::SwigluQ81<Fp>& a) {
  a.gate = a.up = read(f32Bytes(a.m, a.n));
  a.out = write(q81Bytes(a.m, a.n));
}
void biasAddFootprint(args::BiasAdd<Fp>& a) {
  a.x = write(f32Bytes(a.m, a.n));
  a.bias = read(f32Bytes(1, a.n));
}
void castFootprint(args::Cast<Fp>& a) {
  a.input = read(f32Bytes(a.count, 1));
  a.out = write(mul(a.count, 2));
}
void argmaxFootprint(args::Argmax<Fp>& a) {
  a.x = read(f32Bytes(a.m, a.n));
  a.out = write(mul(a.m, 4));
}
/// The sample kernel reads the logits and each row's parameters, recent tokens and position, and
/// writes one token per row. It checks every recent token against n.
void sampleFootprint(args::Sample<Fp>& a) {
  a.logits = read(f32Bytes(a.m, a.n));
  a.sampling = read(mul(a.m, kSampleRowWords, 4));
  a.recent = read(mul(a.m, kSampleWindow, 4));
  a.positions = read(mul(a.m, 4));
  a.out = write(mul(a.m, 4));
}
/// The kernel skips positions outside [0, max_ctx), so any positions do; the slots index the
/// cache.
void kvAppendFootprint(args::KvAppend<Fp>& a) {
  const int64_t rowElems = mul(a.nKvHeads, a.headDim);
  a.kNew = read(stridedBytes(a.m, a.kStride, rowElems, 4));
  a.vNew = read(stridedBytes(a.m, a.vStride, rowElems, 4));
  a.kCache = a.vCache = kvCache(a.maxCtx, rowElems);
  a.slots = stepData(PtrUse::Slots, a.m);
  a.positions = read(mul(a.m, 4));
}

/// What every attention kernel reads: q, the caches and the slots.
template <template <class> class Args>
void attnInputs(Args<Fp>& a) {
  a.q = read(stridedBytes(a.m, a.qStride, mul(a.nHeads, a.headDim), 4));
  a.kCache = a.vCache = kvCache(a.maxCtx, mul(a.nKvHeads, a.headDim));
  a.slots = stepData(PtrUse::Slots, a.m);
}
/// The fused RoPE prologue's new rows (the kernel bounds their positions by max_ctx).
template <template <class> class Args>
void ropePrologue(Args<Fp>& a) {
  const int64_t kvRow = mul(a.nKvHeads, a.headDim);
  a.kNew = read(stridedBytes(a.m, a.kStride, kvRow, 4));
  a.vNew = read(stridedBytes(a.m, a.vStride, kvRow, 4));
  a.positions = read(mul(a.m, 4));
}
/// Flash-decoding's partial results: [m][n_heads][splits][head_dim] sums, [..][2] pairs.
template <template <class> class Args>
void splitPartials(Args<Fp>& a, PtrUse use) {
  a.partOut = {mul(a.m, a.nHeads, a.splits, mul(a.headDim, 4)), use};
  a.partMl = {mul(a.m, a.nHeads, a.splits, 8), use};
}
/// The attention rows: f32 [m][n_heads][head_dim], or Q8_1 rows of n_heads * head_dim values.
template <bool Q81, template <class> class Args>
Fp attnRows(const Args<Fp>& a) {
  return write(Q81 ? q81Bytes(a.m, mul(a.nHeads, a.headDim)) : mul(a.m, a.nHeads, a.headDim, 4));
}
/// Decode rows attend up to their KV lengths.
template <bool Q81>
void attnDecodeFootprint(args::AttnDecode<Fp>& a) {
  attnInputs(a);
  a.kvLens = stepData(PtrUse::KvLens, a.m);
  a.out = attnRows<Q81>(a);
}
/// Prefill rows attend up to their positions.
void attnPrefillFootprint(args::AttnPrefill<Fp>& a) {
  attnInputs(a);
  a.positions = stepData(PtrUse::Positions, a.m);
  a.out = attnRows<false>(a);
}
void attnPrefillFlashFootprint(args::AttnPrefillFlash<Fp>& a) {
  attnPrefillFootprint(a);
}
void attnSplitFootprint(args::AttnSplit<Fp>& a) {
  attnInputs(a);
  a.kvLens = stepData(PtrUse::KvLens, a.m);
  splitPartials(a, PtrUse::Write);
}
template <bool Q81>
void attnDecodeRopeFootprint(args::AttnDecodeRope<Fp>& a) {
  attnInputs(a);
  ropePrologue(a);
  a.kvLens = stepData(PtrUse::KvLens, a.m);
  a.out = attnRows<Q81>(a);
}
void attnSplitRopeFootprint(args::AttnSplitRope<Fp>& a) {
  attnInputs(a);
  ropePrologue(a);
  a.kvLens = stepData(PtrUse::KvLens, a.m);
  splitPartials(a, PtrUse::Write);
}
/// The partials of attn_decode_split, then the rows.
template <bool Q81>
void attnReduceFootprint(args::AttnReduce<Fp>& a) {
  splitPartials(a, PtrUse::Read);
  a.out = attnRows<Q81>(a);
}
void fp8QuantizeActFootprint(args::Fp8QuantizeAct<Fp>& a) {
  a.x = read(f32Bytes(a.m, a.k));
  a.out = write(mul(a.m, a.k));
  a.scale = write(4);
}
void fp8GemmFootprint(args::Fp8Gemm<Fp>& a) {
  a.w = read(mul(a.n, a.k));
  a.wScales = read(a.perRow != 0 ? mul(a.n, 4) : 4);
  a.act = read(mul(a.m, a.k));
  a.actScale = read(4);
  a.out = write(f32Bytes(a.m, a.n));
}
void hgemmFootprint(args::Hgemm<Fp>& a) {
  a.w = read(mul(a.n, a.k, 2));
  a.x = read(mul(a.m, a.k, 2));
  a.out = write(f32Bytes(a.m, a.n));
}

// ---- the signature-independent pieces of an entry ------------------------------------------

/// A signature's arguments from the int args alone (catalog order): pointers unset, floats 0.
/// The catalog's checks, dims and footprints read ints only.
template <template <class> class Args>
Args<Fp> fromInts(const int64_t* ints) {
  struct Reader {
    const int64_t* ints;
    void ptr(Fp& /*p*/, std::string_view /*doc*/) {}
    void integer(int64_t& i, std::string_view /*doc*/) { i = *ints++; }
    void real(float& f, std::string_view /*doc*/) { f = 0; }
  } reader{ints};
  Args<Fp> a;
  Args<Fp>::fields(a, reader);
  return a;
}

/// The pointer fields of `a` (their footprints) in catalog order.
template <template <class> class Args>
Footprint footprintOf(const Args<Fp>& a) {
  struct Collector {
    Footprint footprint{};
    size_t count = 0;
    void ptr(const Fp& p, std::string_view /*doc*/) { footprint[count++] = p; }
    void integer(int64_t /*i*/, std::string_view /*doc*/) {}
    void real(float /*f*/, std::string_view /*doc*/) {}
  } collector;
  Args<Fp>::fields(a, collector);
  return collector.footprint;
}

/// A catalog entry of signature Args: the arguments and their docs come from Args' fields;
/// Check (std::string(const Args<Fp>&)) says what it refuses, Fill (void(Args<Fp>&)) states
/// each pointer's footprint, and launchDims(const Args<Fp>&) (overloaded per signature) gives the
/// launch dims.
template <template <class> class Args, auto Check, auto Fill>
KernelInfo entry(std::string id, std::string_view family, std::string_view doc, KernelKind kind = KernelKind::Kernel) {
  ArgDocs docs = args::argDocs<Args>();
  KernelInfo k{std::move(id), family, kind, std::move(docs.ptrs), std::move(docs.ints), std::move(docs.floats), doc};
  k.dims = [](const int64_t* ints) { return launchDims(fromInts<Args>(ints)); };
  k.check = [](const int64_t* ints) { return Check(fromInts<Args>(ints)); };
  k.footprint = [](const int64_t* ints) {
    Args<Fp> a = fromInts<Args>(ints);
    Fill(a);
    return footprintOf<Args>(a);
  };
  k.signature = args::signatureTag<Args>();
  return k;
}

/// `k` writing its result rows (its last pointer, `out`) as quantize_q8_1 would:
/// id `<id>_q8_1`.
KernelInfo withQ81Output(KernelInfo k, std::string_view out) {
  k.id += "_q8_1";
  k.ptrArgs.back() = out;
  k.doc = "as the kernel without _q8_1, writing its rows as quantize_q8_1 would (bit-identical to the two kernels)";
  return k;
}

// ---- the entries ---------------------------------------------------------------------------------

/// The GEMV entries of weight type T (plain, gate+up, stacks of 2 and 3).
template <QType T>
void addGemvEntries(std::vector<KernelInfo>& c) {
  c.push_back(entry<args::Gemv, checkGemv<T, args::Gemv>, gemvFootprint<T>>(
      gemvKernelId(T), "gemv", "out[i][r] = dot(W[r], act[i]) with DP4A on Q8_1 activations"));
  c.push_back(entry<args::GemvGateUp, checkGemv<T, args::GemvGateUp>, gateUpFootprint<T>>(
      gemvGateUpKernelId(T), "gemv", "the gate and up GEMVs of one activation in one launch"));
  c.push_back(entry<args::GemvStack2, checkGemvStack<T, 2>, stackFootprint<T, 2>>(
      gemvStackedKernelId(T, 2), "gemv",
      "two GEMVs of one activation in one launch, the matrices (of one type) stacked along the rows"));
  c.push_back(entry<args::GemvStack3, checkGemvStack<T, 3>, stackFootprint<T, 3>>(
      gemvStackedKernelId(T, 3), "gemv",
      "three GEMVs of one activation (q, k, v) in one launch, the matrices (of one type) stacked along the rows"));
}

/// The mixed stacks whose last matrix is of type Last, the others of type T.
template <QType T, QType Last>
void addGemvMixedEntries(std::vector<KernelInfo>& c) {
  constexpr std::string_view kDoc = "a stacked GEMV whose last matrix has another type (Q4_K_M's q, k and v)";
  c.push_back(entry<args::GemvStack2, checkGemvStack<T, 2, Last>, stackFootprint<T, 2, Last>>(
      gemvMixedStackKernelId(T, Last, 2), "gemv", kDoc));
  c.push_back(entry<args::GemvStack3, checkGemvStack<T, 3, Last>, stackFootprint<T, 3, Last>>(
      gemvMixedStackKernelId(T, Last, 3), "gemv", kDoc));
}

std::vector<KernelInfo> buildCatalog() {
  std::vector<KernelInfo> c;
  GemvWeightTypes::forEach([&](auto t) { addGemvEntries<decltype(t)::value>(c); });
  forEachGemvMixedStack([&](auto t, auto last) { addGemvMixedEntries<decltype(t)::value, decltype(last)::value>(c); });
  forEachMmqWeightType([&](auto t) {
    constexpr QType kType = decltype(t)::value;
    c.push_back(entry<args::Mmq, checkMmq<kType>, mmqFootprint<kType>>(
        mmqKernelId(kType), "mmq",
        "out[i][r] = dot(W[r], act[i]) with int8 tensor-core mma on Q8_1 activations, any number of rows "
        "(bit-identical to quant::dotQ81Mma)"));
  });
  c.push_back(entry<args::MmaF16, checkMmaF16, mmaF16Footprint>(
      mmaF16KernelId(QType::Q4_K), "mma_f16",
      "out[i][r] = dot(W[r], act[i]) with f16 tensor-core mma, W dequantized in registers as "
      "quant::dequantizeRowMmaF16, any number of rows"));
  GemvWeightTypes::forEach([&](auto t) {
    constexpr QType kType = decltype(t)::value;
    c.push_back(entry<args::DequantF16, checkDequantF16<kType>, dequantF16Footprint<kType>>(
        dequantF16KernelId(kType), "dequant",
        "out = W dequantized to f16 (quant::dequantizeRow rounded to f16), the weight dequant-hgemm's HGEMM reads"));
  });
  c.push_back(entry<args::QuantizeQ81, checkQuantizeQ81, quantizeFootprint>(
      "quantize_q8_1", "quant", "activation quantizer of the DP4A GEMVs (bit-identical to quant::quantizeQ81)"));
  c.push_back(entry<args::RmsNorm, checkNorm<args::RmsNorm, false>, rmsNormFootprint<false>>(
      "rms_norm", "norm", "out = x / sqrt(mean(x^2) + eps) * weight"));
  c.push_back(entry<args::AddRmsNorm, checkNorm<args::AddRmsNorm, false>, addRmsNormFootprint<false>>(
      "add_rms_norm", "norm", "fused residual add + RMSNorm"));
  c.push_back(withQ81Output(
      entry<args::RmsNorm, checkNorm<args::RmsNorm, true>, rmsNormFootprint<true>>("rms_norm", "norm", ""),
      "out: Q8_1 row-planar [m] rows of q81RowBytes(n)"));
  c.push_back(withQ81Output(
      entry<args::AddRmsNorm, checkNorm<args::AddRmsNorm, true>, addRmsNormFootprint<true>>("add_rms_norm", "norm", ""),
      "norm_out: Q8_1 row-planar rows of rms_norm(sum_out)"));
  c.push_back(entry<args::Rope, checkRope, ropeFootprint>(
      "rope_norm", "rope", "rotary embedding of adjacent pairs (x[2i], x[2i+1]) (GGML NORM style)"));
  c.push_back(entry<args::Rope, checkRope, ropeFootprint>(
      "rope_neox", "rope", "rotary embedding of halves (x[i], x[i + head_dim/2]) (GPT-NeoX style)"));
  EmbedTableTypes::forEach([&](auto t) {
    constexpr QType kType = decltype(t)::value;
    c.push_back(entry<args::Embed, checkEmbed<kType>, embedFootprint<kType>>(embedKernelId(kType), "embed",
                                                                             "embedding lookup with dequantization"));
  });
  c.push_back(entry<args::Add, checkCount<args::Add>, addFootprint>("add", "elementwise", "residual add"));
  c.push_back(entry<args::Swiglu, checkCount<args::Swiglu>, swigluFootprint>("swiglu", "elementwise", "SwiGLU"));
  c.push_back(entry<args::SwigluQ81, checkSwigluQ81, swigluQ81Footprint>(
      "swiglu_q8_1", "elementwise",
      "SwiGLU writing its rows as quantize_q8_1 would (bit-identical to the two kernels)"));
  c.push_back(entry<args::BiasAdd, checkRows<args::BiasAdd>, biasAddFootprint>("bias_add", "elementwise",
                                                                               "x[i][j] += bias[j]"));
  c.push_back(entry<args::Cast, checkCount<args::Cast>, castFootprint>(
      "cast_f32_f16", "elementwise", "f32 -> f16 (round to nearest even), e.g. HGEMM activations"));
  c.push_back(entry<args::Argmax, checkRows<args::Argmax>, argmaxFootprint>(
      "argmax", "sample", "index of each row's maximum (the lowest index on ties; NaN never wins)"));
  c.push_back(entry<args::KvAppend, checkKvAppend, kvAppendFootprint>(
      "kv_append", "attention", "writes each row's K and V (as f16) at its slot and position"));
  c.push_back(entry<args::AttnDecode, checkAttention<args::AttnDecode>, attnDecodeFootprint<false>>(
      "attn_decode", "attention",
      "batched decode attention: row i attends to positions [max(0, len-window), len) of its slot"));
  c.push_back(entry<args::AttnSplit, checkAttention<args::AttnSplit>, attnSplitFootprint>(
      "attn_decode_split", "attention", "flash-decoding, phase 1: each split of the KV range on its own block"));
  c.push_back(entry<args::AttnDecodeRope, checkAttention<args::AttnDecodeRope>, attnDecodeRopeFootprint<false>>(
      "attn_decode_rope", "attention",
      "attn_decode that first rotates q, and rotates k and appends k, v at the row's position (RoPE + kv_append + "
      "attention in one launch)"));
  c.push_back(entry<args::AttnSplitRope, checkAttention<args::AttnSplitRope>, attnSplitRopeFootprint>(
      "attn_decode_split_rope", "attention",
      "attn_decode_split with the RoPE + append prologue (the split holding the new position appends)"));
  c.push_back(entry<args::AttnReduce, checkAttentionReduce<false>, attnReduceFootprint<false>>(
      "attn_decode_reduce", "attention", "flash-decoding, phase 2: log-sum-exp merge of the splits"));
  // The decode kernels that write the final attention rows have a Q8_1 form (fold-quantize).
  constexpr std::string_view kQ81Rows = "out: Q8_1 row-planar [m] rows of q81RowBytes(n_heads*head_dim)";
  c.push_back(withQ81Output(entry<args::AttnDecode, checkAttention<args::AttnDecode, true>, attnDecodeFootprint<true>>(
                                "attn_decode", "attention", ""),
                            kQ81Rows));
  c.push_back(withQ81Output(
      entry<args::AttnDecodeRope, checkAttention<args::AttnDecodeRope, true>, attnDecodeRopeFootprint<true>>(
          "attn_decode_rope", "attention", ""),
      kQ81Rows));
  c.push_back(withQ81Output(entry<args::AttnReduce, checkAttentionReduce<true>, attnReduceFootprint<true>>(
                                "attn_decode_reduce", "attention", ""),
                            kQ81Rows));
  c.push_back(entry<args::AttnPrefill, checkAttention<args::AttnPrefill>, attnPrefillFootprint>(
      "attn_prefill", "attention", "prefill attention with a causal mask (positions give the mask)"));
  c.push_back(entry<args::AttnPrefillFlash, checkFlashPrefill, attnPrefillFlashFootprint>(
      "attn_prefill_flash", "attention",
      "attn_prefill on tensor cores: 64 query rows of one head per block, K and V tiles in shared memory, online "
      "softmax (q and the probabilities rounded to f16); any rows, head_dim 32, 64 or 128"));
  c.push_back(entry<args::Fp8QuantizeAct, checkFp8QuantizeAct, fp8QuantizeActFootprint>(
      "fp8_quantize_act", "fp8", "activation quantizer to E4M3 with one dynamic per-tensor scale (one block)"));
  c.push_back(entry<args::Fp8Gemm, checkFp8Gemm, fp8GemmFootprint>(
      "fp8_gemm_cublaslt", "fp8", "out = (act * act_scale) (W * w_scales)^T through cuBLASLt FP8 (needs a BlasContext)",
      KernelKind::Library));
  c.push_back(entry<args::Hgemm, checkHgemm, hgemmFootprint>(
      "hgemm_cublas", "hgemm",
      "out = x W^T by cublasGemmEx, f16 inputs, f32 accumulate and output (needs a BlasContext)", KernelKind::Library));
  c.push_back(entry<args::Sample, checkSample, sampleFootprint>(
      "sample", "sample",
      "each row's next token: penalties over its recent tokens, then the argmax where its temperature is <= 0, "
      "else top-k (at most 1024), top-p, min-p, temperature and a draw seeded by (seed, position)"));
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
std::string gemvLaunchKernelId(QType type, QType lastType, int matrices, bool gateUp) {
  if (gateUp) return gemvGateUpKernelId(type);
  if (matrices == 1) return gemvKernelId(type);
  return lastType != type ? gemvMixedStackKernelId(type, lastType, matrices) : gemvStackedKernelId(type, matrices);
}
std::string mmqKernelId(QType t) {
  return fmt::format("mmq_{}", quant::qtypeName(t));
}
std::string mmaF16KernelId(QType t) {
  return fmt::format("mma_f16_{}", quant::qtypeName(t));
}
std::string dequantF16KernelId(QType t) {
  return fmt::format("dequant_f16_{}", quant::qtypeName(t));
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

int intArgIndex(const KernelInfo& k, std::string_view name) {
  for (size_t i = 0; i < k.intArgs.size(); ++i)
    if (argName(k.intArgs[i]) == name) return static_cast<int>(i);
  return -1;
}

LaunchDims kernelDims(std::string_view id, const int64_t* ints) {
  const KernelInfo* k = findKernel(id);
  return k == nullptr ? LaunchDims{} : k->dims(ints);
}

LaunchDims gemvDims(int64_t n, int rowSets) {
  const int64_t rows = kGemvRowsPerWarp * std::max(rowSets, 1);
  return make(ceilDiv(n, rows), 1, 1, 32 * quant::kGemvKSplit);
}
LaunchDims mmqDims(int64_t n, int64_t m) {
  const MmqGrid grid = mmqGrid(n, m);
  return make(grid.x, grid.y, 1, kMmqThreads);
}
LaunchDims mmaF16Dims(int64_t n, int64_t m) {
  const MmaF16Grid grid = mmaF16Grid(n, m);
  return make(grid.x, grid.y, grid.z, kMmaF16Threads, mmaF16SmemBytes(mmaF16TileTokens(m)));
}
LaunchDims dequantF16Dims(int64_t n, int64_t k) {
  return make(dequantF16Blocks(n, k), 1, 1, kDequantThreads);
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
LaunchDims flashPrefillDims(int64_t m, int64_t nHeads) {
  return make(flashPrefillRowBlocks(m), nHeads, 1, 32 * kFlashPrefillWarps);
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
