// Catalog id -> launcher: each launcher takes its kernel's typed signature (kernels/KernelArgs.h)
// and is bound to the ids of the catalog entries of that signature.
#include "kernels/Attention.h"
#include "kernels/Blas.h"
#include "kernels/Dequant.h"
#include "kernels/Elementwise.h"
#include "kernels/Gemv.h"
#include "kernels/KernelRegistry.h"
#include "kernels/MmaF16.h"
#include "kernels/Mmq.h"
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

float* f32(void* p) {
  return static_cast<float*>(p);
}
int32_t* i32(void* p) {
  return static_cast<int32_t*>(p);
}
uint8_t* u8(void* p) {
  return static_cast<uint8_t*>(p);
}
RopeScaling scalingOf(const args::RopeFloats& r) {
  return {r.freqBase, r.llama3Factor, r.lowFreqFactor, r.highFreqFactor, r.originalMaxPositions};
}

/// A launcher of signature Args: Fn (cudaError_t(const Args<void*>&, cudaStream_t)) on the
/// arguments unpacked by name.
template <template <class> class Args, auto Fn>
cudaError_t typed(const KernelArgs& k, cudaStream_t s) {
  return Fn(args::unpack<Args, void*>(k.ptrs.data(), k.ints.data(), k.floats.data()), s);
}
/// A library launcher: Fn (cudaError_t(BlasContext&, const Args<void*>&, cudaStream_t)) with
/// the launch's BlasContext (cudaErrorInvalidValue without one).
template <template <class> class Args, auto Fn>
cudaError_t typedLibrary(const KernelArgs& k, cudaStream_t s) {
  auto* ctx = static_cast<BlasContext*>(k.library);
  if (ctx == nullptr) return cudaErrorInvalidValue;
  return Fn(*ctx, args::unpack<Args, void*>(k.ptrs.data(), k.ints.data(), k.floats.data()), s);
}

/// One registry row: an id, its launcher and the signature the launcher reads.
struct Binding {
  std::string id;
  LaunchFn fn = nullptr;
  const void* signature = nullptr;
};
template <template <class> class Args, auto Fn>
Binding bind(std::string id) {
  return {std::move(id), typed<Args, Fn>, args::signatureTag<Args>()};
}
template <template <class> class Args, auto Fn>
Binding bindLibrary(std::string id) {
  return {std::move(id), typedLibrary<Args, Fn>, args::signatureTag<Args>()};
}

// ---- GEMV ------------------------------------------------------------------------------------

/// The GemvArgs of type T from a signature's shape ints.
template <QType T>
GemvArgs gemvOf(const args::GemvShape& a) {
  GemvArgs g;
  g.type = T;
  g.n = a.n;
  g.k = a.k;
  g.m = static_cast<int>(a.m);
  g.rowSets = static_cast<int>(a.rowSets);
  return g;
}

template <QType T>
cudaError_t gemv(const args::Gemv<void*>& a, cudaStream_t s) {
  GemvArgs g = gemvOf<T>(a);
  g.weights[0] = a.weights;
  g.act = a.act;
  g.out[0] = f32(a.out);
  return launchGemvDp4a(g, s);
}

template <QType T>
cudaError_t gemvGateUp(const args::GemvGateUp<void*>& a, cudaStream_t s) {
  GemvArgs g = gemvOf<T>(a);
  g.epilogue = GemvEpilogue::GateUp;
  g.weights[0] = a.wGate;
  g.weights[1] = a.wUp;
  g.act = a.act;
  g.out[0] = f32(a.outGate);
  g.out[1] = f32(a.outUp);
  return launchGemvDp4a(g, s);
}

/// A stack of S matrices, the last of type Last, the others T.
template <QType T, int S, QType Last = T>
cudaError_t gemvStacked(const typename args::GemvStacked<S>::template Of<void*>& a, cudaStream_t s) {
  GemvArgs g = gemvOf<T>(a);
  if (Last != T) g.lastType = Last;
  for (int i = 0; i < S; ++i) {
    const auto at = static_cast<size_t>(i);
    g.weights[i] = a.w[at];
    g.out[i] = f32(a.out[at]);
    g.stackRows[i] = a.rows[at];
  }
  g.act = a.act;
  return launchGemvDp4a(g, s);
}

