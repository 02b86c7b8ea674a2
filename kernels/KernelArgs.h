#pragma once
/// \file
/// The typed arguments of every catalog kernel: one struct per argument signature, templated on
/// what a pointer argument is (codegen::BufferRef in lowering, void* in the runtime's launchers,
/// PtrFootprint in the catalog's footprints). Each struct names every argument once, in its
/// `fields` visitor, with its kind (pointer, int64 or float) and its "name: meaning" doc; the
/// plan's three flat lists (ptrs, ints, floats) are that visit order. Host-only, no CUDA.
///
/// `fields(a, v)` calls, in order, `v.ptr(a.field, "name: doc")` for each pointer argument,
/// `v.integer(...)` for each int64 and `v.real(...)` for each float (kinds may interleave in the
/// visit: each kind keeps its own order). pack() / unpack() / argDocs() derive the flat lists and
/// the catalog's argument docs from it.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace reel::kernels::args {

// ---- argument groups several signatures share -------------------------------------------------

/// The ints of every DP4A GEMV: n, k, m, row_sets.
struct GemvShape {
  int64_t n = 0, k = 0, m = 0, rowSets = 1;
  template <class A, class V>
  static void shape(A& a, V& v) {
    v.integer(a.n, "n: rows of W (of all matrices of a stack) = outputs per activation row");
    v.integer(a.k, "k: columns of W (a multiple of 256; of 32 for q8_0, q5_0, q5_1, q4_0)");
    v.integer(a.m, "m: activation rows, 1..8");
    v.integer(a.rowSets, "row_sets: weight rows each lane streams, 1 or 2 (select-launch-config)");
  }
};

/// The ints every attention kernel starts with.
struct AttnShape {
  int64_t m = 0, nHeads = 0, nKvHeads = 0, headDim = 0, maxCtx = 0, window = 0, qStride = 0;
  template <class A, class V>
  static void shape(A& a, V& v) {
    v.integer(a.m, "m: query rows (sequences)");
    v.integer(a.nHeads, "n_heads: query heads");
    v.integer(a.nKvHeads, "n_kv_heads: KV heads (n_heads multiple of it, ratio <= 8)");
    v.integer(a.headDim, "head_dim: multiple of 8, <= 256");
    v.integer(a.maxCtx, "max_ctx: positions per KV slot");
    v.integer(a.window, "window: sliding window (0 = none)");
    v.integer(a.qStride, "q_stride: floats between consecutive query rows");
  }
};

/// The rotation floats of RoPE (plain and llama3 scaling).
struct RopeFloats {
  float freqBase = 10000.0f, llama3Factor = 1.0f, lowFreqFactor = 1.0f, highFreqFactor = 1.0f,
        originalMaxPositions = 0.0f;
  template <class R, class V>
  static void visit(R& r, V& v) {
    v.real(r.freqBase, "freq_base: theta base (e.g. 10000, 500000)");
    v.real(r.llama3Factor, "llama3_factor: llama3 scaling factor (1 = off)");
    v.real(r.lowFreqFactor, "low_freq_factor: llama3 low_freq_factor");
    v.real(r.highFreqFactor, "high_freq_factor: llama3 high_freq_factor");
    v.real(r.originalMaxPositions, "original_max_positions: llama3 original_max_position_embeddings (0 = off)");
  }
};

// ---- GEMV ------------------------------------------------------------------------------------

/// gemv_dp4a_<qtype>.
template <class Ptr>
struct Gemv : GemvShape {
  Ptr weights{}, act{}, out{};
  template <class A, class V>
  static void fields(A& a, V& v) {
    v.ptr(a.weights, "weights: W [n][k] (Q4_K, Q5_K: GGUF rows; Q6_K/Q8_0/Q5_0/Q5_1/Q4_0: row-planar repack)");
    v.ptr(a.act, "act: Q8_1 row-planar activations [m] rows of q81RowBytes(k)");
    v.ptr(a.out, "out: f32 [m][n]");
    shape(a, v);
  }
};

