// The CPU reference executor on whole graphs of the tiny model: row independence, padding
// rows, input checks, weight checks (qtype, exact shape and rank, NaN and Inf values),
// finite logits and a consistent argmax.

#include "quant/QuantFormats.h"
#include "runtime/gguf/GgufWriter.h"
#include "runtime/reference/RefOps.h"
#include "runtime/reference/ReferenceExecutor.h"
#include "tests/runtime/reference/ReferenceTestSupport.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

using namespace reel;
using namespace reel::decode;
using namespace reel::reference;
using namespace reel::test;
using Catch::Matchers::Contains;

namespace {

/// One decode step of `rows` sequences, sequence i at position i.
StepInputs firstStepInputs(int32_t rows) {
  StepInputs inputs;
  for (int32_t i = 0; i < rows; ++i) {
    inputs.tokens.push_back(3 + 5 * i);
    inputs.positions.push_back(0);
    inputs.kvLens.push_back(1);
  }
  return inputs;
}

}  // namespace

TEST_CASE("the generic step runs at any M, each row as if alone", "[reference][executor]") {
  const models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = syntheticWeights(config);
  std::unique_ptr<ir::Module> module = compileModule(config, *weights.source, {});
  const ir::Graph& step = *module->findGraph("step");

  KvCacheState batchCache(kvCacheShapeFor(step, 3, 8));
  ReferenceExecutor batch(step, *weights.source, batchCache);
  StepResult together = batch.step(firstStepInputs(3));
  REQUIRE(together.rows == 3);
  REQUIRE(together.vocab == config.vocabSize);

  for (int32_t i = 0; i < 3; ++i) {
    KvCacheState aloneCache(kvCacheShapeFor(step, 1, 8));
    ReferenceExecutor alone(step, *weights.source, aloneCache);
    StepInputs inputs{{3 + 5 * i}, {0}, {1}, {}};
    StepResult single = alone.step(inputs);
    std::vector<float> row(together.logitsRow(i), together.logitsRow(i) + together.vocab);
    CHECK(row == single.logits);
    CHECK(together.nextTokens[static_cast<size_t>(i)] == single.nextTokens[0]);
  }
}

TEST_CASE("logits are finite, varied, and next_tokens is their argmax", "[reference][executor]") {
  const models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = syntheticWeights(config);
  std::unique_ptr<ir::Module> module = compileModule(config, *weights.source, {"specialize-buckets", {1, 4}, 8});
  const ir::Graph& graph = *module->findGraph("decode.m4");
  KvCacheState cache(kvCacheShapeFor(graph, 4, 8));
  ReferenceExecutor executor(graph, *weights.source, cache);
  REQUIRE(executor.staticRows() == 4);
  StepResult result = executor.step(firstStepInputs(4));
  for (int64_t r = 0; r < 4; ++r) {
    std::vector<float> row(result.logitsRow(r), result.logitsRow(r) + result.vocab);
    for (float value : row) REQUIRE(std::isfinite(value));
    CHECK(rms(row) > 0.1);
    CHECK(*std::max_element(row.begin(), row.end()) > *std::min_element(row.begin(), row.end()));
    CHECK(result.nextTokens[static_cast<size_t>(r)] == std::max_element(row.begin(), row.end()) - row.begin());
  }
}

TEST_CASE("step inputs are checked", "[reference][executor]") {
  const models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = syntheticWeights(config);
  std::unique_ptr<ir::Module> module = compileModule(config, *weights.source, {"specialize-buckets", {2}, 0});
  const ir::Graph& graph = *module->findGraph("decode.m2");
  KvCacheState cache(kvCacheShapeFor(graph, 2, 4));
  ReferenceExecutor executor(graph, *weights.source, cache);

  CHECK_THROWS_WITH(executor.step(firstStepInputs(1)), Contains("the graph takes 2 rows, got 1"));
  StepInputs inputs = firstStepInputs(2);
  inputs.kvLens.pop_back();
  CHECK_THROWS_WITH(executor.step(inputs), Contains("2 tokens but 2 positions, 1 kv_lens"));
  inputs = firstStepInputs(2);
  inputs.tokens[1] = static_cast<int32_t>(config.vocabSize);
  CHECK_THROWS_WITH(executor.step(inputs), Contains("token id 1024 (row 1) is outside the vocabulary"));
  inputs = firstStepInputs(2);
  inputs.positions = {4, 0};
  inputs.kvLens = {5, 1};
  CHECK_THROWS_WITH(executor.step(inputs), Contains("outside the cache of 4"));
  inputs = firstStepInputs(2);
  inputs.slots = {0, 2};
  CHECK_THROWS_WITH(executor.step(inputs), Contains("slot 2 is outside the KV cache's 2 slots"));
}