template <QType T>
void bindGemv(std::vector<Binding>& t) {
  t.push_back(bind<args::Gemv, gemv<T>>(gemvKernelId(T)));
  t.push_back(bind<args::GemvGateUp, gemvGateUp<T>>(gemvGateUpKernelId(T)));
  t.push_back(bind<args::GemvStack2, gemvStacked<T, 2>>(gemvStackedKernelId(T, 2)));
  t.push_back(bind<args::GemvStack3, gemvStacked<T, 3>>(gemvStackedKernelId(T, 3)));
}

template <QType T, QType Last>
void bindGemvMixed(std::vector<Binding>& t) {
  t.push_back(bind<args::GemvStack2, gemvStacked<T, 2, Last>>(gemvMixedStackKernelId(T, Last, 2)));
  t.push_back(bind<args::GemvStack3, gemvStacked<T, 3, Last>>(gemvMixedStackKernelId(T, Last, 3)));
}

// ---- tensor-core matmul on quantized weights ------------------------------------------------

template <QType T>
cudaError_t mmq(const args::Mmq<void*>& a, cudaStream_t s) {
  MmqArgs g;
  g.type = T;
  g.weights = a.weights;
  g.act = a.act;
  g.out = f32(a.out);
  g.n = a.n;
  g.k = a.k;
  g.m = a.m;
  return launchMmq(g, s);
}

cudaError_t mmaF16(const args::MmaF16<void*>& a, cudaStream_t s) {
  MmaF16Args g;
  g.type = QType::Q4_K;
  g.weights = a.weights;
  g.act = a.act;
  g.out = f32(a.out);
  g.n = a.n;
  g.k = a.k;
  g.m = a.m;
  return launchMmaF16(g, s);
}

// ---- f16 dequantization (dequant-hgemm's weight) ---------------------------------------------

template <QType T>
cudaError_t dequantF16(const args::DequantF16<void*>& a, cudaStream_t s) {
  DequantF16Args d;
  d.type = T;
  d.weights = a.weights;
  d.out = a.out;
  d.n = a.n;
  d.k = a.k;
  return launchDequantF16(d, s);
}

// ---- norms, quantizer, RoPE, embedding ----------------------------------------------------------

cudaError_t quantizeQ81(const args::QuantizeQ81<void*>& a, cudaStream_t s) {
  return launchQuantizeQ81(f32(a.x), a.out, a.m, a.k, s);
}

/// Points a launch API's result rows at `out`: Q8_1 rows (its outQ81) or f32 rows (its out).
template <class LaunchArgs>
void setRows(LaunchArgs& l, void* out, bool q81) {
  if (q81)
    l.outQ81 = out;
  else
    l.out = f32(out);
}

template <bool Q81>
cudaError_t rmsNorm(const args::RmsNorm<void*>& a, cudaStream_t s) {
  RmsNormArgs r{f32(a.x), nullptr, f32(a.weight), nullptr, nullptr, a.m, a.n, a.eps};
  setRows(r, a.out, Q81);
  return launchRmsNorm(r, s);
}

template <bool Q81>
cudaError_t addRmsNorm(const args::AddRmsNorm<void*>& a, cudaStream_t s) {
  RmsNormArgs r{f32(a.x), f32(a.residual), f32(a.weight), f32(a.sumOut), nullptr, a.m, a.n, a.eps};
  setRows(r, a.normOut, Q81);
  return launchRmsNorm(r, s);
}

template <RopeStyle Style>
cudaError_t rope(const args::Rope<void*>& a, cudaStream_t s) {
  RopeArgs r;
  r.q = f32(a.q);
  r.k = f32(a.k);
  r.positions = i32(a.positions);
  r.m = a.m;
  r.nHeads = a.nHeads;
  r.nKvHeads = a.nKvHeads;
  r.headDim = a.headDim;
  r.qStride = a.qStride;
  r.kStride = a.kStride;
  r.style = Style;
  r.scaling = scalingOf(a.rope);
  return launchRope(r, s);
}