/// gemv_dp4a_gate_up_<qtype>.
template <class Ptr>
struct GemvGateUp : GemvShape {
  Ptr wGate{}, wUp{}, act{}, outGate{}, outUp{};
  template <class A, class V>
  static void fields(A& a, V& v) {
    v.ptr(a.wGate, "w_gate: gate weights [n][k]");
    v.ptr(a.wUp, "w_up: up weights [n][k], same type");
    v.ptr(a.act, "act: Q8_1 row-planar activations");
    v.ptr(a.outGate, "out_gate: f32 [m][n]");
    v.ptr(a.outUp, "out_up: f32 [m][n]");
    shape(a, v);
  }
};

/// gemv_dp4a_stack<S>_<qtype>[_<last qtype>]: S matrices of one k, stacked along the rows.
template <int S>
struct GemvStacked {
  template <class Ptr>
  struct Of : GemvShape {
    std::array<Ptr, S> w{};
    Ptr act{};
    std::array<Ptr, S> out{};
    std::array<int64_t, S> rows{};
    template <class A, class V>
    static void fields(A& a, V& v) {
      static constexpr std::string_view kW[] = {"w_0: weights [rows_0][k]", "w_1: weights [rows_1][k]",
                                                "w_2: weights [rows_2][k]"};
      static constexpr std::string_view kOut[] = {"out_0: f32 [m][rows_0]", "out_1: f32 [m][rows_1]",
                                                  "out_2: f32 [m][rows_2]"};
      static constexpr std::string_view kRows[] = {"rows_0: rows of w_0", "rows_1: rows of w_1", "rows_2: rows of w_2"};
      static_assert(S >= 2 && S <= 3);
      constexpr auto kS = static_cast<size_t>(S);
      for (size_t i = 0; i < kS; ++i) v.ptr(a.w[i], kW[i]);
      v.ptr(a.act, "act: Q8_1 row-planar activations");
      for (size_t i = 0; i < kS; ++i) v.ptr(a.out[i], kOut[i]);
      shape(a, v);
      for (size_t i = 0; i < kS; ++i) v.integer(a.rows[i], kRows[i]);
    }
  };
};
template <class Ptr>
using GemvStack2 = typename GemvStacked<2>::template Of<Ptr>;
template <class Ptr>
using GemvStack3 = typename GemvStacked<3>::template Of<Ptr>;

// ---- tensor-core matmul on quantized weights ------------------------------------------------

/// mmq_<qtype>.
template <class Ptr>
struct Mmq {
  Ptr weights{}, act{}, out{};
  int64_t n = 0, k = 0, m = 0;
  template <class A, class V>
  static void fields(A& a, V& v) {
    v.ptr(a.weights, "weights: W [n][k] as the DP4A GEMV reads it (Q4_K: GGUF rows; Q6_K/Q8_0: row-planar repack)");
    v.ptr(a.act, "act: Q8_1 row-planar activations [m] rows of q81RowBytes(k)");
    v.ptr(a.out, "out: f32 [m][n]");
    v.integer(a.n, "n: rows of W = outputs per activation row");
    v.integer(a.k, "k: columns of W (a multiple of 256 for q4_k, q6_k; of 32 for q8_0)");
    v.integer(a.m, "m: activation rows, any number >= 1 (tiles of up to 64 rows)");
  }
};

/// mma_f16_<qtype>.
template <class Ptr>
struct MmaF16 {
  Ptr weights{}, act{}, out{};
  int64_t n = 0, k = 0, m = 0;
  template <class A, class V>
  static void fields(A& a, V& v) {
    v.ptr(a.weights, "weights: W [n][k] as GGUF rows");
    v.ptr(a.act, "act: f16 activations [m][k]");
    v.ptr(a.out, "out: f32 [m][n]");
    v.integer(a.n, "n: rows of W = outputs per activation row");
    v.integer(a.k, "k: columns of W (a multiple of 256)");
    v.integer(a.m, "m: activation rows, any number >= 1 (tiles of up to 64 rows)");
  }
};