namespace {

/// Every KV entry of `cache`, in (layer, part, slot, position) order.
std::vector<uint16_t> cacheContents(const KvCacheState& cache) {
  const KvCacheShape& shape = cache.shape();
  std::vector<uint16_t> values;
  for (int64_t layer = 0; layer < shape.layers; ++layer)
    for (KvPart part : {KvPart::K, KvPart::V})
      for (int64_t slot = 0; slot < shape.slots; ++slot)
        for (int64_t position = 0; position < shape.capacity; ++position) {
          const uint16_t* entry = cache.entry(layer, part, slot, position);
          values.insert(values.end(), entry, entry + shape.kvHeads * shape.headDim);
        }
  return values;
}

/// One step of `graph` on a fresh cache of 3 slots x 8 positions: the `live` rows, then
/// padding rows (token 0, position 0, kv_len 0, the first row's slot) up to the graph's M.
std::pair<StepResult, std::vector<uint16_t>> runPadded(const ir::Graph& graph, const WeightSource& weights,
                                                       StepInputs live) {
  while (static_cast<int64_t>(live.tokens.size()) < stepGraphRows(graph).value()) {
    live.tokens.push_back(0);
    live.positions.push_back(0);
    live.kvLens.push_back(0);
    live.slots.push_back(live.slots.front());
  }
  KvCacheState cache(kvCacheShapeFor(graph, 3, 8));
  StepResult result = ReferenceExecutor(graph, weights, cache).step(live);
  return {std::move(result), cacheContents(cache)};
}

/// Checks that `padded` holds `alone`'s rows bit for bit, then zero rows.
void checkPaddedRows(const StepResult& padded, const StepResult& alone) {
  REQUIRE(padded.vocab == alone.vocab);
  const auto live = static_cast<size_t>(alone.rows * alone.vocab);
  CHECK(std::equal(alone.logits.begin(), alone.logits.end(), padded.logits.begin()));
  CHECK(std::equal(alone.nextTokens.begin(), alone.nextTokens.end(), padded.nextTokens.begin()));
  CHECK(std::all_of(padded.logits.begin() + static_cast<std::ptrdiff_t>(live), padded.logits.end(),
                    [](float value) { return value == 0.0f; }));
  CHECK(std::all_of(padded.nextTokens.begin() + alone.rows, padded.nextTokens.end(),
                    [](int32_t token) { return token == 0; }));
}

}  // namespace

TEST_CASE("padding rows change no live row, give zeros and write no KV entry", "[reference][executor]") {
  const models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = syntheticWeights(config);
  // fp8 decode matmuls: their step-wide activation scale is the one thing that couples rows,
  // so a padding row that leaked into it would move every live row.
  const std::string fp8 =
      "specialize-buckets,select-precision{dp4a=false,mma=false,dequant-hgemm=false,fp8-min-m=1,hgemm-min-m=1000}";
  std::unique_ptr<ir::Module> padded = compileModule(config, *weights.source, {fp8, {8}, 8});
  std::unique_ptr<ir::Module> exact = compileModule(config, *weights.source, {fp8, {3}, 3});
  const ir::Graph& bucket = *padded->findGraph("decode.m8");
  REQUIRE(matmulKernels(bucket).count("fp8") == 1);
  REQUIRE(matmulKernels(bucket) == matmulKernels(*exact->findGraph("decode.m3")));
  REQUIRE(matmulKernels(*padded->findGraph("prefill")) == matmulKernels(*exact->findGraph("prefill")));

  SECTION("a decode bucket: 3 live rows of M = 8 against M = 3") {
    const StepInputs live{{3, 8, 13}, {0, 0, 0}, {1, 1, 1}, {2, 0, 1}};
    const auto [result, cache] = runPadded(bucket, *weights.source, live);
    const auto [alone, aloneCache] = runPadded(*exact->findGraph("decode.m3"), *weights.source, live);
    REQUIRE(result.rows == 8);
    checkPaddedRows(result, alone);
    CHECK(cache == aloneCache);
  }
  SECTION("a prefill chunk: 3 prompt tokens in a chunk of 8 against a chunk of 3") {
    const StepInputs live{{5, 6, 7}, {0, 1, 2}, {1, 2, 3}, {1, 1, 1}};
    const auto [result, cache] = runPadded(*padded->findGraph("prefill"), *weights.source, live);
    const auto [alone, aloneCache] = runPadded(*exact->findGraph("prefill"), *weights.source, live);
    REQUIRE(result.rows == 8);
    checkPaddedRows(result, alone);
    CHECK(cache == aloneCache);
  }
  SECTION("a step of padding rows alone gives zeros") {
    const auto [result, cache] = runPadded(bucket, *weights.source, {{0}, {0}, {0}, {0}});
    CHECK(result.logits == std::vector<float>(static_cast<size_t>(8 * result.vocab), 0.0f));
    CHECK(result.nextTokens == std::vector<int32_t>(8, 0));
    CHECK(cache == std::vector<uint16_t>(cache.size(), 0));
  }
  SECTION("a live row after a padding row is refused") {
    KvCacheState cache(kvCacheShapeFor(bucket, 8, 8));
    StepInputs inputs = firstStepInputs(8);
    inputs.kvLens[2] = 0;
    CHECK_THROWS_WITH(ReferenceExecutor(bucket, *weights.source, cache).step(inputs),
                      Contains("row 3 has kv_len 1 after padding row 2 (padding rows come last)"));
  }
}