template <QType T>
cudaError_t embed(const args::Embed<void*>& a, cudaStream_t s) {
  return launchEmbed({T, a.table, i32(a.tokens), f32(a.out), a.m, a.n, a.vocab}, s);
}

// ---- elementwise, sampling ----------------------------------------------------------------------

cudaError_t add(const args::Add<void*>& a, cudaStream_t s) {
  return launchAdd(f32(a.lhs), f32(a.rhs), f32(a.out), a.count, s);
}
cudaError_t swiglu(const args::Swiglu<void*>& a, cudaStream_t s) {
  return launchSwiglu(f32(a.gate), f32(a.up), f32(a.out), a.count, s);
}
cudaError_t swigluQ81(const args::SwigluQ81<void*>& a, cudaStream_t s) {
  return launchSwigluQ81(f32(a.gate), f32(a.up), a.out, a.m, a.n, s);
}
cudaError_t biasAdd(const args::BiasAdd<void*>& a, cudaStream_t s) {
  return launchBiasAdd(f32(a.x), f32(a.bias), a.m, a.n, s);
}
cudaError_t castF16(const args::Cast<void*>& a, cudaStream_t s) {
  return launchCastF32ToF16(f32(a.input), a.out, a.count, s);
}
cudaError_t argmax(const args::Argmax<void*>& a, cudaStream_t s) {
  return launchArgmax(f32(a.x), i32(a.out), a.m, a.n, s);
}
cudaError_t sample(const args::Sample<void*>& a, cudaStream_t s) {
  SampleArgs g;
  g.logits = f32(a.logits);
  g.sampling = a.sampling;
  g.recent = i32(a.recent);
  g.positions = i32(a.positions);
  g.out = i32(a.out);
  g.m = a.m;
  g.n = a.n;
  return launchSample(g, s);
}

// ---- attention ----------------------------------------------------------------------------------

cudaError_t kvAppend(const args::KvAppend<void*>& a, cudaStream_t s) {
  KvAppendArgs k;
  k.k = f32(a.kNew);
  k.v = f32(a.vNew);
  k.kCache = a.kCache;
  k.vCache = a.vCache;
  k.slots = i32(a.slots);
  k.positions = i32(a.positions);
  k.m = a.m;
  k.nKvHeads = a.nKvHeads;
  k.headDim = a.headDim;
  k.maxCtx = a.maxCtx;
  k.kStride = a.kStride;
  k.vStride = a.vStride;
  return launchKvAppend(k, s);
}

/// The AttentionArgs every attention signature shares: the shape ints, the score scale, q, the
/// caches and the slots.
template <template <class> class Args>
AttentionArgs attentionOf(const Args<void*>& a, AttentionMode mode) {
  AttentionArgs t;
  t.mode = mode;
  t.m = a.m;
  t.nHeads = a.nHeads;
  t.nKvHeads = a.nKvHeads;
  t.headDim = a.headDim;
  t.maxCtx = a.maxCtx;
  t.window = a.window;
  t.qStride = a.qStride;
  t.scale = a.scale;
  t.q = f32(a.q);
  t.kCache = a.kCache;
  t.vCache = a.vCache;
  t.slots = i32(a.slots);
  return t;
}

/// The fused RoPE + append prologue of attn_decode_rope and attn_decode_split_rope.
template <template <class> class Args>
void setRopePrologue(const Args<void*>& a, AttentionArgs& t) {
  t.newK = f32(a.kNew);
  t.newV = f32(a.vNew);
  t.positions = i32(a.positions);
  t.kStride = a.kStride;
  t.vStride = a.vStride;
  t.ropeStyle = a.style == 1 ? RopeStyle::Neox : RopeStyle::Norm;
  t.rope = scalingOf(a.rope);
}

template <bool Q81>
cudaError_t attnDecode(const args::AttnDecode<void*>& a, cudaStream_t s) {
  AttentionArgs t = attentionOf(a, AttentionMode::Decode);
  t.kvLens = i32(a.kvLens);
  setRows(t, a.out, Q81);
  return launchAttention(t, s);
}

