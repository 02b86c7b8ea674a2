#include "models/Builder.h"

#include "models/QuantPolicy.h"

#include <fmt/format.h>

namespace reel::models {
namespace {

using ir::Dim;
using ir::ElemType;
using ir::kDimM;
using ir::kDimS;
using ir::TensorType;
using ir::Value;

/// Appends ops to a graph, one transformer layer at a time.
class StepBuilder {
 public:
  StepBuilder(const ModelConfig& config, const BuildOptions& options, ir::Graph& graph)
      : config_(config), options_(options), graph_(graph) {
    loc_.file = config.source.empty() ? "<" + config.name + ">" : config.source;
  }

  void build() {
    Value* tokens = input("token_ids");
    positions_ = input("positions");
    kvLens_ = input("kv_lens");
    Value* x = op("embedding", {tokens, weight("token_embd", WeightRole::TokenEmbd, vocabByHidden())}, "x0",
                  f32(config_.hiddenSize));
    for (int64_t layer = 0; layer < config_.numLayers; ++layer) x = transformerLayer(x, layer);
    layer_ = -1;
    Value* normed = rmsNorm(x, "output_norm", "final_norm");
    Value* head =
        config_.tieEmbeddings ? graph_.lookup("token_embd") : weight("output", WeightRole::Output, vocabByHidden());
    Value* logits = op("matmul", {normed, head}, "logits", f32(config_.vocabSize));
    Value* next =
        op(options_.sampling ? "sample" : "argmax", {logits}, "next_tokens", TensorType(ElemType::I32, {kDimM}));
    output(logits, "logits");
    output(next, "next_tokens");
  }

 private:
  static TensorType f32(Dim width) { return TensorType(ElemType::F32, {kDimM, width}); }
  [[nodiscard]] std::vector<Dim> vocabByHidden() const { return {config_.vocabSize, config_.hiddenSize}; }

  Value* op(llvm::StringRef name, std::initializer_list<Value*> operands, const std::string& result,
            const TensorType& type, ir::AttrDict attrs = {}) {
    ir::OpSpec spec;
    spec.name = name;
    spec.operands.assign(operands.begin(), operands.end());
    spec.resultNames.push_back(layer_ >= 0 ? fmt::format("l{}.{}", layer_, result) : result);
    spec.resultTypes.push_back(type);
    spec.attrs = std::move(attrs);
    spec.layer = static_cast<int>(layer_);
    spec.loc = loc_;
    return graph_.create(spec)->result();
  }

  Value* source(llvm::StringRef name, const std::string& result, const TensorType& type, ir::AttrDict attrs) {
    ir::OpSpec spec;
    spec.name = name;
    spec.resultNames.push_back(result);
    spec.resultTypes.push_back(type);
    spec.attrs = std::move(attrs);
    spec.layer = static_cast<int>(layer_);
    spec.loc = loc_;
    return graph_.create(spec)->result();
  }

  Value* input(const std::string& name) {
    ir::AttrDict attrs;
    attrs.set("name", name);
    return source("input", name, TensorType(ElemType::I32, {kDimM}), attrs);
  }

  void output(Value* value, const std::string& name) {
    ir::OpSpec spec;
    spec.name = "output";
    spec.operands.push_back(value);
    spec.attrs.set("name", name);
    spec.loc = loc_;
    graph_.create(spec);
  }

  /// A weight named after its GGUF tensor ("blk.0.attn_q" -> "blk.0.attn_q.weight").
  Value* weight(const std::string& stem, WeightRole role, std::vector<Dim> shape, const char* suffix = "weight") {
    WeightSlot slot{role, layer_, shape.back()};
    ElemType type = weightType(config_, options_.scheme, slot);
    std::string valueName = std::string(suffix) == "weight" ? stem : stem + "." + suffix;
    ir::AttrDict attrs;
    attrs.set("name", stem + "." + suffix);
    return source("weight", valueName, TensorType(type, shape), attrs);
  }

  Value* rmsNorm(Value* x, const std::string& weightStem, const std::string& result) {
    Value* w = weight(weightStem, WeightRole::Norm, {config_.hiddenSize});
    ir::AttrDict attrs;
    attrs.set("eps", config_.rmsNormEps);
    return op("rms_norm", {x, w}, result, x->type(), attrs);
  }

