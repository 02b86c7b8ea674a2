#include "runtime/gpu/RuntimeBuffers.h"

#include "runtime/gpu/CudaCheck.h"
#include "support/Diagnostics.h"

#include <algorithm>
#include <string>

namespace reel::gpu {

using codegen::BufferKind;
using codegen::BufferRef;
using codegen::Plan;
using codegen::StepInput;

KvLayout kvLayoutOf(const Plan& plan, int64_t slots) {
  KvLayout kv;
  kv.layers = plan.kvCache.layers;
  kv.slots = slots;
  kv.positions = plan.maxContext;
  kv.kvHeads = plan.kvCache.kvHeads;
  kv.headDim = plan.kvCache.headDim;
  if (kv.layers == 0) failPlain("plan of {}: no KV cache (no attention), nothing to decode", plan.model);
  (void)kv.totalBytes();
  return kv;
}

int64_t maxBucketRows(const Plan& plan) {
  int64_t rows = 1;
  for (const codegen::BucketPlan& bucket : plan.buckets) rows = std::max(rows, bucket.m);
  return rows;
}

int64_t stepInputStart(StepInput input, int64_t m) {
  switch (input) {
    case StepInput::Sampling:
      return 4 * m;
    case StepInput::RecentTokens:
      return (4 + codegen::stepInputWidth(StepInput::Sampling)) * m;
    default:
      return static_cast<int64_t>(input) * m;
  }
}

int64_t stepInputValues(int64_t m, bool sampling) {
  return sampling ? stepInputStart(StepInput::RecentTokens, m) + codegen::stepInputWidth(StepInput::RecentTokens) * m
                  : 4 * m;
}

RuntimeBuffers::RuntimeBuffers(const Plan& plan, const KvLayout& kv, MemoryLedger& ledger)
    : plan_(&plan), kv_(kv), maxRows_(maxBucketRows(plan)) {
  int64_t arenaBytes = 256;
  for (const codegen::BucketPlan& bucket : plan.buckets) arenaBytes = std::max(arenaBytes, bucket.arenaBytes);
  arena_ = DeviceBuffer(static_cast<size_t>(arenaBytes), "activation arena", &ledger);
  scratch_ = DeviceBuffer(static_cast<size_t>(std::max<int64_t>(plan.scratchBytes, 256)), "scratch", &ledger);
  kvCache_ = DeviceBuffer(static_cast<size_t>(kv.totalBytes()), "KV cache", &ledger);
  stepInputs_ =
      DeviceBuffer(static_cast<size_t>(stepInputValues(maxRows_, true)) * sizeof(int32_t), "step inputs", &ledger);
  nextTokens_ = DeviceBuffer(static_cast<size_t>(maxRows_) * sizeof(int32_t), "step inputs", &ledger);
}

codegen::BufferSizes RuntimeBuffers::sizesFor(const codegen::BucketPlan& bucket, const DeviceWeights& weights) const {
  codegen::BufferSizes sizes;
  sizes.arenaBytes = static_cast<int64_t>(arena_.size());
  sizes.scratchBytes = static_cast<int64_t>(scratch_.size());
  for (const DeviceBuffer& slot : weights.slots)
    sizes.weightBytes.push_back(slot ? static_cast<int64_t>(slot.size()) : -1);
  sizes.kvCache = kv_.shape();
  sizes.kvPositions = kv_.positions;
  sizes.stepRows = std::min(bucket.m, maxRows_);
  sizes.nextTokenRows = maxRows_;
  return sizes;
}

void* RuntimeBuffers::resolve(const BufferRef& ref, int64_t bucketRows, const DeviceWeights& weights) const {
  // Whether the offset lands inside a buffer of `bytes` bytes.
  const auto inside = [&](int64_t bytes) { return ref.offset >= 0 && ref.offset < bytes; };
  switch (ref.kind) {
    case BufferKind::Null:
      return nullptr;
    case BufferKind::Arena:
      if (!inside(static_cast<int64_t>(arena_.size()))) break;
      return arena_.bytes() + ref.offset;
    case BufferKind::Scratch:
      if (!inside(static_cast<int64_t>(scratch_.size()))) break;
      return scratch_.bytes() + ref.offset;
    case BufferKind::Weight: {
      if (ref.index < 0 || ref.index >= static_cast<int64_t>(weights.slots.size())) break;
      const DeviceBuffer& slot = weights.slots[static_cast<size_t>(ref.index)];
      if (!slot || !inside(static_cast<int64_t>(slot.size()))) break;
      return slot.bytes() + ref.offset;
    }
    case BufferKind::KvCache:
      if (ref.index < 0 || ref.index >= kv_.layers * 2 || !inside(kv_.partBytes())) break;
      return kvCache_.bytes() + ref.index * kv_.partBytes() + ref.offset;
    case BufferKind::StepInput:
      if (ref.index == static_cast<int64_t>(StepInput::NextTokens)) {
        if (!inside(static_cast<int64_t>(nextTokens_.size()))) break;
        return nextTokens_.bytes() + ref.offset;
      }
      // Input i of a bucket of m rows is m * stepInputWidth(i) int32 values from stepInputStart(i, m).
      if (ref.index < 0 || ref.index >= codegen::kNumStepInputs || bucketRows < 1 || bucketRows > maxRows_) break;
      {
        const auto input = static_cast<StepInput>(ref.index);
        if (!inside(bucketRows * codegen::stepInputWidth(input) * static_cast<int64_t>(sizeof(int32_t)))) break;
        return reinterpret_cast<uint8_t*>(stepInputs() + stepInputStart(input, bucketRows)) + ref.offset;
      }
  }
  failPlain("plan step argument out of range (kind {}, index {}, offset {})", static_cast<int>(ref.kind), ref.index,
            ref.offset);
}

void RuntimeBuffers::poison(cudaStream_t stream) const {
  for (const DeviceBuffer* buffer : {&arena_, &scratch_, &kvCache_, &nextTokens_})
    checkCuda(cudaMemsetAsync(buffer->get(), 0xFF, buffer->size(), stream), "poisoning the runtime buffers");
  checkCuda(cudaStreamSynchronize(stream), "poisoning the runtime buffers");
}

}  // namespace reel::gpu