cudaError_t attnPrefill(const args::AttnPrefill<void*>& a, cudaStream_t s) {
  AttentionArgs t = attentionOf(a, AttentionMode::Prefill);
  t.positions = i32(a.positions);
  t.out = f32(a.out);
  return launchAttention(t, s);
}

cudaError_t attnPrefillFlash(const args::AttnPrefillFlash<void*>& a, cudaStream_t s) {
  AttentionArgs t = attentionOf(a, AttentionMode::Prefill);
  t.positions = i32(a.positions);
  t.out = f32(a.out);
  return launchAttentionPrefillFlash(t, s);
}

/// Flash-decoding's first phase: the KV lengths, the splits and their partial results.
template <template <class> class Args>
void setSplit(const Args<void*>& a, AttentionArgs& t) {
  t.kvLens = i32(a.kvLens);
  t.partOut = f32(a.partOut);
  t.partMl = f32(a.partMl);
  t.splits = a.splits;
}

cudaError_t attnSplit(const args::AttnSplit<void*>& a, cudaStream_t s) {
  AttentionArgs t = attentionOf(a, AttentionMode::Split);
  setSplit(a, t);
  return launchAttention(t, s);
}

template <bool Q81>
cudaError_t attnDecodeRope(const args::AttnDecodeRope<void*>& a, cudaStream_t s) {
  AttentionArgs t = attentionOf(a, AttentionMode::Decode);
  setRopePrologue(a, t);
  t.kvLens = i32(a.kvLens);
  setRows(t, a.out, Q81);
  return launchAttention(t, s);
}

cudaError_t attnSplitRope(const args::AttnSplitRope<void*>& a, cudaStream_t s) {
  AttentionArgs t = attentionOf(a, AttentionMode::Split);
  setRopePrologue(a, t);
  setSplit(a, t);
  return launchAttention(t, s);
}

template <bool Q81>
cudaError_t attnReduce(const args::AttnReduce<void*>& a, cudaStream_t s) {
  AttentionReduceArgs r{f32(a.partOut), f32(a.partMl), nullptr, a.m, a.nHeads, a.headDim, a.splits};
  setRows(r, a.out, Q81);
  return launchAttentionReduce(r, s);
}

// ---- FP8 and cuBLAS -----------------------------------------------------------------------------

cudaError_t fp8QuantizeAct(const args::Fp8QuantizeAct<void*>& a, cudaStream_t s) {
  return launchFp8QuantizeAct(f32(a.x), u8(a.out), f32(a.scale), a.m, a.k, s);
}

cudaError_t fp8GemmLib(BlasContext& ctx, const args::Fp8Gemm<void*>& a, cudaStream_t s) {
  return fp8Gemm(ctx, {u8(a.w), f32(a.wScales), u8(a.act), f32(a.actScale), f32(a.out), a.m, a.n, a.k, a.perRow != 0},
                 s);
}

cudaError_t hgemmLib(BlasContext& ctx, const args::Hgemm<void*>& a, cudaStream_t s) {
  return hgemm(ctx, {a.w, a.x, f32(a.out), a.m, a.n, a.k}, s);
}