/// dequant_f16_<qtype>: the transient f16 weight of a dequant-hgemm matmul.
template <class Ptr>
struct DequantF16 {
  Ptr weights{}, out{};
  int64_t n = 0, k = 0;
  template <class A, class V>
  static void fields(A& a, V& v) {
    v.ptr(a.weights, "weights: W [n][k] as the DP4A GEMV reads it (Q4_K, Q5_K: GGUF rows; the others row-planar)");
    v.ptr(a.out, "out: f16 [n][k], W dequantized");
    v.integer(a.n, "n: rows of W");
    v.integer(a.k, "k: columns of W (a multiple of the type's block: 256 for K-quants, 32 otherwise)");
  }
};

// ---- norms, quantizer, RoPE, embedding ----------------------------------------------------------

/// quantize_q8_1.
template <class Ptr>
struct QuantizeQ81 {
  Ptr x{}, out{};
  int64_t m = 0, k = 0;
  template <class A, class V>
  static void fields(A& a, V& v) {
    v.ptr(a.x, "x: f32 [m][k]");
    v.ptr(a.out, "out: Q8_1 row-planar [m] rows of q81RowBytes(k)");
    v.integer(a.m, "m: rows");
    v.integer(a.k, "k: columns (multiple of 32; 256 for the GEMVs)");
  }
};

/// rms_norm, rms_norm_q8_1.
template <class Ptr>
struct RmsNorm {
  Ptr x{}, weight{}, out{};
  int64_t m = 0, n = 0;
  float eps = 0;
  template <class A, class V>
  static void fields(A& a, V& v) {
    v.ptr(a.x, "x: f32 [m][n]");
    v.ptr(a.weight, "weight: f32 [n]");
    v.ptr(a.out, "out: f32 [m][n]");
    v.integer(a.m, "m: rows");
    v.integer(a.n, "n: row length (multiple of 4; of 32 for a Q8_1 output)");
    v.real(a.eps, "eps: added to the mean square");
  }
};

/// add_rms_norm, add_rms_norm_q8_1.
template <class Ptr>
struct AddRmsNorm {
  Ptr x{}, residual{}, weight{}, sumOut{}, normOut{};
  int64_t m = 0, n = 0;
  float eps = 0;
  template <class A, class V>
  static void fields(A& a, V& v) {
    v.ptr(a.x, "x: f32 [m][n]");
    v.ptr(a.residual, "residual: f32 [m][n]");
    v.ptr(a.weight, "weight: f32 [n]");
    v.ptr(a.sumOut, "sum_out: f32 [m][n] = x + residual (may alias x or residual)");
    v.ptr(a.normOut, "norm_out: f32 [m][n] = rms_norm(sum_out)");
    v.integer(a.m, "m: rows");
    v.integer(a.n, "n: row length (multiple of 4; of 32 for a Q8_1 output)");
    v.real(a.eps, "eps: added to the mean square");
  }
};

/// rope_norm, rope_neox.
template <class Ptr>
struct Rope {
  Ptr q{}, k{}, positions{};
  int64_t m = 0, nHeads = 0, nKvHeads = 0, headDim = 0, qStride = 0, kStride = 0;
  RopeFloats rope{};
  template <class A, class V>
  static void fields(A& a, V& v) {
    v.ptr(a.q, "q: f32 rows (rotated in place) of n_heads*head_dim");
    v.ptr(a.k, "k: f32 rows (in place) of n_kv_heads*head_dim");
    v.ptr(a.positions, "positions: int32 [m]");
    v.integer(a.m, "m: rows");
    v.integer(a.nHeads, "n_heads: query heads");
    v.integer(a.nKvHeads, "n_kv_heads: key heads");
    v.integer(a.headDim, "head_dim: rotated dims per head (even)");
    v.integer(a.qStride, "q_stride: floats between query rows");
    v.integer(a.kStride, "k_stride: floats between key rows");
    RopeFloats::visit(a.rope, v);
  }
};

/// embed_<qtype>.
template <class Ptr>
struct Embed {
  Ptr table{}, tokens{}, out{};
  int64_t m = 0, n = 0, vocab = 0;
  template <class A, class V>
  static void fields(A& a, V& v) {
    v.ptr(a.table, "table: [vocab][n] in the GGUF layout");
    v.ptr(a.tokens, "tokens: int32 [m]");
    v.ptr(a.out, "out: f32 [m][n]");
    v.integer(a.m, "m: rows");
    v.integer(a.n, "n: embedding width (multiple of the block size)");
    v.integer(a.vocab, "vocab: table rows (out-of-range ids give zeros)");
  }
};