TEST_CASE("weights must exist with the graph's shape and qtype", "[reference][executor]") {
  const models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = syntheticWeights(config);
  std::unique_ptr<ir::Module> module = models::buildModule(config, {models::QuantScheme::Q8_0});
  const ir::Graph& step = *module->findGraph("step");
  KvCacheState cache(kvCacheShapeFor(step, 1, 4));
  CHECK_THROWS_WITH(ReferenceExecutor(step, *weights.source, cache),
                    Contains("tensor 'token_embd.weight' is q4_k, the graph expects q8_0"));

  models::ModelConfig wider = config;
  wider.intermediateSize = 768;
  std::unique_ptr<ir::Module> other = models::buildModule(wider, {});
  CHECK_THROWS_WITH(adoptWeightTypes(*other, *weights.source),
                    Contains("tensor 'blk.0.ffn_gate.weight' has shape [512, 256], the model needs q4_k[768, 256]"));
}

namespace {

/// The bytes of the tiny model's synthetic weight file, rewritten with `edit` applied to
/// each tensor (its declaration and data) before it is written.
template <typename Edit>
std::vector<uint8_t> editedTinyWeights(Edit&& edit) {
  const GgufFile& file = *syntheticWeights(tinyConfig()).file;
  std::vector<GgufTensorBlob> tensors;
  for (const GgufTensorInfo& info : file.tensors()) {
    const std::span<const uint8_t> data = file.tensorData(info);
    GgufTensorBlob blob{{info.name, info.type, {info.dims().begin(), info.dims().end()}}, {data.begin(), data.end()}};
    edit(blob);
    tensors.push_back(std::move(blob));
  }
  return serializeGguf(file.metadata(), tensors);
}

/// Greedy decoding of two tokens of tiny over `weights`.
DecodeReport decodeTiny(const WeightSource& weights) {
  const models::ModelConfig config = tinyConfig();
  std::unique_ptr<ir::Module> module = compileModule(config, weights, {"specialize-buckets,select-precision", {1}, 4});
  return runGreedyDecode(findStepGraphs(*module), weights, {{{1, 2}}, 2, {}}, {});
}

}  // namespace

TEST_CASE("a tensor of another rank is refused even where its elements would line up", "[reference][executor]") {
  // blk.0.ffn_gate.weight is [512, 256]; as [2, 256, 256] its rows still multiply out to 512.
  const std::vector<uint8_t> bytes = editedTinyWeights([](GgufTensorBlob& blob) {
    if (blob.decl.name == "blk.0.ffn_gate.weight") blob.decl.ne = {256, 256, 2};
  });
  const GgufFile file = GgufFile::fromMemory(bytes, "3d.gguf");
  const GgufWeightSource source(file);
  std::unique_ptr<ir::Module> module = models::buildModule(tinyConfig(), {});
  CHECK_THROWS_WITH(adoptWeightTypes(*module, source),
                    "3d.gguf: tensor 'blk.0.ffn_gate.weight' has 3 dimensions, the model needs q4_k[512, 256]");
}

