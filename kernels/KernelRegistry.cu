// Catalog id -> launcher (KernelArgs in catalog order -> typed launch APIs).
#include "kernels/Attention.h"
#include "kernels/Blas.h"
#include "kernels/Elementwise.h"
#include "kernels/Gemv.h"
#include "kernels/KernelRegistry.h"
#include "kernels/Norm.h"
#include "kernels/Rope.h"
#include "kernels/Sample.h"

#include <string>
#include <utility>
#include <vector>

namespace reel::kernels {
namespace {

using quant::QType;
using LaunchFn = cudaError_t (*)(const KernelArgs&, cudaStream_t);

template <typename T>
T* ptrArg(const KernelArgs& a, int i) {
  return static_cast<T*>(a.ptrs[static_cast<size_t>(i)]);
}
int32_t* intPtr(const KernelArgs& a, int i) {
  return ptrArg<int32_t>(a, i);
}
float* floatPtr(const KernelArgs& a, int i) {
  return ptrArg<float>(a, i);
}

template <QType T, GemvEpilogue E>
cudaError_t gemv(const KernelArgs& a, cudaStream_t s) {
  GemvArgs g;
  g.type = T;
  g.epilogue = E;
  const int actIndex = E == GemvEpilogue::Plain ? 1 : 2;
  g.weights[0] = a.ptrs[0];
  g.weights[1] = E == GemvEpilogue::Plain ? nullptr : a.ptrs[1];
  g.act = a.ptrs[static_cast<size_t>(actIndex)];
  g.out[0] = floatPtr(a, actIndex + 1);
  g.out[1] = E == GemvEpilogue::GateUp ? floatPtr(a, 4) : nullptr;
  g.n = a.ints[0];
  g.k = a.ints[1];
  g.m = static_cast<int>(a.ints[2]);
  g.rowSets = static_cast<int>(a.ints[3]);
  return launchGemvDp4a(g, s);
}

/// Stacked GEMV of `S` matrices, the last of type L, the others T: ptrs w_0..w_{S-1}, act,
/// out_0..out_{S-1}; ints n, k, m, row_sets, rows_0..rows_{S-1}.
template <QType T, int S, QType L = T>
cudaError_t gemvStacked(const KernelArgs& a, cudaStream_t s) {
  GemvArgs g;
  g.type = T;
  if (L != T) g.lastType = L;
  for (int i = 0; i < S; ++i) {
    g.weights[i] = a.ptrs[static_cast<size_t>(i)];
    g.out[i] = floatPtr(a, S + 1 + i);
    g.stackRows[i] = a.ints[static_cast<size_t>(4 + i)];
  }
  g.act = a.ptrs[static_cast<size_t>(S)];
  g.n = a.ints[0];
  g.k = a.ints[1];
  g.m = static_cast<int>(a.ints[2]);
  g.rowSets = static_cast<int>(a.ints[3]);
  return launchGemvDp4a(g, s);
}

template <QType T>
cudaError_t embed(const KernelArgs& a, cudaStream_t s) {
  return launchEmbed({T, a.ptrs[0], intPtr(a, 1), floatPtr(a, 2), a.ints[0], a.ints[1], a.ints[2]}, s);
}

cudaError_t quantizeQ81(const KernelArgs& a, cudaStream_t s) {
  return launchQuantizeQ81(floatPtr(a, 0), a.ptrs[1], a.ints[0], a.ints[1], s);
}

cudaError_t rmsNorm(const KernelArgs& a, cudaStream_t s) {
  return launchRmsNorm(
      {floatPtr(a, 0), nullptr, floatPtr(a, 1), nullptr, floatPtr(a, 2), a.ints[0], a.ints[1], a.floats[0]}, s);
}

cudaError_t addRmsNorm(const KernelArgs& a, cudaStream_t s) {
  return launchRmsNorm({floatPtr(a, 0), floatPtr(a, 1), floatPtr(a, 2), floatPtr(a, 3), floatPtr(a, 4), a.ints[0],
                        a.ints[1], a.floats[0]},
                       s);
}

cudaError_t rmsNormQ81(const KernelArgs& a, cudaStream_t s) {
  return launchRmsNorm(
      {floatPtr(a, 0), nullptr, floatPtr(a, 1), nullptr, nullptr, a.ints[0], a.ints[1], a.floats[0], a.ptrs[2]}, s);
}

cudaError_t addRmsNormQ81(const KernelArgs& a, cudaStream_t s) {
  return launchRmsNorm({floatPtr(a, 0), floatPtr(a, 1), floatPtr(a, 2), floatPtr(a, 3), nullptr, a.ints[0], a.ints[1],
                        a.floats[0], a.ptrs[4]},
                       s);
}

template <RopeStyle Style>
cudaError_t rope(const KernelArgs& a, cudaStream_t s) {
  RopeArgs r;
  r.q = floatPtr(a, 0);
  r.k = floatPtr(a, 1);
  r.positions = intPtr(a, 2);
  r.m = a.ints[0];
  r.nHeads = a.ints[1];
  r.nKvHeads = a.ints[2];
  r.headDim = a.ints[3];
  r.qStride = a.ints[4];
  r.kStride = a.ints[5];
  r.style = Style;
  r.scaling = {a.floats[0], a.floats[1], a.floats[2], a.floats[3], a.floats[4]};
  return launchRope(r, s);
}

cudaError_t add(const KernelArgs& a, cudaStream_t s) {
  return launchAdd(floatPtr(a, 0), floatPtr(a, 1), floatPtr(a, 2), a.ints[0], s);
}
cudaError_t swiglu(const KernelArgs& a, cudaStream_t s) {
  return launchSwiglu(floatPtr(a, 0), floatPtr(a, 1), floatPtr(a, 2), a.ints[0], s);
}
cudaError_t swigluQ81(const KernelArgs& a, cudaStream_t s) {
  return launchSwigluQ81(floatPtr(a, 0), floatPtr(a, 1), a.ptrs[2], a.ints[0], a.ints[1], s);
}
cudaError_t biasAdd(const KernelArgs& a, cudaStream_t s) {
  return launchBiasAdd(floatPtr(a, 0), floatPtr(a, 1), a.ints[0], a.ints[1], s);
}
cudaError_t castF16(const KernelArgs& a, cudaStream_t s) {
  return launchCastF32ToF16(floatPtr(a, 0), a.ptrs[1], a.ints[0], s);
}
cudaError_t sample(const KernelArgs& a, cudaStream_t s) {
  SampleArgs g;
  g.logits = floatPtr(a, 0);
  g.sampling = a.ptrs[1];
  g.recent = intPtr(a, 2);
  g.positions = intPtr(a, 3);
  g.out = intPtr(a, 4);
  g.m = a.ints[0];
  g.n = a.ints[1];
  return launchSample(g, s);
}

cudaError_t argmax(const KernelArgs& a, cudaStream_t s) {
  return launchArgmax(floatPtr(a, 0), intPtr(a, 1), a.ints[0], a.ints[1], s);
}

cudaError_t kvAppend(const KernelArgs& a, cudaStream_t s) {
  KvAppendArgs k;
  k.k = floatPtr(a, 0);
  k.v = floatPtr(a, 1);
  k.kCache = a.ptrs[2];
  k.vCache = a.ptrs[3];
  k.slots = intPtr(a, 4);
  k.positions = intPtr(a, 5);
  k.m = a.ints[0];
  k.nKvHeads = a.ints[1];
  k.headDim = a.ints[2];
  k.maxCtx = a.ints[3];
  k.kStride = a.ints[4];
  k.vStride = a.ints[5];
  return launchKvAppend(k, s);
}

/// The ints every attention kernel starts with (m, n_heads, n_kv_heads, head_dim, max_ctx,
/// window, q_stride) and its score scale (floats[0]).
AttentionArgs attentionShape(const KernelArgs& a, AttentionMode mode) {
  AttentionArgs t;
  t.mode = mode;
  t.m = a.ints[0];
  t.nHeads = a.ints[1];
  t.nKvHeads = a.ints[2];
  t.headDim = a.ints[3];
  t.maxCtx = a.ints[4];
  t.window = a.ints[5];
  t.qStride = a.ints[6];
  t.scale = a.floats[0];
  return t;
}

/// attn_decode, attn_decode_split, attn_prefill: q, the caches and the slots first.
AttentionArgs attentionCommon(const KernelArgs& a, AttentionMode mode) {
  AttentionArgs t = attentionShape(a, mode);
  t.q = floatPtr(a, 0);
  t.kCache = a.ptrs[1];
  t.vCache = a.ptrs[2];
  t.slots = intPtr(a, 3);
  return t;
}

cudaError_t attnDecode(const KernelArgs& a, cudaStream_t s) {
  AttentionArgs t = attentionCommon(a, AttentionMode::Decode);
  t.kvLens = intPtr(a, 4);
  t.out = floatPtr(a, 5);
  return launchAttention(t, s);
}

cudaError_t attnDecodeQ81(const KernelArgs& a, cudaStream_t s) {
  AttentionArgs t = attentionCommon(a, AttentionMode::Decode);
  t.kvLens = intPtr(a, 4);
  t.outQ81 = a.ptrs[5];
  return launchAttention(t, s);
}

cudaError_t attnSplit(const KernelArgs& a, cudaStream_t s) {
  AttentionArgs t = attentionCommon(a, AttentionMode::Split);
  t.kvLens = intPtr(a, 4);
  t.partOut = floatPtr(a, 5);
  t.partMl = floatPtr(a, 6);
  t.splits = a.ints[7];
  return launchAttention(t, s);
}

/// attn_decode_rope / attn_decode_split_rope: q, k, v, caches, slots, kv_lens, positions, then
/// the outputs; ints as attn_decode's (and splits), then k_stride, v_stride, style.
AttentionArgs attentionRope(const KernelArgs& a, AttentionMode mode) {
  const bool split = mode == AttentionMode::Split;
  AttentionArgs t = attentionShape(a, mode);
  t.q = floatPtr(a, 0);
  t.newK = floatPtr(a, 1);
  t.newV = floatPtr(a, 2);
  t.kCache = a.ptrs[3];
  t.vCache = a.ptrs[4];
  t.slots = intPtr(a, 5);
  t.kvLens = intPtr(a, 6);
  t.positions = intPtr(a, 7);
  const int tail = split ? 8 : 7;
  if (split) t.splits = a.ints[7];
  t.kStride = a.ints[static_cast<size_t>(tail)];
  t.vStride = a.ints[static_cast<size_t>(tail) + 1];
  t.ropeStyle = a.ints[static_cast<size_t>(tail) + 2] == 1 ? RopeStyle::Neox : RopeStyle::Norm;
  t.rope = {a.floats[1], a.floats[2], a.floats[3], a.floats[4], a.floats[5]};
  if (split) {
    t.partOut = floatPtr(a, 8);
    t.partMl = floatPtr(a, 9);
  } else {
    t.out = floatPtr(a, 8);
  }
  return t;
}

cudaError_t attnDecodeRope(const KernelArgs& a, cudaStream_t s) {
  return launchAttention(attentionRope(a, AttentionMode::Decode), s);
}

cudaError_t attnDecodeRopeQ81(const KernelArgs& a, cudaStream_t s) {
  AttentionArgs t = attentionRope(a, AttentionMode::Decode);
  t.outQ81 = t.out;
  t.out = nullptr;
  return launchAttention(t, s);
}

cudaError_t attnSplitRope(const KernelArgs& a, cudaStream_t s) {
  return launchAttention(attentionRope(a, AttentionMode::Split), s);
}

cudaError_t attnReduce(const KernelArgs& a, cudaStream_t s) {
  return launchAttentionReduce(
      {floatPtr(a, 0), floatPtr(a, 1), floatPtr(a, 2), a.ints[0], a.ints[1], a.ints[2], a.ints[3]}, s);
}

cudaError_t attnReduceQ81(const KernelArgs& a, cudaStream_t s) {
  AttentionReduceArgs r{floatPtr(a, 0), floatPtr(a, 1), nullptr, a.ints[0], a.ints[1], a.ints[2], a.ints[3]};
  r.outQ81 = a.ptrs[2];
  return launchAttentionReduce(r, s);
}

cudaError_t attnPrefill(const KernelArgs& a, cudaStream_t s) {
  AttentionArgs t = attentionCommon(a, AttentionMode::Prefill);
  t.positions = intPtr(a, 4);
  t.out = floatPtr(a, 5);
  return launchAttention(t, s);
}

template <bool kF16>
cudaError_t fp8Convert(const KernelArgs& a, cudaStream_t s) {
  return launchFp8ConvertWeights(
      {a.ptrs[0], kF16, ptrArg<uint8_t>(a, 1), floatPtr(a, 2), a.ints[0], a.ints[1], a.ints[2] != 0}, s);
}

cudaError_t fp8QuantizeAct(const KernelArgs& a, cudaStream_t s) {
  return launchFp8QuantizeAct(floatPtr(a, 0), ptrArg<uint8_t>(a, 1), floatPtr(a, 2), a.ints[0], a.ints[1], s);
}

cudaError_t fp8GemmLib(const KernelArgs& a, cudaStream_t s) {
  auto* ctx = static_cast<BlasContext*>(a.library);
  if (ctx == nullptr) return cudaErrorInvalidValue;
  return fp8Gemm(*ctx,
                 {ptrArg<uint8_t>(a, 0), floatPtr(a, 1), ptrArg<uint8_t>(a, 2), floatPtr(a, 3), floatPtr(a, 4),
                  a.ints[0], a.ints[1], a.ints[2], a.ints[3] != 0},
                 s);
}

cudaError_t hgemmLib(const KernelArgs& a, cudaStream_t s) {
  auto* ctx = static_cast<BlasContext*>(a.library);
  if (ctx == nullptr) return cudaErrorInvalidValue;
  return hgemm(*ctx, {a.ptrs[0], a.ptrs[1], floatPtr(a, 2), a.ints[0], a.ints[1], a.ints[2]}, s);
}

std::vector<std::pair<std::string, LaunchFn>> buildTable() {
  std::vector<std::pair<std::string, LaunchFn>> t = {
      {gemvKernelId(QType::Q4_K), gemv<QType::Q4_K, GemvEpilogue::Plain>},
      {gemvKernelId(QType::Q6_K), gemv<QType::Q6_K, GemvEpilogue::Plain>},
      {gemvKernelId(QType::Q8_0), gemv<QType::Q8_0, GemvEpilogue::Plain>},
      {gemvKernelId(QType::Q5_0), gemv<QType::Q5_0, GemvEpilogue::Plain>},
      {gemvKernelId(QType::Q4_0), gemv<QType::Q4_0, GemvEpilogue::Plain>},
      {gemvKernelId(QType::Q5_K), gemv<QType::Q5_K, GemvEpilogue::Plain>},
      {gemvGateUpKernelId(QType::Q4_K), gemv<QType::Q4_K, GemvEpilogue::GateUp>},
      {gemvGateUpKernelId(QType::Q6_K), gemv<QType::Q6_K, GemvEpilogue::GateUp>},
      {gemvGateUpKernelId(QType::Q8_0), gemv<QType::Q8_0, GemvEpilogue::GateUp>},
      {gemvGateUpKernelId(QType::Q5_0), gemv<QType::Q5_0, GemvEpilogue::GateUp>},
      {gemvGateUpKernelId(QType::Q4_0), gemv<QType::Q4_0, GemvEpilogue::GateUp>},
      {gemvGateUpKernelId(QType::Q5_K), gemv<QType::Q5_K, GemvEpilogue::GateUp>},
      {gemvSwigluKernelId(QType::Q4_K), gemv<QType::Q4_K, GemvEpilogue::SwiGlu>},
      {gemvSwigluKernelId(QType::Q6_K), gemv<QType::Q6_K, GemvEpilogue::SwiGlu>},
      {gemvSwigluKernelId(QType::Q8_0), gemv<QType::Q8_0, GemvEpilogue::SwiGlu>},
      {gemvSwigluKernelId(QType::Q5_0), gemv<QType::Q5_0, GemvEpilogue::SwiGlu>},
      {gemvSwigluKernelId(QType::Q4_0), gemv<QType::Q4_0, GemvEpilogue::SwiGlu>},
      {gemvSwigluKernelId(QType::Q5_K), gemv<QType::Q5_K, GemvEpilogue::SwiGlu>},
      {gemvStackedKernelId(QType::Q4_K, 2), gemvStacked<QType::Q4_K, 2>},
      {gemvStackedKernelId(QType::Q6_K, 2), gemvStacked<QType::Q6_K, 2>},
      {gemvStackedKernelId(QType::Q8_0, 2), gemvStacked<QType::Q8_0, 2>},
      {gemvStackedKernelId(QType::Q5_0, 2), gemvStacked<QType::Q5_0, 2>},
      {gemvStackedKernelId(QType::Q4_0, 2), gemvStacked<QType::Q4_0, 2>},
      {gemvStackedKernelId(QType::Q5_K, 2), gemvStacked<QType::Q5_K, 2>},
      {gemvStackedKernelId(QType::Q4_K, 3), gemvStacked<QType::Q4_K, 3>},
      {gemvStackedKernelId(QType::Q6_K, 3), gemvStacked<QType::Q6_K, 3>},
      {gemvStackedKernelId(QType::Q8_0, 3), gemvStacked<QType::Q8_0, 3>},
      {gemvStackedKernelId(QType::Q5_0, 3), gemvStacked<QType::Q5_0, 3>},
      {gemvStackedKernelId(QType::Q4_0, 3), gemvStacked<QType::Q4_0, 3>},
      {gemvStackedKernelId(QType::Q5_K, 3), gemvStacked<QType::Q5_K, 3>},
      {gemvMixedStackKernelId(QType::Q4_K, QType::Q6_K, 2), gemvStacked<QType::Q4_K, 2, QType::Q6_K>},
      {gemvMixedStackKernelId(QType::Q4_K, QType::Q6_K, 3), gemvStacked<QType::Q4_K, 3, QType::Q6_K>},
      {"quantize_q8_1", quantizeQ81},
      {"rms_norm", rmsNorm},
      {"add_rms_norm", addRmsNorm},
      {"rms_norm_q8_1", rmsNormQ81},
      {"add_rms_norm_q8_1", addRmsNormQ81},
      {"rope_norm", rope<RopeStyle::Norm>},
      {"rope_neox", rope<RopeStyle::Neox>},
      {embedKernelId(QType::F32), embed<QType::F32>},
      {embedKernelId(QType::F16), embed<QType::F16>},
      {embedKernelId(QType::BF16), embed<QType::BF16>},
      {embedKernelId(QType::Q8_0), embed<QType::Q8_0>},
      {embedKernelId(QType::Q5_0), embed<QType::Q5_0>},
      {embedKernelId(QType::Q4_K), embed<QType::Q4_K>},
      {embedKernelId(QType::Q6_K), embed<QType::Q6_K>},
      {embedKernelId(QType::Q4_0), embed<QType::Q4_0>},
      {embedKernelId(QType::Q5_K), embed<QType::Q5_K>},
      {"add", add},
      {"swiglu", swiglu},
      {"swiglu_q8_1", swigluQ81},
      {"bias_add", biasAdd},
      {"cast_f32_f16", castF16},
      {"argmax", argmax},
      {"sample", sample},
      {"kv_append", kvAppend},
      {"attn_decode", attnDecode},
      {"attn_decode_split", attnSplit},
      {"attn_decode_rope", attnDecodeRope},
      {"attn_decode_split_rope", attnSplitRope},
      {"attn_decode_reduce", attnReduce},
      {"attn_decode_q8_1", attnDecodeQ81},
      {"attn_decode_rope_q8_1", attnDecodeRopeQ81},
      {"attn_decode_reduce_q8_1", attnReduceQ81},
      {"attn_prefill", attnPrefill},
      {"fp8_convert_f32", fp8Convert<false>},
      {"fp8_convert_f16", fp8Convert<true>},
      {"fp8_quantize_act", fp8QuantizeAct},
      {"fp8_gemm_cublaslt", fp8GemmLib},
      {"hgemm_cublas", hgemmLib},
  };
  return t;
}

const std::vector<std::pair<std::string, LaunchFn>>& table() {
  static const auto t = buildTable();
  return t;
}

}  // namespace

cudaError_t Launcher::operator()(const LaunchDims& dims, const KernelArgs& args, cudaStream_t stream) const {
  if (fn == nullptr || info == nullptr) return cudaErrorInvalidSymbol;
  if (info->kind == KernelKind::Kernel && dims != info->dims(args.ints.data())) return cudaErrorInvalidConfiguration;
  return fn(args, stream);
}

Launcher findLauncher(std::string_view id) {
  for (const auto& [name, fn] : table()) {
    if (name == id) return Launcher{findKernel(id), fn};
  }
  return Launcher{};
}

cudaError_t launchKernel(std::string_view id, const LaunchDims& dims, const KernelArgs& args, cudaStream_t stream) {
  const Launcher launcher = findLauncher(id);
  if (!launcher || launcher.info == nullptr) return cudaErrorInvalidSymbol;
  if (!launcher.info->check(args.ints.data()).empty()) return cudaErrorInvalidValue;
  return launcher(dims, args, stream);
}

}  // namespace reel::kernels