// ---- elementwise, sampling ----------------------------------------------------------------------

/// add.
template <class Ptr>
struct Add {
  Ptr lhs{}, rhs{}, out{};
  int64_t count = 0;
  template <class A, class V>
  static void fields(A& a, V& v) {
    v.ptr(a.lhs, "a: f32");
    v.ptr(a.rhs, "b: f32");
    v.ptr(a.out, "out: f32 = a + b (may alias a or b)");
    v.integer(a.count, "count: elements");
  }
};

/// swiglu.
template <class Ptr>
struct Swiglu {
  Ptr gate{}, up{}, out{};
  int64_t count = 0;
  template <class A, class V>
  static void fields(A& a, V& v) {
    v.ptr(a.gate, "gate: f32");
    v.ptr(a.up, "up: f32");
    v.ptr(a.out, "out: f32 = silu(gate) * up");
    v.integer(a.count, "count: elements");
  }
};

/// swiglu_q8_1.
template <class Ptr>
struct SwigluQ81 {
  Ptr gate{}, up{}, out{};
  int64_t m = 0, n = 0;
  template <class A, class V>
  static void fields(A& a, V& v) {
    v.ptr(a.gate, "gate: f32 [m][n]");
    v.ptr(a.up, "up: f32 [m][n]");
    v.ptr(a.out, "out: Q8_1 row-planar rows of silu(gate) * up");
    v.integer(a.m, "m: rows");
    v.integer(a.n, "n: columns (multiple of 32)");
  }
};

/// bias_add.
template <class Ptr>
struct BiasAdd {
  Ptr x{}, bias{};
  int64_t m = 0, n = 0;
  template <class A, class V>
  static void fields(A& a, V& v) {
    v.ptr(a.x, "x: f32 [m][n], in place");
    v.ptr(a.bias, "bias: f32 [n]");
    v.integer(a.m, "m: rows");
    v.integer(a.n, "n: columns");
  }
};

/// cast_f32_f16.
template <class Ptr>
struct Cast {
  Ptr input{}, out{};
  int64_t count = 0;
  template <class A, class V>
  static void fields(A& a, V& v) {
    v.ptr(a.input, "in: f32");
    v.ptr(a.out, "out: f16");
    v.integer(a.count, "count: elements");
  }
};

/// argmax.
template <class Ptr>
struct Argmax {
  Ptr x{}, out{};
  int64_t m = 0, n = 0;
  template <class A, class V>
  static void fields(A& a, V& v) {
    v.ptr(a.x, "x: f32 [m][n]");
    v.ptr(a.out, "out: int32 [m]");
    v.integer(a.m, "m: rows");
    v.integer(a.n, "n: columns");
  }
};

/// sample.
template <class Ptr>
struct Sample {
  Ptr logits{}, sampling{}, recent{}, positions{}, out{};
  int64_t m = 0, n = 0;
  template <class A, class V>
  static void fields(A& a, V& v) {
    v.ptr(a.logits, "x: f32 [m][n] logits");
    v.ptr(a.sampling, "sampling: SampleRow [m] (kernels/SampleMath.h)");
    v.ptr(a.recent, "recent: int32 [m][256] recent tokens, -1 for none");
    v.ptr(a.positions, "positions: int32 [m] (the draw's counter)");
    v.ptr(a.out, "out: int32 [m]");
    v.integer(a.m, "m: rows");
    v.integer(a.n, "n: columns (at most 262144)");
  }
};

// ---- attention ----------------------------------------------------------------------------------

