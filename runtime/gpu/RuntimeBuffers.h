#pragma once
/// \file
/// The device memory a plan runs in, apart from the weights: the activation arena (the largest
/// bucket's), the plan-wide scratch, the KV cache and the per-step input buffers. Every address
/// is fixed for the life of the runtime, so CUDA graphs captured once stay valid; only the
/// contents of the step-input buffers change between replays.
///
/// Step inputs: one device block of int32, refilled by one host-to-device copy per step. A
/// bucket of m rows reads token ids at [0, m), positions at [m, 2m), KV lengths at [2m, 3m) and
/// KV slots at [3m, 4m), so the copy is 4m values; a plan that samples also reads the rows'
/// sampling parameters at [4m, 14m) and their recent tokens at [14m, 270m)
/// (codegen::stepInputWidth values per row). next_tokens (the argmax's or the sample's output)
/// has its own buffer.

#include "codegen/Plan.h"
#include "codegen/PlanCheck.h"
#include "kernels/KernelCatalog.h"
#include "runtime/gpu/DeviceMemory.h"
#include "runtime/gpu/WeightUpload.h"

#include <cuda_runtime_api.h>

#include <cstdint>

namespace reel::gpu {

/// The KV cache shape: per layer a K and a V array of f16 [slots][positions][kvHeads][headDim].
struct KvLayout {
  int64_t layers = 0;
  int64_t slots = 0;
  int64_t positions = 0;  ///< the plan's maxContext
  int64_t kvHeads = 0;
  int64_t headDim = 0;

  /// Bytes of one layer's K (or V) array (kernels::kFootprintOverflow where that overflows;
  /// kvLayoutOf and RuntimeBuffers refuse such a layout).
  [[nodiscard]] int64_t partBytes() const {
    return kernels::saturatingMul(slots, codegen::kvSlotBytes(shape(), positions));
  }
  /// Bytes of the whole cache (codegen::kvCacheBytes: throws where that overflows).
  [[nodiscard]] int64_t totalBytes() const { return codegen::kvCacheBytes(shape(), positions, slots); }
  [[nodiscard]] codegen::KvCacheShape shape() const { return {layers, kvHeads, headDim}; }
};

/// The KV cache of `plan` (its kv_cache shape, maxContext positions) for `slots` sequences.
/// Throws when the plan has no KV cache or the cache's size overflows.
KvLayout kvLayoutOf(const codegen::Plan& plan, int64_t slots);

/// The largest m over the plan's buckets (the rows the step-input buffers hold).
int64_t maxBucketRows(const codegen::Plan& plan);

/// Where step input `input` (any but next_tokens) starts in the step-input block of a bucket of
/// `m` rows, in int32 values (see the file comment).
int64_t stepInputStart(codegen::StepInput input, int64_t m);
/// The int32 values of the step-input block of a bucket of `m` rows: 4m, or with the sampling
/// inputs 270m.
int64_t stepInputValues(int64_t m, bool sampling);

class RuntimeBuffers {
 public:
  /// Allocates the arena (the largest bucket's arenaBytes), the scratch, the KV cache for
  /// `kv.slots` sequences and the step inputs; counted in `ledger`. `plan` must outlive this.
  RuntimeBuffers(const codegen::Plan& plan, const KvLayout& kv, MemoryLedger& ledger);

  /// The sizes of the buffers a step of `bucket` binds to (for codegen::checkStep): the arena,
  /// scratch and KV cache as allocated, the uploaded weight slots, the bucket's step inputs.
  [[nodiscard]] codegen::BufferSizes sizesFor(const codegen::BucketPlan& bucket, const DeviceWeights& weights) const;

  /// The device address a step argument points to in a bucket of `bucketRows` rows. Throws
  /// when the reference's start is out of range (a weight slot not uploaded, a layer past the
  /// cache, an offset past its buffer); codegen::checkStep checks the whole footprint.
  [[nodiscard]] void* resolve(const codegen::BufferRef& ref, int64_t bucketRows, const DeviceWeights& weights) const;

  /// The plan the buffers were allocated for.
  [[nodiscard]] const codegen::Plan& plan() const { return *plan_; }

  /// The step-input block: stepInputValues(maxRows, true) int32 (see the file comment).
  [[nodiscard]] int32_t* stepInputs() const { return static_cast<int32_t*>(stepInputs_.get()); }
  [[nodiscard]] int32_t* nextTokens() const { return static_cast<int32_t*>(nextTokens_.get()); }
  [[nodiscard]] const uint8_t* arena() const { return arena_.bytes(); }
  [[nodiscard]] const KvLayout& kv() const { return kv_; }
  [[nodiscard]] int64_t maxRows() const { return maxRows_; }

  /// Fills the arena, scratch, KV cache and outputs with 0xFF bytes (NaN as floats, -1 as
  /// ints), so that a step reading anything it did not write shows.
  void poison(cudaStream_t stream) const;

 private:
  const codegen::Plan* plan_;
  KvLayout kv_;
  int64_t maxRows_ = 0;
  DeviceBuffer arena_;
  DeviceBuffer scratch_;
  DeviceBuffer kvCache_;
  DeviceBuffer stepInputs_;
  DeviceBuffer nextTokens_;
};

}  // namespace reel::gpu