std::vector<Binding> buildTable() {
  std::vector<Binding> t;
  GemvWeightTypes::forEach([&](auto type) { bindGemv<decltype(type)::value>(t); });
  forEachGemvMixedStack([&](auto type, auto last) { bindGemvMixed<decltype(type)::value, decltype(last)::value>(t); });
  forEachMmqWeightType([&](auto type) {
    constexpr QType kType = decltype(type)::value;
    t.push_back(bind<args::Mmq, mmq<kType>>(mmqKernelId(kType)));
  });
  t.push_back(bind<args::MmaF16, mmaF16>(mmaF16KernelId(QType::Q4_K)));
  GemvWeightTypes::forEach([&](auto type) {
    constexpr QType kType = decltype(type)::value;
    t.push_back(bind<args::DequantF16, dequantF16<kType>>(dequantF16KernelId(kType)));
  });
  EmbedTableTypes::forEach([&](auto type) {
    constexpr QType kType = decltype(type)::value;
    t.push_back(bind<args::Embed, embed<kType>>(embedKernelId(kType)));
  });
  const Binding rest[] = {
      bind<args::QuantizeQ81, quantizeQ81>("quantize_q8_1"),
      bind<args::RmsNorm, rmsNorm<false>>("rms_norm"),
      bind<args::AddRmsNorm, addRmsNorm<false>>("add_rms_norm"),
      bind<args::RmsNorm, rmsNorm<true>>("rms_norm_q8_1"),
      bind<args::AddRmsNorm, addRmsNorm<true>>("add_rms_norm_q8_1"),
      bind<args::Rope, rope<RopeStyle::Norm>>("rope_norm"),
      bind<args::Rope, rope<RopeStyle::Neox>>("rope_neox"),
      bind<args::Add, add>("add"),
      bind<args::Swiglu, swiglu>("swiglu"),
      bind<args::SwigluQ81, swigluQ81>("swiglu_q8_1"),
      bind<args::BiasAdd, biasAdd>("bias_add"),
      bind<args::Cast, castF16>("cast_f32_f16"),
      bind<args::Argmax, argmax>("argmax"),
      bind<args::Sample, sample>("sample"),
      bind<args::KvAppend, kvAppend>("kv_append"),
      bind<args::AttnDecode, attnDecode<false>>("attn_decode"),
      bind<args::AttnSplit, attnSplit>("attn_decode_split"),
      bind<args::AttnDecodeRope, attnDecodeRope<false>>("attn_decode_rope"),
      bind<args::AttnSplitRope, attnSplitRope>("attn_decode_split_rope"),
      bind<args::AttnReduce, attnReduce<false>>("attn_decode_reduce"),
      bind<args::AttnDecode, attnDecode<true>>("attn_decode_q8_1"),
      bind<args::AttnDecodeRope, attnDecodeRope<true>>("attn_decode_rope_q8_1"),
      bind<args::AttnReduce, attnReduce<true>>("attn_decode_reduce_q8_1"),
      bind<args::AttnPrefill, attnPrefill>("attn_prefill"),
      bind<args::AttnPrefillFlash, attnPrefillFlash>("attn_prefill_flash"),
      bind<args::Fp8QuantizeAct, fp8QuantizeAct>("fp8_quantize_act"),
      bindLibrary<args::Fp8Gemm, fp8GemmLib>("fp8_gemm_cublaslt"),
      bindLibrary<args::Hgemm, hgemmLib>("hgemm_cublas"),
  };
  t.insert(t.end(), std::begin(rest), std::end(rest));
  return t;
}

const std::vector<Binding>& table() {
  static const std::vector<Binding> t = buildTable();
  return t;
}

}  // namespace

cudaError_t Launcher::operator()(const LaunchDims& dims, const KernelArgs& args, cudaStream_t stream) const {
  if (fn == nullptr || info == nullptr) return cudaErrorInvalidSymbol;
  if (info->kind == KernelKind::Kernel && dims != info->dims(args.ints.data())) return cudaErrorInvalidConfiguration;
  return fn(args, stream);
}

Launcher findLauncher(std::string_view id) {
  const KernelInfo* info = findKernel(id);
  for (const Binding& binding : table()) {
    if (binding.id != id) continue;
    // A launcher that reads another signature than the catalog's entry would misread the plan.
    if (info == nullptr || info->signature != binding.signature) return Launcher{};
    return Launcher{info, binding.fn};
  }
  return Launcher{};
}

std::vector<std::string> registeredKernelIds() {
  std::vector<std::string> ids;
  for (const Binding& binding : table()) ids.push_back(binding.id);
  return ids;
}

cudaError_t launchKernel(std::string_view id, const LaunchDims& dims, const KernelArgs& args, cudaStream_t stream) {
  const Launcher launcher = findLauncher(id);
  if (!launcher || launcher.info == nullptr) return cudaErrorInvalidSymbol;
  if (!launcher.info->check(args.ints.data()).empty()) return cudaErrorInvalidValue;
  return launcher(dims, args, stream);
}

}  // namespace reel::kernels