/// kv_append.
template <class Ptr>
struct KvAppend {
  Ptr kNew{}, vNew{}, kCache{}, vCache{}, slots{}, positions{};
  int64_t m = 0, nKvHeads = 0, headDim = 0, maxCtx = 0, kStride = 0, vStride = 0;
  template <class A, class V>
  static void fields(A& a, V& v) {
    v.ptr(a.kNew, "k_new: f32 rows of n_kv_heads*head_dim");
    v.ptr(a.vNew, "v_new: f32 rows");
    v.ptr(a.kCache, "k_cache: f16 [slot][pos][n_kv][hd]");
    v.ptr(a.vCache, "v_cache: f16, same layout");
    v.ptr(a.slots, "slots: int32 [m] (negative = padding row, skipped)");
    v.ptr(a.positions, "positions: int32 [m] (where the row is written)");
    v.integer(a.m, "m: rows");
    v.integer(a.nKvHeads, "n_kv_heads: KV heads");
    v.integer(a.headDim, "head_dim: dims per head (even)");
    v.integer(a.maxCtx, "max_ctx: positions per slot");
    v.integer(a.kStride, "k_stride: floats between k_new rows");
    v.integer(a.vStride, "v_stride: floats between v_new rows");
  }
};

/// attn_decode, attn_decode_q8_1.
template <class Ptr>
struct AttnDecode : AttnShape {
  Ptr q{}, kCache{}, vCache{}, slots{}, kvLens{}, out{};
  float scale = 0;
  template <class A, class V>
  static void fields(A& a, V& v) {
    v.ptr(a.q, "q: f32 [m] rows of n_heads*head_dim");
    v.ptr(a.kCache, "k_cache: f16");
    v.ptr(a.vCache, "v_cache: f16");
    v.ptr(a.slots, "slots: int32 [m]");
    v.ptr(a.kvLens, "kv_lens: int32 [m] (0 = padding row: zeros out)");
    v.ptr(a.out, "out: f32 [m][n_heads][head_dim]");
    shape(a, v);
    v.real(a.scale, "scale: score scale (1/sqrt(head_dim))");
  }
};

/// attn_prefill.
template <class Ptr>
struct AttnPrefill : AttnShape {
  Ptr q{}, kCache{}, vCache{}, slots{}, positions{}, out{};
  float scale = 0;
  template <class A, class V>
  static void fields(A& a, V& v) {
    v.ptr(a.q, "q: f32 rows");
    v.ptr(a.kCache, "k_cache: f16 (the step's K already appended)");
    v.ptr(a.vCache, "v_cache: f16");
    v.ptr(a.slots, "slots: int32 [m]");
    v.ptr(a.positions, "positions: int32 [m]: row i attends to [0, positions[i]] (causal)");
    v.ptr(a.out, "out: f32 [m][n_heads][head_dim]");
    shape(a, v);
    v.real(a.scale, "scale: score scale");
  }
};

/// attn_prefill_flash: attn_prefill's arguments; its own signature for its own launch dims
/// (tiles of query rows on tensor cores).
template <class Ptr>
struct AttnPrefillFlash : AttnPrefill<Ptr> {};

/// attn_decode_split.
template <class Ptr>
struct AttnSplit : AttnShape {
  Ptr q{}, kCache{}, vCache{}, slots{}, kvLens{}, partOut{}, partMl{};
  int64_t splits = 1;
  float scale = 0;
  template <class A, class V>
  static void fields(A& a, V& v) {
    v.ptr(a.q, "q: f32 rows");
    v.ptr(a.kCache, "k_cache: f16");
    v.ptr(a.vCache, "v_cache: f16");
    v.ptr(a.slots, "slots: int32 [m]");
    v.ptr(a.kvLens, "kv_lens: int32 [m]");
    v.ptr(a.partOut, "part_out: f32 [m][n_heads][splits][head_dim] (unnormalized)");
    v.ptr(a.partMl, "part_ml: f32 [m][n_heads][splits][2] (running max, sum of exp)");
    shape(a, v);
    v.integer(a.splits, "splits: KV splits per row (flash-decoding)");
    v.real(a.scale, "scale: score scale");
  }
};

