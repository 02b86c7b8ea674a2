// share-activation-quant and plan-memory.
#include "passes/DecisionTestSupport.h"
#include "passes/PassTable.h"

#include <catch2/catch.hpp>

#include <map>

using namespace reel;
using namespace reel::passes;
using namespace reel::passes::testing;

namespace {

bool isDp4aMatmul(const ir::Op& op) {
  bool matmulLike = op.name() == "matmul" || op.name() == "matmul_qkv" || op.name() == "matmul_gate_up";
  return matmulLike && op.attrs().getString("kernel") == std::optional<std::string>("dp4a");
}

/// A value's live interval as the test computes it, independently of the pass (value null: an
/// op's workspace, live while the op runs).
struct Interval {
  const ir::Value* value;
  size_t start;
  size_t end;
  int64_t offset;
  int64_t bytes;
};

std::vector<Interval> arenaIntervals(const ir::Graph& graph, int64_t m) {
  std::map<const ir::Op*, size_t> position;
  for (const std::unique_ptr<ir::Op>& op : graph.ops()) position[op.get()] = position.size();
  std::vector<Interval> intervals;
  for (const std::unique_ptr<ir::Op>& op : graph.ops()) {
    const std::optional<int64_t> workspace = op->attrs().getInt("workspace");
    if (workspace)
      intervals.push_back(
          {nullptr, position[op.get()], position[op.get()], *op->attrs().getInt("workspace_offset"), *workspace});
    const std::vector<int64_t>* offsets = op->attrs().getInts("offsets");
    if (!offsets) continue;
    REQUIRE(offsets->size() == op->numResults());
    for (unsigned i = 0; i < op->numResults(); ++i) {
      const ir::Value* value = op->result(i);
      size_t end = position[op.get()];
      for (const ir::Use& use : value->uses()) end = std::max(end, position[use.user]);
      intervals.push_back({value, position[op.get()], end, (*offsets)[i], *value->type().numBytes(m, 0)});
    }
  }
  return intervals;
}

/// `b` is written in place over `a`: a rope or bias_add whose input `a` dies at it.
bool writtenInPlace(const Interval& a, const Interval& b) {
  if (a.value == nullptr || b.value == nullptr) return false;
  const ir::Op* op = b.value->producer();
  bool inPlaceKernel = op->name() == "rope" || op->name() == "bias_add";
  return inPlaceKernel && op->operand(0) == a.value && a.end == b.start && a.offset == b.offset;
}

}  // namespace

TEST_CASE("share-activation-quant: mma consumers share the Q8_1 activations of dp4a ones",
          "[passes][share-activation-quant][mma]") {
  // q and k on mma, v on dp4a (a hand edit): one quantization of attn_in serves all three.
  PassContext context = contextFor(h100Like(), {16});
  std::unique_ptr<ir::Module> module =
      compile(llama3_8b(), "specialize-buckets,canonicalize,select-precision{fp8=false}", context);
  ir::Graph& graph = *module->findGraph("decode.m16");
  REQUIRE(attrOf(graph, "l0.q", "kernel") == "mma");
  for (const std::unique_ptr<ir::Op>& op : graph.ops())
    if (op->numResults() == 1 && op->result()->name() == "l0.v") op->attrs().set("kernel", std::string("dp4a"));
  PassManager(Pipeline::parse("share-activation-quant")).run(*module, context);
  const ir::Value* quantized = producerOf(graph, "l0.q")->operand(0);
  CHECK(quantized->name() == "l0.attn_in.q8");
  CHECK(quantized->producer()->name() == "quantize_q8_1");
  CHECK(producerOf(graph, "l0.k")->operand(0) == quantized);
  CHECK(producerOf(graph, "l0.v")->operand(0) == quantized);
  CHECK(opsNamed(graph, "cast_f16").empty());
}

