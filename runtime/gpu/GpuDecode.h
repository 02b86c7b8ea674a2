#pragma once
/// \file
/// Greedy decoding on the GPU runtime, with the CPU reference's request and report types so
/// that the two compare directly. Each sequence s lives in KV slot s. Its prompt is prefilled
/// through the prefill bucket in chunks of its m rows (the last chunk padded), or token by
/// token through the decode buckets; then the sequences decode together, one token each per
/// step, through the smallest decode bucket that holds them (padding rows fill it). More
/// sequences than the largest decode bucket decode in groups. A sequence whose KV cache is full
/// stops there (stop reason "context") and the others decode on; a prompt that does not fit
/// the plan's context is an error before anything runs.

#include "runtime/gpu/GpuRuntime.h"
#include "runtime/reference/DecodeDriver.h"

#include <string>
#include <vector>

namespace reel::gpu {

struct GpuDecodeOptions {
  reference::PrefillMode prefill = reference::PrefillMode::Auto;
  /// Decode through a bucket of at least this many rows (tests: padding rows in every bucket).
  int64_t decodeRows = 0;
  /// Keep the logits row of every generated token (tests compare them with the reference).
  bool keepLogits = false;
};

/// The CPU reference's report, and why each sequence stopped.
struct GpuDecodeReport : reference::DecodeReport {
  /// Per sequence: "length" (it has request.newTokens tokens) or "context" (its KV cache of
  /// contextPositions positions filled first).
  std::vector<std::string> stopReasons;
  int64_t contextPositions = 0;
};

/// "sequence 2: context full (512 positions); stopped after 37 tokens" for a sequence stopped
/// by its context, "" for one that has all its tokens.
std::string describeStop(const GpuDecodeReport& report, size_t sequence);

/// Prefills every prompt, then decodes up to request.newTokens tokens per sequence greedily.
GpuDecodeReport runGpuGreedyDecode(GpuRuntime& runtime, const reference::DecodeRequest& request,
                                   const GpuDecodeOptions& options);

}  // namespace reel::gpu