/// The fused RoPE + append prologue's arguments of attn_decode_rope and attn_decode_split_rope:
/// the new rows' pointers, then (after the plain kernel's ints) their strides and the style.
struct AttnRopePrologue {
  int64_t kStride = 0, vStride = 0, style = 0;
  RopeFloats rope{};
  /// The pointers both kernels start with.
  template <class A, class V>
  static void ropeInputs(A& a, V& v) {
    v.ptr(a.q, "q: f32 rows of n_heads*head_dim, not yet rotated");
    v.ptr(a.kNew, "k: f32 [m] rows of n_kv_heads*head_dim, not yet rotated");
    v.ptr(a.vNew, "v: f32 [m] rows of n_kv_heads*head_dim");
    v.ptr(a.kCache, "k_cache: f16");
    v.ptr(a.vCache, "v_cache: f16");
    v.ptr(a.slots, "slots: int32 [m]");
    v.ptr(a.kvLens, "kv_lens: int32 [m]");
    v.ptr(a.positions, "positions: int32 [m] (the new token's)");
  }
  template <class A, class V>
  static void prologueInts(A& a, V& v) {
    v.integer(a.kStride, "k_stride: floats between key rows");
    v.integer(a.vStride, "v_stride: floats between value rows");
    v.integer(a.style, "style: 0 = norm (adjacent pairs), 1 = neox (halves)");
  }
};

/// attn_decode_rope, attn_decode_rope_q8_1.
template <class Ptr>
struct AttnDecodeRope : AttnShape, AttnRopePrologue {
  Ptr q{}, kNew{}, vNew{}, kCache{}, vCache{}, slots{}, kvLens{}, positions{}, out{};
  float scale = 0;
  template <class A, class V>
  static void fields(A& a, V& v) {
    ropeInputs(a, v);
    v.ptr(a.out, "out: f32 [m][n_heads][head_dim]");
    shape(a, v);
    prologueInts(a, v);
    v.real(a.scale, "scale: score scale");
    RopeFloats::visit(a.rope, v);
  }
};

/// attn_decode_split_rope.
template <class Ptr>
struct AttnSplitRope : AttnShape, AttnRopePrologue {
  Ptr q{}, kNew{}, vNew{}, kCache{}, vCache{}, slots{}, kvLens{}, positions{}, partOut{}, partMl{};
  int64_t splits = 1;
  float scale = 0;
  template <class A, class V>
  static void fields(A& a, V& v) {
    ropeInputs(a, v);
    v.ptr(a.partOut, "part_out: f32 [m][n_heads][splits][head_dim]");
    v.ptr(a.partMl, "part_ml: f32 [m][n_heads][splits][2]");
    shape(a, v);
    v.integer(a.splits, "splits: KV splits per row (flash-decoding)");
    prologueInts(a, v);
    v.real(a.scale, "scale: score scale");
    RopeFloats::visit(a.rope, v);
  }
};

/// attn_decode_reduce, attn_decode_reduce_q8_1.
template <class Ptr>
struct AttnReduce {
  Ptr partOut{}, partMl{}, out{};
  int64_t m = 0, nHeads = 0, headDim = 0, splits = 1;
  template <class A, class V>
  static void fields(A& a, V& v) {
    v.ptr(a.partOut, "part_out: from attn_decode_split");
    v.ptr(a.partMl, "part_ml: from attn_decode_split");
    v.ptr(a.out, "out: f32 [m][n_heads][head_dim]");
    v.integer(a.m, "m: rows");
    v.integer(a.nHeads, "n_heads: query heads");
    v.integer(a.headDim, "head_dim: dims per head");
    v.integer(a.splits, "splits: splits per row");
  }
};

// ---- FP8 and cuBLAS -----------------------------------------------------------------------------

/// fp8_quantize_act.
template <class Ptr>
struct Fp8QuantizeAct {
  Ptr x{}, out{}, scale{};
  int64_t m = 0, k = 0;
  template <class A, class V>
  static void fields(A& a, V& v) {
    v.ptr(a.x, "x: f32 [m][k]");
    v.ptr(a.out, "out: E4M3 [m][k]");
    v.ptr(a.scale, "scale: f32 [1] (written: amax/448)");
    v.integer(a.m, "m: rows");
    v.integer(a.k, "k: columns");
  }
};