TEST_CASE("share-activation-quant: one quantization per input, shared by its dp4a consumers",
          "[passes][share-activation-quant]") {
  PassContext context = contextFor(h100Like(), {4, 8});
  context.memoryBudget = int64_t{80} << 30;  // room for the FP8 copies at M = 8
  std::unique_ptr<ir::Module> module = compile(
      llama3_8b(), "specialize-buckets,canonicalize,select-precision,fuse-gate-up,share-activation-quant", context);
  const ir::Graph& m4 = *module->findGraph("decode.m4");
  std::map<const ir::Value*, int> consumersPerQuantized;
  for (const std::unique_ptr<ir::Op>& op : m4.ops()) {
    if (!isDp4aMatmul(*op)) continue;
    INFO(op->describe());
    REQUIRE(op->operand(0)->type().elem == ir::ElemType::Q8_1);  // no dp4a matmul reads f32
    REQUIRE(op->operand(0)->producer()->name() == "quantize_q8_1");
    ++consumersPerQuantized[op->operand(0)];
  }
  // Per layer: attn_in, attn, ffn_in, act; plus final_norm for the logits.
  CHECK(opsNamed(m4, "quantize_q8_1").size() == 32 * 4 + 1);
  CHECK(consumersPerQuantized.size() == 32 * 4 + 1);
  // Without fuse-qkv, q, k and v are three matmuls: they share one quantization.
  const ir::Op* quantized = producerOf(m4, "l0.attn_in.q8");
  REQUIRE(quantized);
  CHECK(consumersPerQuantized[quantized->result()] == 3);
  CHECK(quantized->result()->type().str() == "q8_1[4, 4096]");
  // FP8 at M=8: nothing to quantize.
  CHECK(opsNamed(*module->findGraph("decode.m8"), "quantize_q8_1").empty());
  bool explained = false;
  for (const Decision& decision : decisionsOf(context, "share-activation-quant", "decode.m4"))
    explained |= decision.subject.rfind("%l*.attn_in (", 0) == 0 &&
                 decision.reason.find("for 3 consumers instead of") != std::string::npos;
  CHECK(explained);
}

TEST_CASE("plan-memory: no two simultaneously live activations overlap", "[passes][plan-memory]") {
  PassContext context = contextFor(h100Like(), {1, 4, 64});
  std::unique_ptr<ir::Module> module = compile(llama3_8b(), kDefaultPipeline, context);
  for (const std::unique_ptr<ir::Graph>& graph : module->graphs) {
    INFO(graph->name());
    int64_t m = *graph->attrs().getInt("bucket");
    std::vector<Interval> intervals = arenaIntervals(*graph, m);
    REQUIRE(intervals.size() > 100);
    int64_t arena = *graph->attrs().getInt("arena_bytes");
    int64_t unshared = 0;
    int64_t largestWorkspace = 0;  // dequant-hgemm's f16 weight: the output matrix's in prefill
    for (const Interval& a : intervals) {
      if (a.value)
        unshared += a.bytes;
      else
        largestWorkspace = std::max(largestWorkspace, a.bytes);
      CHECK(a.offset % 256 == 0);
      CHECK(a.offset + a.bytes <= arena);
    }
    size_t overlaps = 0;
    for (size_t i = 0; i < intervals.size(); ++i)
      for (size_t j = i + 1; j < intervals.size(); ++j) {
        const Interval& a = intervals[i];
        const Interval& b = intervals[j];
        bool liveTogether = a.start <= b.end && b.start <= a.end;
        bool shareBytes = a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes;
        if (liveTogether && shareBytes && !writtenInPlace(a, b) && !writtenInPlace(b, a)) ++overlaps;
      }
    CHECK(overlaps == 0);
    // Reuse: a decode step needs a few layers' worth at most, besides one workspace at a time.
    CHECK(arena - largestWorkspace < unshared / 10);
    REQUIRE(context.report.count("peak activation bytes @" + graph->name()) == 1);
    if (largestWorkspace > 0)
      CHECK_THAT(context.report.at("peak activation bytes @" + graph->name()), Catch::Contains("largest workspace"));
  }
}

TEST_CASE("plan-memory: weights, KV caches and inputs stay out of the arena", "[passes][plan-memory]") {
  PassContext context = contextFor(h100Like(), {2});
  std::unique_ptr<ir::Module> module = compile(tinyModel(), "specialize-buckets,plan-memory{alignment=512}", context);
  const ir::Graph& graph = *module->findGraph("decode.m2");
  for (const std::unique_ptr<ir::Op>& op : graph.ops()) {
    bool outside = op->name() == "weight" || op->name() == "kv_cache" || op->name() == "input";
    CHECK(op->attrs().has("offsets") == (!outside && op->numResults() > 0));
    if (const std::vector<int64_t>* offsets = op->attrs().getInts("offsets"))
      for (int64_t offset : *offsets) CHECK(offset % 512 == 0);
  }
  // The logits: 2 x 1024 f32 = 8 kB, the largest activation.
  CHECK(*graph.attrs().getInt("arena_bytes") >= 2 * 1024 * 4);
}

TEST_CASE("plan-memory leaves a generic graph alone", "[passes][plan-memory]") {
  PassContext context = contextFor(h100Like());
  std::unique_ptr<ir::Module> module = models::buildModule(tinyModel(), {models::QuantScheme::Q4_K_M});
  CHECK_FALSE(PassManager(Pipeline::parse("plan-memory")).run(*module, context));
  CHECK_FALSE(module->graphs.front()->attrs().has("arena_bytes"));
}
