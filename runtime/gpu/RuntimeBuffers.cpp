#include "runtime/gpu/RuntimeBuffers.h"

#include "ir/Diagnostics.h"
#include "runtime/gpu/CudaCheck.h"

#include <algorithm>
#include <array>
#include <optional>
#include <string>

namespace reel::gpu {

using codegen::BufferKind;
using codegen::BufferRef;
using codegen::Plan;
using codegen::StepInput;

namespace {

/// Where a kernel that reads or writes the KV cache keeps n_kv_heads, head_dim and max_ctx
/// among its int args (catalog order), or nothing for the other kernels.
std::optional<std::array<size_t, 3>> kvShapeArgs(const std::string& kernel) {
  if (kernel == "kv_append") return std::array<size_t, 3>{1, 2, 3};
  // Every attention kernel but the flash-decoding reduce (and its _q8_1 form) reads the cache.
  if (kernel.rfind("attn_", 0) == 0 && kernel.rfind("attn_decode_reduce", 0) != 0)
    return std::array<size_t, 3>{2, 3, 4};
  return std::nullopt;
}

}  // namespace

KvLayout kvLayoutOf(const Plan& plan, int64_t slots) {
  KvLayout kv;
  kv.slots = slots;
  kv.positions = plan.maxContext;
  for (const codegen::BucketPlan& bucket : plan.buckets) {
    for (const codegen::Step& step : bucket.steps) {
      for (const BufferRef& ref : step.ptrs)
        if (ref.kind == BufferKind::KvCache) kv.layers = std::max(kv.layers, ref.index / 2 + 1);
      const std::optional<std::array<size_t, 3>> at = kvShapeArgs(step.kernel);
      if (!at) continue;
      const int64_t kvHeads = step.ints[(*at)[0]], headDim = step.ints[(*at)[1]], maxCtx = step.ints[(*at)[2]];
      if ((kv.kvHeads != 0 && kv.kvHeads != kvHeads) || (kv.headDim != 0 && kv.headDim != headDim) ||
          maxCtx != plan.maxContext)
        failPlain("plan of {}: the attention steps disagree on the KV cache shape (@{}, {})", plan.model, bucket.graph,
                  step.kernel);
      kv.kvHeads = kvHeads;
      kv.headDim = headDim;
    }
  }
  if (kv.layers == 0 || kv.kvHeads == 0 || kv.positions <= 0)
    failPlain("plan of {}: no attention step or no context length, so no KV cache shape", plan.model);
  return kv;
}

int64_t maxBucketRows(const Plan& plan) {
  int64_t rows = 1;
  for (const codegen::BucketPlan& bucket : plan.buckets) rows = std::max(rows, bucket.m);
  return rows;
}

RuntimeBuffers::RuntimeBuffers(const Plan& plan, const KvLayout& kv, MemoryLedger& ledger)
    : kv_(kv), maxRows_(maxBucketRows(plan)) {
  int64_t arenaBytes = 256;
  for (const codegen::BucketPlan& bucket : plan.buckets) arenaBytes = std::max(arenaBytes, bucket.arenaBytes);
  arena_ = DeviceBuffer(static_cast<size_t>(arenaBytes), "activation arena", &ledger);
  scratch_ = DeviceBuffer(static_cast<size_t>(std::max<int64_t>(plan.scratchBytes, 256)), "scratch", &ledger);
  kvCache_ = DeviceBuffer(static_cast<size_t>(kv.layers * 2 * kv.partBytes()), "KV cache", &ledger);
  stepInputs_ = DeviceBuffer(static_cast<size_t>(4 * maxRows_) * sizeof(int32_t), "step inputs", &ledger);
  nextTokens_ = DeviceBuffer(static_cast<size_t>(maxRows_) * sizeof(int32_t), "step inputs", &ledger);
}

void* RuntimeBuffers::resolve(const BufferRef& ref, int64_t bucketRows, const DeviceWeights& weights) const {
  switch (ref.kind) {
    case BufferKind::Null:
      return nullptr;
    case BufferKind::Arena:
      if (ref.offset < 0 || static_cast<size_t>(ref.offset) >= arena_.size()) break;
      return arena_.bytes() + ref.offset;
    case BufferKind::Scratch:
      if (ref.offset < 0 || static_cast<size_t>(ref.offset) >= scratch_.size()) break;
      return scratch_.bytes() + ref.offset;
    case BufferKind::Weight: {
      if (ref.index < 0 || ref.index >= static_cast<int64_t>(weights.slots.size())) break;
      const DeviceBuffer& slot = weights.slots[static_cast<size_t>(ref.index)];
      if (!slot || ref.offset < 0 || static_cast<size_t>(ref.offset) >= slot.size()) break;
      return slot.bytes() + ref.offset;
    }
    case BufferKind::KvCache:
      if (ref.index < 0 || ref.index >= kv_.layers * 2) break;
      return kvCache_.bytes() + ref.index * kv_.partBytes() + ref.offset;
    case BufferKind::StepInput:
      if (ref.index == static_cast<int64_t>(StepInput::NextTokens)) return nextTokens_.bytes() + ref.offset;
      if (ref.index < 0 || ref.index > static_cast<int64_t>(StepInput::Slots)) break;
      return reinterpret_cast<uint8_t*>(stepInputs() + ref.index * bucketRows) + ref.offset;
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
