#pragma once
/// \file
/// Greedy decoding on the GPU runtime, with the CPU reference's request and report types so
/// that the two compare directly. Each sequence s lives in KV slot s. Its prompt is prefilled
/// through the prefill bucket in chunks of its m rows (the last chunk padded), or token by
/// token through the decode buckets; then the sequences decode together, one token each per
/// step, through the smallest decode bucket that holds them (padding rows fill it). More
/// sequences than the largest decode bucket decode in groups. As on the CPU, a sequence whose KV
/// cache is full stops there (reference::StopReason::Context) and the others decode on; a
/// prompt, or a number of new tokens, that does not fit the plan's context is an error before
/// anything runs.

#include "runtime/gpu/GpuRuntime.h"
#include "runtime/reference/DecodeDriver.h"

namespace reel::gpu {

struct GpuDecodeOptions {
  reference::PrefillMode prefill = reference::PrefillMode::Auto;
  /// Decode through a bucket of at least this many rows (tests: padding rows in every bucket).
  int64_t decodeRows = 0;
  /// Keep the logits row of every generated token (tests compare them with the reference).
  bool keepLogits = false;
};

/// Prefills every prompt, then decodes up to request.newTokens tokens per sequence greedily.
reference::DecodeReport runGpuGreedyDecode(GpuRuntime& runtime, const reference::DecodeRequest& request,
                                           const GpuDecodeOptions& options);

}  // namespace reel::gpu