TEST_CASE("NaN or Inf weights are refused before decoding, unless the check is off", "[reference][executor]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<uint8_t> nanNorm = editedTinyWeights([&](GgufTensorBlob& blob) {
    if (blob.decl.name == "blk.1.attn_norm.weight") std::memcpy(blob.data.data() + 7 * sizeof(float), &nan, 4);
  });
  const GgufFile file = GgufFile::fromMemory(nanNorm, "nan.gguf");
  GgufWeightSource source(file);
  CHECK(source.valueCheck() == TensorValueCheck::On);  // the default
  CHECK_THROWS_WITH(decodeTiny(source),
                    "nan.gguf: tensor 'blk.1.attn_norm.weight' (f32): element 7 (row 0, column 7) "
                    "is nan; the weights are damaged");
  // Off, the same weights decode (to whatever NaN logits give).
  source.setValueCheck(TensorValueCheck::Off);
  CHECK(decodeTiny(source).sequences.at(0).tokens.size() == 2);

  // An infinite scale of one Q4_K block of a matrix.
  const uint16_t f16Inf = 0x7c00;
  const std::vector<uint8_t> infScale = editedTinyWeights([&](GgufTensorBlob& blob) {
    if (blob.decl.name == "blk.0.ffn_up.weight")
      std::memcpy(blob.data.data() + 3 * sizeof(quant::BlockQ4K), &f16Inf, 2);
  });
  const GgufFile infFile = GgufFile::fromMemory(infScale, "inf.gguf");
  CHECK_THROWS_WITH(decodeTiny(GgufWeightSource(infFile)),
                    "inf.gguf: tensor 'blk.0.ffn_up.weight' (q4_k): block 3 (row 3) has scale d = inf; the weights "
                    "are damaged");
}

TEST_CASE("a registered execution hook runs a new op", "[reference][executor][registry]") {
  // test_doubled_op: x + x, put between the logits and the logits output.
  static const bool registered = [] {
    ir::registerOp({"test_doubled_op", "a test op: twice its operand", 1, 1, 1, false, nullptr});
    registerOpExecution("test_doubled_op", [](const ir::Op& op, ExecutionContext& context) {
      context.setResult(op, 0, add(context.operand(op, 0), context.operand(op, 0)));
    });
    return true;
  }();
  CHECK(registered);
  const models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = syntheticWeights(config);
  std::unique_ptr<ir::Module> module = compileModule(config, *weights.source, {"specialize-buckets", {1}, 0});
  ir::Graph& graph = *module->findGraph("decode.m1");
  KvCacheState plainCache(kvCacheShapeFor(graph, 1, 8));
  const StepResult plain = ReferenceExecutor(graph, *weights.source, plainCache).step(firstStepInputs(1));

  ir::Value* logits = graph.lookup("logits");
  ir::Op* output = nullptr;
  for (const std::unique_ptr<ir::Op>& op : graph.ops())
    if (op->name() == "output" && op->operand(0) == logits) output = op.get();
  REQUIRE(output);
  ir::OpSpec spec;
  spec.name = "test_doubled_op";
  spec.operands.push_back(logits);
  spec.resultNames.push_back("doubled");
  spec.resultTypes.push_back(logits->type());
  output->setOperand(0, graph.create(spec, output)->result());
  KvCacheState cache(kvCacheShapeFor(graph, 1, 8));
  const StepResult doubled = ReferenceExecutor(graph, *weights.source, cache).step(firstStepInputs(1));
  REQUIRE(doubled.logits.size() == plain.logits.size());
  for (size_t i = 0; i < plain.logits.size(); ++i) CHECK(doubled.logits[i] == 2 * plain.logits[i]);
  CHECK(doubled.nextTokens == plain.nextTokens);
  CHECK_THROWS_WITH(registerOpExecution("test_doubled_op", [](const ir::Op&, ExecutionContext&) {}),
                    "op 'test_doubled_op' already has a reference execution");
}

TEST_CASE("an op the reference does not know is refused up front", "[reference][executor]") {
  const models::ModelConfig config = tinyConfig();
  const synth::OpenWeights& weights = syntheticWeights(config);
  ir::registerOp({"test_mystery_op", "an op no executor implements", 1, 1, 1, false, nullptr});
  std::unique_ptr<ir::Module> module = compileModule(config, *weights.source, {});
  ir::Graph& step = *module->graphs.front();
  ir::OpSpec spec;
  spec.name = "test_mystery_op";
  spec.operands.push_back(step.lookup("x0"));
  spec.resultNames.push_back("mystery");
  spec.resultTypes.push_back(step.lookup("x0")->type());
  step.create(spec);
  KvCacheState cache(kvCacheShapeFor(step, 1, 4));
  CHECK_THROWS_WITH(ReferenceExecutor(step, *weights.source, cache),
                    Contains("op 'test_mystery_op' (%mystery): no reference execution is registered for this op"));
}