/// fp8_gemm_cublaslt.
template <class Ptr>
struct Fp8Gemm {
  Ptr w{}, wScales{}, act{}, actScale{}, out{};
  int64_t m = 0, n = 0, k = 0, perRow = 0;
  template <class A, class V>
  static void fields(A& a, V& v) {
    v.ptr(a.w, "w: E4M3 [n][k]");
    v.ptr(a.wScales, "w_scales: f32 [n] (per_row) or [1]");
    v.ptr(a.act, "act: E4M3 [m][k]");
    v.ptr(a.actScale, "act_scale: f32 [1]");
    v.ptr(a.out, "out: f32 [m][n]");
    v.integer(a.m, "m: rows of act");
    v.integer(a.n, "n: rows of W (multiple of 16)");
    v.integer(a.k, "k: multiple of 16");
    v.integer(a.perRow, "per_row: w_scales per row (1) or one (0)");
  }
};

/// hgemm_cublas.
template <class Ptr>
struct Hgemm {
  Ptr w{}, x{}, out{};
  int64_t m = 0, n = 0, k = 0;
  template <class A, class V>
  static void fields(A& a, V& v) {
    v.ptr(a.w, "w: f16 [n][k]");
    v.ptr(a.x, "x: f16 [m][k]");
    v.ptr(a.out, "out: f32 [m][n]");
    v.integer(a.m, "m: rows of x");
    v.integer(a.n, "n: rows of W");
    v.integer(a.k, "k: columns");
  }
};

// ---- deriving the flat lists and the docs ---------------------------------------------------------

/// The three flat argument lists of a launch (the plan's order).
template <class Ptr>
struct Flat {
  std::vector<Ptr> ptrs;
  std::vector<int64_t> ints;
  std::vector<float> floats;
};

/// The flat lists of `a`, in its fields' visit order.
template <template <class> class Args, class Ptr>
Flat<Ptr> pack(const Args<Ptr>& a) {
  struct Packer {
    Flat<Ptr> flat;
    void ptr(const Ptr& p, std::string_view /*doc*/) { flat.ptrs.push_back(p); }
    void integer(int64_t i, std::string_view /*doc*/) { flat.ints.push_back(i); }
    void real(float f, std::string_view /*doc*/) { flat.floats.push_back(f); }
  } packer;
  Args<Ptr>::fields(a, packer);
  return std::move(packer.flat);
}

/// `Args<Ptr>` from flat lists that hold at least its arguments (KernelArgs' arrays, or a
/// plan step's lists checked against the catalog's counts).
template <template <class> class Args, class Ptr>
Args<Ptr> unpack(const Ptr* ptrs, const int64_t* ints, const float* floats) {
  struct Unpacker {
    const Ptr* ptrs;
    const int64_t* ints;
    const float* floats;
    void ptr(Ptr& p, std::string_view /*doc*/) { p = *ptrs++; }
    void integer(int64_t& i, std::string_view /*doc*/) { i = *ints++; }
    void real(float& f, std::string_view /*doc*/) { f = *floats++; }
  } unpacker{ptrs, ints, floats};
  Args<Ptr> a;
  Args<Ptr>::fields(a, unpacker);
  return a;
}

/// The "name: meaning" docs of a signature's arguments, per kind, in the flat lists' order.
struct ArgDocs {
  std::vector<std::string_view> ptrs, ints, floats;
};
template <template <class> class Args>
ArgDocs argDocs() {
  struct NoPtr {};
  struct Lister {
    ArgDocs docs;
    void ptr(const NoPtr& /*p*/, std::string_view doc) { docs.ptrs.push_back(doc); }
    void integer(int64_t /*i*/, std::string_view doc) { docs.ints.push_back(doc); }
    void real(float /*f*/, std::string_view doc) { docs.floats.push_back(doc); }
  } lister;
  const Args<NoPtr> a{};
  Args<NoPtr>::fields(a, lister);
  return std::move(lister.docs);
}

/// A distinct address per signature: the catalog and the registry record it with an id, so a
/// launcher bound to another signature than the catalog's entry is refused.
template <template <class> class Args>
inline constexpr char kSignatureTag = 0;
template <template <class> class Args>
constexpr const void* signatureTag() {
  return &kSignatureTag<Args>;
}

}  // namespace reel::kernels::args