  Value* projection(Value* x, const std::string& stem, WeightRole role, Dim outWidth, const std::string& result) {
    Value* w = weight(blk(stem), role, {outWidth, x->type().shape[1]});
    Value* y = op("matmul", {x, w}, result, f32(outWidth));
    bool biased =
        config_.qkvBias && (role == WeightRole::AttnQ || role == WeightRole::AttnK || role == WeightRole::AttnV);
    if (!biased) return y;
    Value* b = weight(blk(stem), WeightRole::Bias, {outWidth}, "bias");
    return op("bias_add", {y, b}, result + "_b", y->type());
  }

  Value* rope(Value* x, int64_t heads, const std::string& result) {
    ir::AttrDict attrs;
    attrs.set("style", std::string(config_.ropeStyle == RopeStyle::Neox ? "neox" : "norm"));
    attrs.set("n_heads", heads);
    attrs.set("head_dim", config_.headDim);
    attrs.set("freq_base", config_.ropeTheta);
    if (config_.ropeScaling) {
      attrs.set("scaling", std::string("llama3"));
      attrs.set("scale_factor", config_.ropeScaling->factor);
      attrs.set("low_freq_factor", config_.ropeScaling->lowFreqFactor);
      attrs.set("high_freq_factor", config_.ropeScaling->highFreqFactor);
      attrs.set("original_context", config_.ropeScaling->originalContext);
    }
    return op("rope", {x, positions_}, result, x->type(), attrs);
  }

  Value* kvCache(const char* part) {
    ir::AttrDict attrs;
    attrs.set("layer", layer_);
    attrs.set("part", std::string(part));
    return source("kv_cache", fmt::format("l{}.{}_cache", layer_, part),
                  TensorType(ElemType::F16, {kDimS, config_.numKvHeads, config_.headDim}), attrs);
  }

  Value* attention(Value* x) {
    Dim qWidth = config_.numHeads * config_.headDim;
    Dim kvWidth = config_.numKvHeads * config_.headDim;
    Value* q = rope(projection(x, "attn_q", WeightRole::AttnQ, qWidth, "q"), config_.numHeads, "q_rot");
    Value* k = rope(projection(x, "attn_k", WeightRole::AttnK, kvWidth, "k"), config_.numKvHeads, "k_rot");
    Value* v = projection(x, "attn_v", WeightRole::AttnV, kvWidth, "v");
    ir::AttrDict attrs;
    attrs.set("layer", layer_);
    attrs.set("n_heads", config_.numHeads);
    attrs.set("n_kv_heads", config_.numKvHeads);
    attrs.set("head_dim", config_.headDim);
    if (config_.slidingWindow) attrs.set("window", *config_.slidingWindow);
    Value* kCache = kvCache("k");
    Value* vCache = kvCache("v");
    Value* mixed = op("attention", {q, k, v, kCache, vCache, positions_, kvLens_}, "attn", f32(qWidth), attrs);
    return projection(mixed, "attn_output", WeightRole::AttnOut, config_.hiddenSize, "attn_out");
  }

  Value* feedForward(Value* x) {
    Value* gate = projection(x, "ffn_gate", WeightRole::FfnGate, config_.intermediateSize, "gate");
    Value* up = projection(x, "ffn_up", WeightRole::FfnUp, config_.intermediateSize, "up");
    Value* act = op("silu_mul", {gate, up}, "act", gate->type());
    return projection(act, "ffn_down", WeightRole::FfnDown, config_.hiddenSize, "ffn_out");
  }

  Value* transformerLayer(Value* x, int64_t layer) {
    layer_ = layer;
    Value* attnOut = attention(rmsNorm(x, blk("attn_norm"), "attn_in"));
    Value* h = op("add", {x, attnOut}, "h", x->type());
    Value* ffnOut = feedForward(rmsNorm(h, blk("ffn_norm"), "ffn_in"));
    return op("add", {h, ffnOut}, "out", x->type());
  }

  [[nodiscard]] std::string blk(const std::string& stem) const { return fmt::format("blk.{}.{}", layer_, stem); }

