#include "ir/CoreOps.h"

#include "ir/TensorParallel.h"

#include <fmt/format.h>

namespace reel::ir {

namespace check {

Result elemAndRank(const Value* value, llvm::StringRef what, ElemType elem, int64_t rank) {
  if (value->type().elem != elem || value->type().rank() != rank)
    return fmt::format("{} must be {} of rank {}, got {}", what.str(), elemTypeName(elem).str(), rank,
                       value->type().str());
  return std::nullopt;
}

Result sameDim(Dim a, Dim b, llvm::StringRef what) {
  if (a != b) return fmt::format("{} differ: {} vs {}", what.str(), dimName(a), dimName(b));
  return std::nullopt;
}

Result isWeight(const Value* value, llvm::StringRef what) {
  if (value->producer()->name() != "weight")
    return fmt::format("{} must be a model weight, got %{} from '{}'", what.str(), value->name(),
                       value->producer()->name().str());
  return std::nullopt;
}

Result positiveInt(const Op& op, llvm::StringRef name, int64_t& out) {
  std::optional<int64_t> value = op.attrs().getInt(name);
  if (!value) return fmt::format("needs an integer attribute '{}'", name.str());
  if (*value <= 0) return fmt::format("attribute '{}' must be positive, got {}", name.str(), *value);
  out = *value;
  return std::nullopt;
}

Result oneOf(const Op& op, llvm::StringRef name, llvm::ArrayRef<llvm::StringRef> allowed) {
  std::optional<std::string> value = op.attrs().getString(name);
  if (!value) return fmt::format("needs a string attribute '{}'", name.str());
  for (llvm::StringRef candidate : allowed)
    if (*value == candidate) return std::nullopt;
  std::string list;
  for (llvm::StringRef candidate : allowed) list += (list.empty() ? "" : ", ") + candidate.str();
  return fmt::format("attribute '{}' must be one of {}, got {}", name.str(), list, quoteForMessage(*value));
}

Result matmulShapes(const Value* x, const Value* w, Dim& n) {
  const TensorType& xt = x->type();
  const TensorType& wt = w->type();
  if ((xt.elem != ElemType::F32 && xt.elem != ElemType::Q8_1 && xt.elem != ElemType::F16) || xt.rank() != 2)
    return fmt::format("activations must be f32, q8_1 or f16 of rank 2, got {}", xt.str());
  if (wt.rank() != 2) return fmt::format("weight must have rank 2, got {}", wt.str());
  if (xt.shape[1] != wt.shape[1])
    return fmt::format("inner dims differ: activations {} vs weight {}", xt.str(), wt.str());
  if (wt.shape[1] % blockElems(wt.elem) != 0)
    return fmt::format("weight row length {} is not a multiple of the {} block ({})", wt.shape[1],
                       elemTypeName(wt.elem).str(), blockElems(wt.elem));
  n = wt.shape[0];
  return std::nullopt;
}

Result f32OrQ81Result(const Op& op, unsigned index, const TensorType& f32Type) {
  const TensorType& actual = op.result(index)->type();
  if (f32Type.rank() == 0)
    return fmt::format("result {} needs an input of rank 1 or more, got {}", index, f32Type.str());
  if (actual.elem == ElemType::Q8_1) {
    const Dim width = f32Type.shape.back();
    if (actual.shape != f32Type.shape)
      return fmt::format("result {} must have shape {}, got {}", index, f32Type.str(), actual.str());
    if (width < 0 || width % blockElems(ElemType::Q8_1) != 0)
      return fmt::format("a q8_1 result needs a static width that is a multiple of 32, got {}", actual.str());
    return std::nullopt;
  }
  if (actual != f32Type)
    return fmt::format("result {} must be {} (or its q8_1 form), got {}", index, f32Type.str(), actual.str());
  return std::nullopt;
}

}  // namespace check

namespace {

using check::Result;

Result resultIs(const Op& op, const TensorType& expected) {
  if (op.result()->type() != expected)
    return fmt::format("result must be {}, got {}", expected.str(), op.result()->type().str());
  return std::nullopt;
}

Result verifyInput(const Op& op) {
  if (!op.attrs().getString("name")) return std::string("needs a string attribute 'name'");
  // Token ids, positions and KV lengths: one i32 per row of the step.
  const TensorType& type = op.result()->type();
  if (type.elem != ElemType::I32 || type.rank() != 1)
    return fmt::format("result must be i32 of rank 1 (one value per row), got {}", type.str());
  return std::nullopt;
}

Result verifyWeight(const Op& op) {
  if (!op.attrs().getString("name")) return std::string("needs a string attribute 'name'");
  const TensorType& type = op.result()->type();
  if (!type.isStatic()) return fmt::format("weight shape must be static, got {}", type.str());
  if (type.elem == ElemType::Q8_1) return std::string("q8_1 is an activation format, not a weight format");
  if (type.rank() != 1 && type.rank() != 2)
    return fmt::format("weight must have rank 1 (a vector) or 2 (a matrix), got {}", type.str());
  if (type.shape.back() % blockElems(type.elem) != 0)
    return fmt::format("row length {} is not a multiple of the {} block", type.shape.back(),
                       elemTypeName(type.elem).str());
  return checkWeightShard(op);
}

Result verifyKvCache(const Op& op) {
  std::optional<int64_t> layer = op.attrs().getInt("layer");
  if (!layer || *layer < 0) return std::string("needs a non-negative integer attribute 'layer'");
  if (Result r = check::oneOf(op, "part", {"k", "v"})) return r;
  const TensorType& type = op.result()->type();
  if (type.elem != ElemType::F16 || type.rank() != 3 || type.shape[0] != kDimS)
    return fmt::format("KV cache must be f16[S, n_kv_heads, head_dim], got {}", type.str());
  return std::nullopt;
}

Result verifyOutput(const Op& op) {
  if (!op.attrs().getString("name")) return std::string("needs a string attribute 'name'");
  return std::nullopt;
}

Result verifyEmbedding(const Op& op) {
  const Value* tokens = op.operand(0);
  const Value* table = op.operand(1);
  if (Result r = check::elemAndRank(tokens, "token ids", ElemType::I32, 1)) return r;
  if (Result r = check::isWeight(table, "table")) return r;
  if (table->type().rank() != 2) return fmt::format("table must have rank 2, got {}", table->type().str());
  return resultIs(op, TensorType(ElemType::F32, {tokens->type().shape[0], table->type().shape[1]}));
}

Result verifyRmsNorm(const Op& op) {
  const Value* x = op.operand(0);
  if (Result r = check::elemAndRank(x, "input", ElemType::F32, 2)) return r;
  if (Result r = check::elemAndRank(op.operand(1), "norm weight", ElemType::F32, 1)) return r;
  if (Result r = check::sameDim(x->type().shape[1], op.operand(1)->type().shape[0], "input and weight widths"))
    return r;
  std::optional<double> eps = op.attrs().getFloat("eps");
  if (!eps || *eps <= 0.0) return std::string("needs a positive float attribute 'eps'");
  return check::f32OrQ81Result(op, 0, x->type());
}

Result verifyMatmul(const Op& op) {
  if (Result r = check::isWeight(op.operand(1), "weight")) return r;
  Dim n = 0;
  if (Result r = check::matmulShapes(op.operand(0), op.operand(1), n)) return r;
  return resultIs(op, TensorType(ElemType::F32, {op.operand(0)->type().shape[0], n}));
}

Result verifyBiasAdd(const Op& op) {
  const Value* x = op.operand(0);
  if (Result r = check::elemAndRank(x, "input", ElemType::F32, 2)) return r;
  if (Result r = check::elemAndRank(op.operand(1), "bias", ElemType::F32, 1)) return r;
  if (Result r = check::sameDim(x->type().shape[1], op.operand(1)->type().shape[0], "input and bias widths")) return r;
  return resultIs(op, x->type());
}

/// The rotation attributes of a rope op (prefix "") or of an attention that rotates its own
/// q and k (prefix "rope_", see fuse-rope-attention): style, freq_base, optional llama3 scaling.
Result checkRotation(const Op& op, const std::string& prefix) {
  if (Result r = check::oneOf(op, prefix + "style", {"norm", "neox"})) return r;
  std::optional<double> base = op.attrs().getFloat(prefix + "freq_base");
  if (!base || *base <= 0.0) return fmt::format("needs a positive float attribute '{}freq_base'", prefix);
  if (op.attrs().has(prefix + "scaling")) {
    if (Result r = check::oneOf(op, prefix + "scaling", {"llama3"})) return r;
    for (const char* key : {"scale_factor", "low_freq_factor", "high_freq_factor"})
      if (!op.attrs().getFloat(prefix + key) || *op.attrs().getFloat(prefix + key) <= 0.0)
        return fmt::format("llama3 scaling needs a positive float attribute '{}{}'", prefix, key);
    int64_t original = 0;
    if (Result r = check::positiveInt(op, prefix + "original_context", original)) return r;
  }
  return std::nullopt;
}

Result verifyRope(const Op& op) {
  const Value* x = op.operand(0);
  if (Result r = check::elemAndRank(x, "input", ElemType::F32, 2)) return r;
  if (Result r = check::elemAndRank(op.operand(1), "positions", ElemType::I32, 1)) return r;
  int64_t heads = 0;
  int64_t headDim = 0;
  if (Result r = check::oneOf(op, "style", {"norm", "neox"})) return r;
  if (Result r = check::positiveInt(op, "n_heads", heads)) return r;
  if (Result r = check::positiveInt(op, "head_dim", headDim)) return r;
  if (headDim % 2 != 0) return fmt::format("head_dim must be even, got {}", headDim);
  if (x->type().shape[1] != heads * headDim)
    return fmt::format("input width {} is not n_heads * head_dim = {}", dimName(x->type().shape[1]), heads * headDim);
  if (Result r = checkRotation(op, "")) return r;
  return resultIs(op, x->type());
}

Result verifyAttention(const Op& op) {
  int64_t heads = 0;
  int64_t kvHeads = 0;
  int64_t headDim = 0;
  if (Result r = check::positiveInt(op, "n_heads", heads)) return r;
  if (Result r = check::positiveInt(op, "n_kv_heads", kvHeads)) return r;
  if (Result r = check::positiveInt(op, "head_dim", headDim)) return r;
  if (heads % kvHeads != 0) return fmt::format("n_heads {} is not a multiple of n_kv_heads {}", heads, kvHeads);
  if (std::optional<int64_t> window = op.attrs().getInt("window"); window && *window <= 0)
    return fmt::format("window must be positive, got {}", *window);
  if (op.attrs().has("rope_style")) {
    if (Result r = checkRotation(op, "rope_")) return r;
    if (headDim % 2 != 0) return fmt::format("head_dim must be even to rotate, got {}", headDim);
  }
  const Value* q = op.operand(0);
  if (Result r = check::elemAndRank(q, "q", ElemType::F32, 2)) return r;
  Dim m = q->type().shape[0];
  if (q->type().shape[1] != heads * headDim)
    return fmt::format("q width {} is not n_heads * head_dim = {}", dimName(q->type().shape[1]), heads * headDim);
  TensorType kvRow(ElemType::F32, {m, kvHeads * headDim});
  TensorType cache(ElemType::F16, {kDimS, kvHeads, headDim});
  const char* names[] = {"k", "v", "k cache", "v cache"};
  const TensorType* expected[] = {&kvRow, &kvRow, &cache, &cache};
  for (unsigned i = 0; i < 4; ++i)
    if (op.operand(i + 1)->type() != *expected[i])
      return fmt::format("{} must be {}, got {}", names[i], expected[i]->str(), op.operand(i + 1)->type().str());
  for (unsigned i = 3; i < 5; ++i)
    if (op.operand(i)->producer()->name() != "kv_cache")
      return fmt::format("operand {} must come from a 'kv_cache' op", i);
  TensorType perRow(ElemType::I32, {m});
  if (op.operand(5)->type() != perRow || op.operand(6)->type() != perRow)
    return fmt::format("positions and kv_lens must be {}", perRow.str());
  // A q8_1 result (fold-quantize): each Q8_1 block of 32 values within one head.
  if (op.result()->type().elem == ElemType::Q8_1 && headDim % 32 != 0)
    return fmt::format("a q8_1 result needs head_dim a multiple of 32, got {}", headDim);
  return check::f32OrQ81Result(op, 0, q->type());
}

Result verifyElementwise(const Op& op) {
  const Value* a = op.operand(0);
  if (Result r = check::elemAndRank(a, "lhs", ElemType::F32, 2)) return r;
  if (op.operand(1)->type() != a->type())
    return fmt::format("operand types differ: {} vs {}", a->type().str(), op.operand(1)->type().str());
  return op.name() == "silu_mul" ? check::f32OrQ81Result(op, 0, a->type()) : resultIs(op, a->type());
}

/// argmax and sample: f32 logits [M, V] to one i32 token per row.
Result verifyNextTokens(const Op& op) {
  const Value* logits = op.operand(0);
  if (Result r = check::elemAndRank(logits, "logits", ElemType::F32, 2)) return r;
  return resultIs(op, TensorType(ElemType::I32, {logits->type().shape[0]}));
}

/// The ops of one rank's decode step.
const std::vector<OpDef>& stepOpDefs() {
  static const std::vector<OpDef> defs = {
      {"input", "a per-step input (token ids, positions, KV lengths)", 0, 0, 1, false, verifyInput},
      {"weight", "a model tensor, by its GGUF name, with its qtype and shape", 0, 0, 1, false, verifyWeight},
      {"kv_cache", "the K or V cache of one layer: f16[S, n_kv_heads, head_dim] per sequence", 0, 0, 1, false,
       verifyKvCache},
      {"output", "a graph output (the step's result)", 1, 1, 0, true, verifyOutput},
      {"embedding", "rows of a (quantized) table by token id", 2, 2, 1, false, verifyEmbedding},
      {"rms_norm", "x / rms(x) * w (a q8_1 result: quantized as quantize_q8_1 would)", 2, 2, 1, false, verifyRmsNorm},
      {"matmul", "y[M, N] = x[M, K] * w[N, K]^T", 2, 2, 1, false, verifyMatmul},
      {"bias_add", "y = x + b per row", 2, 2, 1, false, verifyBiasAdd},
      {"rope", "rotary position embedding (norm or neox, optional llama3 scaling)", 2, 2, 1, false, verifyRope},
      {"attention",
       "causal GQA attention; appends k, v to the layer's KV cache (rotating q and k first when it has rope_* "
       "attributes)",
       7, 7, 1, true, verifyAttention},
      {"add", "elementwise sum (residual)", 2, 2, 1, false, verifyElementwise},
      {"silu_mul", "silu(gate) * up (SwiGLU; a q8_1 result: quantized as quantize_q8_1 would)", 2, 2, 1, false,
       verifyElementwise},
      {"argmax", "index of the largest logit per row", 1, 1, 1, false, verifyNextTokens},
      {"sample",
       "the next token per row as the step's sampling inputs say: penalties, top-k, top-p, min-p, temperature, a "
       "seeded draw (greedy rows: the argmax)",
       1, 1, 1, false, verifyNextTokens},
  };
  return defs;
}

}  // namespace

const std::vector<OpDef>& coreOpDefs() {
  static const std::vector<OpDef> defs = [] {
    std::vector<OpDef> ops = stepOpDefs();
    // The collectives of a sharded graph (ir/TensorParallel.h).
    ops.insert(ops.end(), collectiveOpDefs().begin(), collectiveOpDefs().end());
    return ops;
  }();
  return defs;
}

}  // namespace reel::ir
