#pragma once
/// \file
/// The plan checker: no step of a plan reaches a kernel unless the catalog accepts it (known id,
/// argument counts, int args in range and passing the kernel's check, the launch dims the catalog
/// computes) and every pointer argument's footprint (kernels/KernelCatalog.h: the bytes the kernel
/// may touch, from its int args) lies inside the buffer it points into. Host-only and GPU-free:
/// the plan reader checks a plan against the buffers the plan declares, the GPU binder
/// (runtime/gpu/BoundSchedule.h) against the buffers it allocated.

#include "codegen/Plan.h"

#include <cstdint>
#include <string>
#include <vector>

namespace reel::codegen {

/// The sizes of the buffers one bucket's steps point into.
struct BufferSizes {
  int64_t arenaBytes = 0;
  int64_t scratchBytes = 0;
  std::vector<int64_t> weightBytes;  ///< per weight slot; -1 for a slot that is not loaded
  KvCacheShape kvCache;
  int64_t kvPositions = 0;    ///< positions per KV slot
  int64_t stepRows = 0;       ///< rows of the step inputs but next_tokens (the bucket's m; stepInputWidth values each)
  int64_t nextTokenRows = 0;  ///< int32 values of next_tokens
};

/// Pointer offsets are multiples of this: no kernel loads more than 16 bytes at once, and every
/// buffer the runtime allocates starts on a 256-byte boundary.
inline constexpr int64_t kPtrAlignment = 16;

/// What `plan` declares for `bucket`: its arena, the plan's scratch, each weight slot's bytes,
/// the KV cache of plan.kvCache with plan.maxContext positions, m values per step input.
BufferSizes declaredSizes(const Plan& plan, const BucketPlan& bucket);

/// Bytes of one slot of one KV cache part (K or V of a layer): positions x KV heads x head_dim
/// f16 values; kernels::kFootprintOverflow where that overflows.
int64_t kvSlotBytes(const KvCacheShape& shape, int64_t positions);

/// Bytes of the whole KV cache (every layer's K and V) for `slots` sequences of `positions`
/// positions; throws a one-line reel::Error naming the dimensions when one is not positive or
/// the size does not fit 64 bits.
int64_t kvCacheBytes(const KvCacheShape& shape, int64_t positions, int64_t slots);

/// Device bytes of a weight slot in its layout, from its qtype, rows and cols (what the runtime
/// allocates for it); -1 for an unknown qtype, columns that are not whole blocks, or an overflow.
int64_t weightLayoutBytes(const WeightSlot& slot);

/// The weight bytes a plan holds on the GPU: the tensors as the file stores them (the gguf and
/// row-planar layouts, and f16 or f32 tensors in their own type) and the copies derived at load
/// time for FP8 (fp8-per-row) and cuBLAS (f16) kernels or dequantized (f32), with their counts.
struct PlanWeightBytes {
  int64_t stored = 0;
  int64_t fp8Copies = 0, f16Copies = 0, f32Copies = 0;
  int fp8Count = 0, f16Count = 0, f32Count = 0;
  [[nodiscard]] int64_t total() const { return stored + fp8Copies + f16Copies + f32Copies; }
  /// "4.27 GB = stored 3.83 GB + fp8 copies 0 B + f16 copies 436.2 MB (4 tensors)", the f32 copies
  /// only where there are some.
  [[nodiscard]] std::string str() const;
};
PlanWeightBytes planWeightBytes(const Plan& plan);

/// "step 12 of @decode.m1 (gemv_dp4a_q4_k for %l0.q)".
std::string describeStep(const BucketPlan& bucket, size_t index);

/// Why step `index` of `bucket` must not launch against buffers of `sizes` ("" when it may);
/// what is about a pointer names the argument: "argument 'weights' needs 4718592 bytes at offset
/// 0 but weight slot 3 'blk.0.attn_q.weight' holds 1179648".
std::string checkStep(const Plan& plan, const BucketPlan& bucket, size_t index, const BufferSizes& sizes);

/// Throws reel::Error "`where`: step 12 of @decode.m1 (...): why" for the first step of
/// `bucket` that must not launch against `sizes`.
void checkBucket(const Plan& plan, const BucketPlan& bucket, const BufferSizes& sizes, const std::string& where);

/// Everything that needs no runtime: each weight slot's bytes against its layout, each bucket's
/// logits within its arena, one vocabulary, and every step against the declared buffers. Throws
/// reel::Error "`where`: ..." naming the slot, the bucket or the step and argument.
void checkPlan(const Plan& plan, const std::string& where);

}  // namespace reel::codegen