  const ModelConfig& config_;
  const BuildOptions& options_;
  ir::Graph& graph_;
  SourceLoc loc_;
  int64_t layer_ = -1;
  Value* positions_ = nullptr;
  Value* kvLens_ = nullptr;
};

void setConfigAttrs(const ModelConfig& config, const BuildOptions& options, ir::AttrDict& attrs) {
  attrs.set("name", config.name);
  attrs.set("arch", config.architecture);
  attrs.set("quant", std::string(quantSchemeName(options.scheme)));
  attrs.set("vocab", config.vocabSize);
  attrs.set("hidden", config.hiddenSize);
  attrs.set("ffn", config.intermediateSize);
  attrs.set("layers", config.numLayers);
  attrs.set("heads", config.numHeads);
  attrs.set("kv_heads", config.numKvHeads);
  attrs.set("head_dim", config.headDim);
  attrs.set("context", config.maxContext);
  attrs.set("rms_eps", config.rmsNormEps);
  attrs.set("rope_theta", config.ropeTheta);
  attrs.set("rope_style", std::string(config.ropeStyle == RopeStyle::Neox ? "neox" : "norm"));
  if (config.ropeScaling) {
    attrs.set("rope_scale_factor", config.ropeScaling->factor);
    attrs.set("rope_low_freq_factor", config.ropeScaling->lowFreqFactor);
    attrs.set("rope_high_freq_factor", config.ropeScaling->highFreqFactor);
    attrs.set("rope_original_context", config.ropeScaling->originalContext);
  }
  attrs.set("tied_embeddings", config.tieEmbeddings);
  attrs.set("qkv_bias", config.qkvBias);
  if (config.slidingWindow) attrs.set("window", *config.slidingWindow);
}

}  // namespace

std::unique_ptr<ir::Module> buildModule(const ModelConfig& config, const BuildOptions& options) {
  auto module = std::make_unique<ir::Module>();
  module->name = config.name;
  setConfigAttrs(config, options, module->attrs);
  auto graph = std::make_unique<ir::Graph>("step");
  StepBuilder(config, options, *graph).build();
  module->graphs.push_back(std::move(graph));
  return module;
}

std::vector<WeightInfo> modelWeights(const ModelConfig& config, const BuildOptions& options) {
  std::unique_ptr<ir::Module> module = buildModule(config, options);
  std::vector<WeightInfo> weights;
  for (const auto& op : module->graphs.front()->ops())
    if (op->name() == "weight") weights.push_back({*op->attrs().getString("name"), op->result()->type()});
  return weights;
}

ModelConfig configFromModule(const ir::Module& module) {
  const ir::AttrDict& attrs = module.attrs;
  auto need = [&](const char* key) -> const ir::Attribute& {
    const ir::Attribute* value = attrs.find(key);
    if (!value) failPlain("module @{}: missing module attribute '{}'", module.name, key);
    return *value;
  };
  auto integer = [&](const char* key) {
    const ir::Attribute& value = need(key);
    if (!std::holds_alternative<int64_t>(value))
      failPlain("module @{}: attribute '{}' must be an integer", module.name, key);
    return std::get<int64_t>(value);
  };
  auto real = [&](const char* key) {
    need(key);
    return *attrs.getFloat(key);
  };
  ModelConfig config;
  config.name = attrs.getString("name").value_or(module.name);
  config.architecture = attrs.getString("arch").value_or("");
  config.source = "<module @" + module.name + ">";
  config.vocabSize = integer("vocab");
  config.hiddenSize = integer("hidden");
  config.intermediateSize = integer("ffn");
  config.numLayers = integer("layers");
  config.numHeads = integer("heads");
  config.numKvHeads = integer("kv_heads");
  config.headDim = integer("head_dim");
  config.maxContext = integer("context");
  config.rmsNormEps = real("rms_eps");
  config.ropeTheta = real("rope_theta");
  config.ropeStyle =
      attrs.getString("rope_style") == std::optional<std::string>("neox") ? RopeStyle::Neox : RopeStyle::Norm;
  if (attrs.has("rope_scale_factor")) {
    config.ropeScaling = Llama3RopeScaling{real("rope_scale_factor"), real("rope_low_freq_factor"),
                                           real("rope_high_freq_factor"), integer("rope_original_context")};
  }
  config.tieEmbeddings = attrs.getBool("tied_embeddings").value_or(false);
  config.qkvBias = attrs.getBool("qkv_bias").value_or(false);
  if (attrs.has("window")) config.slidingWindow = integer("window");
  config.validate();
  return config;
}

}  // namespace reel::models
