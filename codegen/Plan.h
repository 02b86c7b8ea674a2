#pragma once
/// \file
/// A plan: what codegen produces and the runtime replays. Per bucket, an ordered list of
/// steps (kernel launches with their dims and bound arguments, and library calls) and the
/// size of its activation arena; for the whole model, the weight slots (each tensor in the
/// layout its kernels need), the optimized IR it was lowered from, the model config and
/// its hash, the GPU profile and the pipeline string. The runtime decides nothing: it
/// allocates what the plan says and launches what the plan lists.

#include "ir/DecisionAttrs.h"
#include "kernels/KernelCatalog.h"
#include "kernels/SampleMath.h"

#include <cstdint>
#include <string>
#include <vector>

namespace reel::codegen {

/// The plan file format version; a plan of another version is refused. Raise it whenever a
/// plan's fields or the launch dims codegen gives a kernel change, and add the version to the
/// table in docs/plan-format.md.
inline constexpr int kPlanFormatVersion = 9;

/// Where a pointer argument points, resolved by the runtime at load time.
enum class BufferKind {
  Null,       ///< nullptr
  Arena,      ///< activation arena + offset (per bucket)
  Weight,     ///< a weight slot's device copy + offset
  StepInput,  ///< a per-step input buffer: token_ids, positions, kv_lens, slots, next_tokens, sampling, recent_tokens
  KvCache,    ///< the K or V cache of a layer (index = layer * 2 + part)
  Scratch,    ///< plan-wide scratch (flash-decoding partials, FP8 activation buffers) + offset
};

/// Per-step input buffers, written by one host-to-device copy before each replay (next_tokens
/// is the step's output). sampling: kernels::SampleRow per row; recent_tokens:
/// kernels::kSampleWindow tokens per row.
enum class StepInput {
  TokenIds = 0,
  Positions = 1,
  KvLens = 2,
  Slots = 3,
  NextTokens = 4,
  Sampling = 5,
  RecentTokens = 6
};
inline constexpr int kNumStepInputs = 7;

/// The int32 values per row of a step input.
constexpr int64_t stepInputWidth(StepInput input) {
  return input == StepInput::Sampling       ? kernels::kSampleRowWords
         : input == StepInput::RecentTokens ? kernels::kSampleWindow
                                            : 1;
}

struct BufferRef {
  BufferKind kind = BufferKind::Null;
  int64_t index = 0;   ///< weight slot, step input, or layer*2+part
  int64_t offset = 0;  ///< bytes
  friend bool operator==(const BufferRef&, const BufferRef&) = default;
};

/// One launch of the schedule.
struct Step {
  std::string kernel;  ///< a kernels::kernelCatalog() id
  kernels::LaunchDims dims;
  std::vector<BufferRef> ptrs;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::string op;           ///< the IR value it computes, e.g. "%l3.gate" (for inspect/debug)
  double predictedUs = 0;   ///< the cost model's estimate
  int64_t weightBytes = 0;  ///< weight bytes this step reads
  friend bool operator==(const Step&, const Step&) = default;
};

/// How a weight is stored on the GPU: the IR's enum (a weight op's `layout`).
using ir::WeightLayout;
using ir::weightLayoutName;

/// One weight tensor in one layout. A tensor used in two layouts has two slots.
struct WeightSlot {
  std::string tensor;  ///< GGUF tensor name
  std::string qtype;   ///< its type in the file ("q4_k")
  WeightLayout layout = WeightLayout::Gguf;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t bytes = 0;  ///< device bytes in this layout
  friend bool operator==(const WeightSlot&, const WeightSlot&) = default;
};

/// The KV cache the schedules address: per layer a K and a V part (BufferRef index layer * 2 +
/// part), each f16 [slot][Plan::maxContext][kvHeads][headDim]. All zero for a model without one.
struct KvCacheShape {
  int64_t layers = 0;
  int64_t kvHeads = 0;
  int64_t headDim = 0;
  friend bool operator==(const KvCacheShape&, const KvCacheShape&) = default;
};

/// The schedule of one bucket.
struct BucketPlan {
  std::string graph;  ///< "decode.m4"
  std::string phase;  ///< "decode" or "prefill"
  int64_t m = 0;      ///< rows of the step
  int64_t arenaBytes = 0;
  /// Context class: this schedule serves steps whose longest KV length is above this
  /// (0: every step). A decode bucket with flash-decoding has a ".long" variant.
  int64_t minContext = 0;
  int64_t logitsOffset = -1;  ///< arena offset of the f32 [m][vocab] logits
  std::vector<Step> steps;
  friend bool operator==(const BucketPlan&, const BucketPlan&) = default;
};

struct Plan {
  int formatVersion = kPlanFormatVersion;
  std::string model;        ///< model name
  uint64_t configHash = 0;  ///< hash of the model config the plan was compiled for
  std::string gpuProfile;   ///< profile name
  double bandwidthGBs = 0;  ///< the profile's bandwidth (for inspect's predictions)
  std::string pipeline;     ///< the pass pipeline that produced it
  int64_t maxContext = 0;   ///< KV positions per sequence slot the schedule was lowered for
  int64_t scratchBytes = 0;
  KvCacheShape kvCache;
  std::vector<WeightSlot> weights;
  std::vector<BucketPlan> buckets;
  std::string moduleIr;  ///< the optimized IR (text), for the CPU reference and for reading
  friend bool operator==(const Plan&, const Plan&) = default;
};

}  // namespace reel::codegen
