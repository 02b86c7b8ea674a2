#include "codegen/PlanCheck.h"

#include "kernels/KernelCatalog.h"
#include "quant/QuantRef.h"
#include "support/Diagnostics.h"
#include "support/FormatBytes.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <optional>

namespace reel::codegen {
namespace {

using kernels::kFootprintOverflow;
using kernels::PtrFootprint;
using kernels::PtrUse;
using kernels::saturatingAdd;
using kernels::saturatingMul;

constexpr std::array<const char*, kNumStepInputs> kStepInputNames = {
    "token_ids", "positions", "kv_lens", "slots", "next_tokens", "sampling", "recent_tokens"};

/// How the kind of a buffer reads in a message.
const char* kindName(BufferKind kind) {
  switch (kind) {
    case BufferKind::Null:
      return "null";
    case BufferKind::Arena:
      return "the arena";
    case BufferKind::Weight:
      return "a weight slot";
    case BufferKind::StepInput:
      return "a step input";
    case BufferKind::KvCache:
      return "the KV cache";
    case BufferKind::Scratch:
      return "the scratch";
  }
  return "?";
}

/// "step input 3 (slots)"; an index the plan format has no step input for reads as such (the
/// messages name a plan file's bad references before bufferOf refuses them).
std::string stepInputName(int64_t index) {
  if (index < 0 || index >= kNumStepInputs) return fmt::format("step input {} (there are {})", index, kNumStepInputs);
  return fmt::format("step input {} ({})", index, kStepInputNames[static_cast<size_t>(index)]);
}

/// The step input an argument of `use` must be, if any.
std::optional<StepInput> requiredStepInput(PtrUse use) {
  switch (use) {
    case PtrUse::Slots:
      return StepInput::Slots;
    case PtrUse::Positions:
      return StepInput::Positions;
    case PtrUse::KvLens:
      return StepInput::KvLens;
    default:
      return std::nullopt;
  }
}

/// Why `ref` cannot be bound to an argument used as `use` (its kind and index; "" when it can).
std::string checkBinding(const BufferRef& ref, PtrUse use, const BufferSizes& sizes) {
  if (use == PtrUse::KvCache) {
    if (ref.kind != BufferKind::KvCache) return fmt::format("must point into the KV cache, not {}", kindName(ref.kind));
    const int64_t parts = saturatingMul(sizes.kvCache.layers, 2);
    if (ref.index >= parts)
      return fmt::format("points to KV cache part {}, but the cache has {} parts (K and V of each layer)", ref.index,
                         parts);
    return "";
  }
  if (ref.kind == BufferKind::KvCache) return "points into the KV cache, which only K and V cache arguments may";
  if (std::optional<StepInput> input = requiredStepInput(use)) {
    const auto index = static_cast<int64_t>(*input);
    if (ref.kind != BufferKind::StepInput || ref.index != index)
      return fmt::format("must be {}: the kernel trusts its values as indices", stepInputName(index));
    return "";
  }
  if (ref.kind == BufferKind::StepInput && ref.index != static_cast<int64_t>(StepInput::NextTokens) &&
      use == PtrUse::Write)
    return fmt::format("is written, so it may not point to {}", stepInputName(ref.index));
  return "";
}

/// The bytes of the buffer `ref` points into and how it reads in a message; nullopt with `why`
/// set when there is no such buffer.
std::optional<std::pair<int64_t, std::string>> bufferOf(const Plan& plan, const BufferRef& ref,
                                                        const BufferSizes& sizes, std::string& why) {
  switch (ref.kind) {
    case BufferKind::Arena:
      return std::make_pair(sizes.arenaBytes, std::string("the arena"));
    case BufferKind::Scratch:
      return std::make_pair(sizes.scratchBytes, std::string("the scratch"));
    case BufferKind::Weight: {
      const auto slots = static_cast<int64_t>(sizes.weightBytes.size());
      if (ref.index >= slots) {
        why = fmt::format("points to weight slot {}, but the plan has {}", ref.index, slots);
        return std::nullopt;
      }
      const auto index = static_cast<size_t>(ref.index);
      const std::string tensor = index < plan.weights.size() ? plan.weights[index].tensor : "";
      if (sizes.weightBytes[index] < 0) {
        why = fmt::format("points to weight slot {} '{}', which is not loaded", ref.index, tensor);
        return std::nullopt;
      }
      return std::make_pair(sizes.weightBytes[index], fmt::format("weight slot {} '{}'", ref.index, tensor));
    }
    case BufferKind::StepInput: {
      if (ref.index >= kNumStepInputs) {
        why = fmt::format("points to step input {}, but there are {}", ref.index, kNumStepInputs);
        return std::nullopt;
      }
      const auto input = static_cast<StepInput>(ref.index);
      const int64_t values =
          input == StepInput::NextTokens ? sizes.nextTokenRows : saturatingMul(sizes.stepRows, stepInputWidth(input));
      return std::make_pair(saturatingMul(values, 4), stepInputName(ref.index));
    }
    case BufferKind::KvCache:
      return std::make_pair(kvSlotBytes(sizes.kvCache, sizes.kvPositions),
                            fmt::format("a slot of KV cache part {}", ref.index));
    case BufferKind::Null:
      break;
  }
  return std::make_pair(int64_t{0}, std::string("null"));
}

/// Why argument `ref` with footprint `footprint` must not launch ("" when it may).
std::string checkPointer(const Plan& plan, const BufferRef& ref, const PtrFootprint& footprint,
                         const BufferSizes& sizes) {
  if (footprint.bytes < 0) return "has no footprint in the kernel catalog";
  if (footprint.bytes == kFootprintOverflow) return "needs more bytes than 64 bits count (its footprint overflows)";
  if (ref.kind == BufferKind::Null)
    return footprint.bytes > 0 ? fmt::format("is null, but the kernel touches {} bytes from it", footprint.bytes) : "";
  if (ref.index < 0 || ref.offset < 0)
    return fmt::format("has a negative index or offset ({}, {})", ref.index, ref.offset);
  if (ref.offset % kPtrAlignment != 0)
    return fmt::format("offset {} is not a multiple of {} bytes", ref.offset, kPtrAlignment);
  if (std::string why = checkBinding(ref, footprint.use, sizes); !why.empty()) return why;
  if (footprint.use == PtrUse::KvCache && footprint.kvPositions != sizes.kvPositions)
    return fmt::format("assumes {} positions per KV slot, but the cache holds {}", footprint.kvPositions,
                       sizes.kvPositions);
  std::string why;
  const auto buffer = bufferOf(plan, ref, sizes, why);
  if (!buffer) return why;
  const auto& [bytes, name] = *buffer;
  if (saturatingAdd(ref.offset, footprint.bytes) <= bytes) return "";
  return fmt::format("needs {} bytes at offset {} but {} holds {}", footprint.bytes, ref.offset, name, bytes);
}

std::string dimsText(const kernels::LaunchDims& d) {
  return fmt::format("grid [{}, {}, {}], block [{}, {}, {}], {} bytes of shared memory", d.grid[0], d.grid[1],
                     d.grid[2], d.block[0], d.block[1], d.block[2], d.smemBytes);
}

/// Why launch dims are beyond what a GPU launches (sm_80 and later; "" when they are not).
std::string checkDimLimits(const kernels::LaunchDims& d) {
  const uint64_t threads = uint64_t{d.block[0]} * d.block[1] * d.block[2];
  if (d.grid[0] < 1 || d.grid[1] < 1 || d.grid[2] < 1 || d.grid[0] > uint32_t{INT32_MAX} || d.grid[1] > 65535 ||
      d.grid[2] > 65535 || threads < 1 || threads > 1024 || d.block[2] > 64 || d.smemBytes > 227 * 1024)
    return fmt::format("launch dims ({}) are beyond what a GPU launches", dimsText(d));
  return "";
}

/// x rounded up to a multiple of `alignment`, saturating at kFootprintOverflow.
int64_t alignUp(int64_t x, int64_t alignment) {
  return x > kFootprintOverflow - alignment ? kFootprintOverflow : (x + alignment - 1) / alignment * alignment;
}

/// The vocabulary of the bucket's next tokens: the `n` of its argmax or sample step.
int64_t vocabOf(const BucketPlan& bucket) {
  for (const Step& step : bucket.steps) {
    if (step.kernel != "argmax" && step.kernel != "sample") continue;
    const kernels::KernelInfo* info = kernels::findKernel(step.kernel);
    const int n = info == nullptr ? -1 : kernels::intArgIndex(*info, "n");
    if (n >= 0 && step.ints.size() == info->intArgs.size()) return step.ints[static_cast<size_t>(n)];
  }
  return -1;
}

}  // namespace

int64_t kvSlotBytes(const KvCacheShape& shape, int64_t positions) {
  return saturatingMul(saturatingMul(saturatingMul(positions, shape.kvHeads), shape.headDim), 2);
}

int64_t kvCacheBytes(const KvCacheShape& shape, int64_t positions, int64_t slots) {
  const int64_t bytes =
      saturatingMul(saturatingMul(shape.layers, 2), saturatingMul(slots, kvSlotBytes(shape, positions)));
  if (shape.layers < 1 || slots < 1 || positions < 1 || shape.kvHeads < 1 || shape.headDim < 1 ||
      bytes == kFootprintOverflow)
    failPlain(
        "KV cache of {} layers x K and V x {} slots x {} positions x {} KV heads x {} dims (f16): every dimension "
        "must be positive and the size must fit 64 bits",
        shape.layers, slots, positions, shape.kvHeads, shape.headDim);
  return bytes;
}

BufferSizes declaredSizes(const Plan& plan, const BucketPlan& bucket) {
  BufferSizes sizes;
  sizes.arenaBytes = bucket.arenaBytes;
  sizes.scratchBytes = plan.scratchBytes;
  for (const WeightSlot& slot : plan.weights) sizes.weightBytes.push_back(slot.bytes);
  sizes.kvCache = plan.kvCache;
  sizes.kvPositions = plan.maxContext;
  sizes.stepRows = bucket.m;
  sizes.nextTokenRows = bucket.m;
  return sizes;
}

PlanWeightBytes planWeightBytes(const Plan& plan) {
  PlanWeightBytes totals;
  for (const WeightSlot& slot : plan.weights) {
    const bool ownType = (slot.layout == WeightLayout::F16 && slot.qtype == "f16") ||
                         (slot.layout == WeightLayout::F32 && slot.qtype == "f32");
    if (slot.layout == WeightLayout::Gguf || slot.layout == WeightLayout::RowPlanar || ownType) {
      totals.stored += slot.bytes;
    } else if (slot.layout == WeightLayout::Fp8PerRow) {
      totals.fp8Copies += slot.bytes;
      ++totals.fp8Count;
    } else if (slot.layout == WeightLayout::F16) {
      totals.f16Copies += slot.bytes;
      ++totals.f16Count;
    } else {
      totals.f32Copies += slot.bytes;
      ++totals.f32Count;
    }
  }
  return totals;
}

std::string PlanWeightBytes::str() const {
  auto copies = [](const char* what, int64_t bytes, int count) {
    return fmt::format(" + {} copies {}{}", what, support::formatBytes(static_cast<double>(bytes)),
                       count > 0 ? fmt::format(" ({} tensor{})", count, count == 1 ? "" : "s") : "");
  };
  std::string text = fmt::format("{} = stored {}", support::formatBytes(static_cast<double>(total())),
                                 support::formatBytes(static_cast<double>(stored)));
  text += copies("fp8", fp8Copies, fp8Count) + copies("f16", f16Copies, f16Count);
  if (f32Count > 0) text += copies("f32", f32Copies, f32Count);
  return text;
}

int64_t weightLayoutBytes(const WeightSlot& slot) {
  quant::QType type = quant::QType::F32;
  if (!quant::parseQType(slot.qtype, type) || slot.rows < 0 || slot.cols < 0) return -1;
  const auto blockElems = static_cast<int64_t>(quant::blockElems(type));
  const int64_t rowBytes = saturatingMul(slot.cols / blockElems, static_cast<int64_t>(quant::blockBytes(type)));
  const int64_t elems = saturatingMul(slot.rows, slot.cols);
  int64_t bytes = kFootprintOverflow;
  switch (slot.layout) {
    case WeightLayout::Gguf:
      bytes = slot.cols % blockElems != 0 ? -1 : saturatingMul(slot.rows, rowBytes);
      break;
    case WeightLayout::RowPlanar:
      bytes = slot.cols % blockElems != 0 ? -1 : saturatingMul(slot.rows, alignUp(rowBytes, 16));
      break;
    case WeightLayout::Fp8PerRow:  // E4M3 data, then the f32 scales at the next 256-byte boundary
      bytes = saturatingAdd(alignUp(elems, 256), saturatingMul(slot.rows, 4));
      break;
    case WeightLayout::F16:
      bytes = saturatingMul(elems, 2);
      break;
    case WeightLayout::F32:
      bytes = saturatingMul(elems, 4);
      break;
  }
  return bytes == kFootprintOverflow ? -1 : bytes;
}

std::string describeStep(const BucketPlan& bucket, size_t index) {
  const Step& step = bucket.steps[index];
  return fmt::format("step {} of @{} ({} for {})", index, bucket.graph, step.kernel, step.op);
}

std::string checkStep(const Plan& plan, const BucketPlan& bucket, size_t index, const BufferSizes& sizes) {
  const Step& step = bucket.steps[index];
  const kernels::KernelInfo* info = kernels::findKernel(step.kernel);
  if (info == nullptr) return fmt::format("unknown kernel '{}'", step.kernel);
  if (step.ptrs.size() != info->ptrArgs.size() || step.ints.size() != info->intArgs.size() ||
      step.floats.size() != info->floatArgs.size())
    return fmt::format("kernel '{}' takes {} pointers, {} integers and {} floats, not {}, {} and {}", step.kernel,
                       info->ptrArgs.size(), info->intArgs.size(), info->floatArgs.size(), step.ptrs.size(),
                       step.ints.size(), step.floats.size());
  std::array<int64_t, kernels::kMaxIntArgs> ints{};
  std::copy(step.ints.begin(), step.ints.end(), ints.begin());
  if (std::string why = kernels::checkKernelArgs(step.kernel, ints.data()); !why.empty()) return why;
  const kernels::LaunchDims dims = info->dims(ints.data());
  if (step.dims != dims)
    return fmt::format("launch dims ({}) are not the catalog's for these integers ({})", dimsText(step.dims),
                       dimsText(dims));
  if (info->kind == kernels::KernelKind::Kernel)
    if (std::string why = checkDimLimits(dims); !why.empty()) return why;
  const kernels::Footprint footprint = info->footprint(ints.data());
  for (size_t i = 0; i < step.ptrs.size(); ++i) {
    if (std::string why = checkPointer(plan, step.ptrs[i], footprint[i], sizes); !why.empty())
      return fmt::format("argument '{}' {}", kernels::argName(info->ptrArgs[i]), why);
  }
  return "";
}

void checkBucket(const Plan& plan, const BucketPlan& bucket, const BufferSizes& sizes, const std::string& where) {
  for (size_t i = 0; i < bucket.steps.size(); ++i) {
    if (std::string why = checkStep(plan, bucket, i, sizes); !why.empty())
      failPlain("{}: {}: {}", where, describeStep(bucket, i), why);
  }
}

void checkPlan(const Plan& plan, const std::string& where) {
  for (size_t i = 0; i < plan.weights.size(); ++i) {
    const WeightSlot& slot = plan.weights[i];
    const int64_t bytes = weightLayoutBytes(slot);
    if (bytes < 0)
      failPlain("{}: weight slot {} '{}': a {} tensor of {} x {} cannot be laid out as {}", where, i, slot.tensor,
                slot.qtype, slot.rows, slot.cols, weightLayoutName(slot.layout));
    if (bytes != slot.bytes)
      failPlain("{}: weight slot {} '{}': {} bytes, but a {} tensor of {} x {} takes {} in the {} layout", where, i,
                slot.tensor, slot.bytes, slot.qtype, slot.rows, slot.cols, bytes, weightLayoutName(slot.layout));
  }
  int64_t vocab = -1;
  for (const BucketPlan& bucket : plan.buckets) {
    checkBucket(plan, bucket, declaredSizes(plan, bucket), where);
    const int64_t bucketVocab = vocabOf(bucket);
    if (bucketVocab >= 0 && vocab >= 0 && bucketVocab != vocab)
      failPlain("{}: bucket @{}: its argmax is over {} columns, another bucket's over {}", where, bucket.graph,
                bucketVocab, vocab);
    if (bucketVocab >= 0) vocab = bucketVocab;
    const int64_t logitsBytes = saturatingMul(saturatingMul(bucket.m, std::max<int64_t>(bucketVocab, 0)), 4);
    if (bucket.logitsOffset >= 0 && saturatingAdd(bucket.logitsOffset, logitsBytes) > bucket.arenaBytes)
      failPlain("{}: bucket @{}: logits of {} bytes at offset {} leave its {}-byte arena", where, bucket.graph,
                logitsBytes, bucket.logitsOffset, bucket.arenaBytes);
  }
}

}  // namespace reel::codegen
