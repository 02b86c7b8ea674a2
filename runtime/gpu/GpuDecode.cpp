#include "runtime/gpu/GpuDecode.h"

#include "ir/Diagnostics.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace reel::gpu {

namespace {

using Clock = std::chrono::steady_clock;
using reference::DecodeReport;
using reference::DecodeRequest;
using reference::StopReason;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

class GpuDecodeRun {
 public:
  GpuDecodeRun(GpuRuntime& runtime, const DecodeRequest& request, const GpuDecodeOptions& options)
      : runtime_(runtime), request_(request), options_(options) {
    validate();
    report_.sequences.resize(request_.prompts.size());
  }

  DecodeReport run() {
    Clock::time_point start = Clock::now();
    for (size_t s = 0; s < request_.prompts.size(); ++s) prefill(static_cast<int32_t>(s));
    report_.prefillSeconds = secondsSince(start);
    start = Clock::now();
    for (int64_t step = 1; step < request_.newTokens; ++step) {
      const std::vector<int64_t> live = liveSequences(step);
      if (live.empty()) break;
      decodeStep(step, live);
    }
    report_.decodeSeconds = secondsSince(start);
    return std::move(report_);
  }

 private:
  void validate() const {
    if (request_.prompts.empty()) failPlain("decode: no sequences to run");
    if (request_.newTokens < 1) failPlain("decode: asked for {} new tokens (at least 1)", request_.newTokens);
    const KvLayout& kv = runtime_.kv();
    if (static_cast<int64_t>(request_.prompts.size()) > kv.slots)
      failPlain("decode: {} sequences, but the KV cache has {} slots", request_.prompts.size(), kv.slots);
    if (request_.newTokens > kv.positions)
      failPlain("decode: asked for {} new tokens, but the context holds {} positions per sequence", request_.newTokens,
                kv.positions);
    for (size_t s = 0; s < request_.prompts.size(); ++s) {
      if (request_.prompts[s].empty()) failPlain("decode: every sequence needs at least one prompt token");
      if (static_cast<int64_t>(request_.prompts[s].size()) > kv.positions)
        failPlain("decode: sequence {}'s prompt of {} tokens does not fit the context of {} positions", s,
                  request_.prompts[s].size(), kv.positions);
    }
    if (runtime_.largestRows(Phase::Decode) == 0) failPlain("decode: the runtime has no decode bucket loaded");
    if (options_.prefill == reference::PrefillMode::Graph && runtime_.largestRows(Phase::Prefill) == 0)
      failPlain("decode: prefill through the prefill bucket was asked for, but none is loaded");
  }

  /// Where sequence s writes its K and V at decode step `step` (1-based: the prompt gave token 0).
  [[nodiscard]] int64_t positionOf(int64_t sequence, int64_t step) const {
    return static_cast<int64_t>(request_.prompts[static_cast<size_t>(sequence)].size()) + step - 1;
  }

  /// The sequences that decode at `step`: those whose KV cache has room for it. A sequence
  /// without room stops here (StopReason::Context).
  std::vector<int64_t> liveSequences(int64_t step) {
    std::vector<int64_t> live;
    for (size_t s = 0; s < request_.prompts.size(); ++s) {
      reference::SequenceOutput& out = report_.sequences[s];
      if (out.stop == StopReason::Context) continue;
      if (positionOf(static_cast<int64_t>(s), step) >= runtime_.kv().positions)
        out.stop = StopReason::Context;
      else
        live.push_back(static_cast<int64_t>(s));
    }
    return live;
  }

  void takeToken(int32_t sequence, int32_t token, int64_t row) {
    reference::SequenceOutput& out = report_.sequences[static_cast<size_t>(sequence)];
    out.tokens.push_back(token);
    if (options_.keepLogits) out.logits.push_back(runtime_.logitsRow(row));
  }

  void prefill(int32_t sequence) {
    const bool byBucket =
        options_.prefill != reference::PrefillMode::TokenByToken && runtime_.largestRows(Phase::Prefill) > 0;
    const std::vector<int32_t>& prompt = request_.prompts[static_cast<size_t>(sequence)];
    const int64_t chunk = byBucket ? runtime_.largestRows(Phase::Prefill) : 1;
    const Phase phase = byBucket ? Phase::Prefill : Phase::Decode;
    const auto length = static_cast<int64_t>(prompt.size());
    for (int64_t first = 0; first < length; first += chunk) {
      const int64_t count = std::min(chunk, length - first);
      StepRows rows;
      for (int64_t i = first; i < first + count; ++i) {
        rows.tokens.push_back(prompt[static_cast<size_t>(i)]);
        rows.positions.push_back(static_cast<int32_t>(i));
        rows.kvLens.push_back(static_cast<int32_t>(i + 1));
        rows.slots.push_back(sequence);
      }
      const std::vector<int32_t>& next = runtime_.step(phase, rows);
      if (first + count == length) takeToken(sequence, next[static_cast<size_t>(count - 1)], count - 1);
    }
    report_.prefillPath = byBucket ? fmt::format("@{} (chunks of {} rows)", runtime_.lastBucket()->graph, chunk)
                                   : fmt::format("token by token through @{}", runtime_.lastBucket()->graph);
  }

  /// Decode step `step` (1-based: the prompt gave token 0) for the live sequences.
  void decodeStep(int64_t step, const std::vector<int64_t>& live) {
    const auto sequences = static_cast<int64_t>(live.size());
    const int64_t groupSize = std::min(sequences, runtime_.largestRows(Phase::Decode));
    for (int64_t first = 0; first < sequences; first += groupSize) {
      const int64_t count = std::min(groupSize, sequences - first);
      StepRows rows;
      rows.minBucketRows = options_.decodeRows;
      for (int64_t i = first; i < first + count; ++i) {
        const int64_t s = live[static_cast<size_t>(i)];
        const auto position = static_cast<int32_t>(positionOf(s, step));
        rows.tokens.push_back(fedToken(s, step));
        rows.positions.push_back(position);
        rows.kvLens.push_back(position + 1);
        rows.slots.push_back(static_cast<int32_t>(s));
      }
      const std::vector<int32_t> next = runtime_.step(Phase::Decode, rows);
      for (int64_t i = first; i < first + count; ++i)
        takeToken(static_cast<int32_t>(live[static_cast<size_t>(i)]), next[static_cast<size_t>(i - first)], i - first);
      if (first == 0 && report_.decodePath.empty()) describeDecode(count, sequences);
    }
    ++report_.decodeSteps;
  }

  /// The token sequence s feeds at decode step `step`: its last one, or the one teacher forcing prescribes.
  [[nodiscard]] int32_t fedToken(int64_t sequence, int64_t step) const {
    const auto index = static_cast<size_t>(sequence);
    if (index < request_.followTokens.size() && !request_.followTokens[index].empty()) {
      const std::vector<int32_t>& follow = request_.followTokens[index];
      if (static_cast<size_t>(step) > follow.size())
        failPlain("decode: sequence {} has {} tokens to follow, step {} needs more", sequence, follow.size(), step);
      return follow[static_cast<size_t>(step - 1)];
    }
    return report_.sequences[index].tokens.back();
  }

  void describeDecode(int64_t live, int64_t sequences) {
    const codegen::BucketPlan& bucket = *runtime_.lastBucket();
    std::string path =
        fmt::format("@{} (M = {}: {} live row{}, {} padding; {})", bucket.graph, bucket.m, live, live == 1 ? "" : "s",
                    bucket.m - live, runtime_.lastStepUsedGraph() ? "CUDA graph" : "eager");
    if (sequences > live)
      path += fmt::format("; {} sequences exceed the largest bucket, so each token takes {} steps", sequences,
                          (sequences + live - 1) / live);
    report_.decodePath = path;
  }

  GpuRuntime& runtime_;
  const DecodeRequest& request_;
  const GpuDecodeOptions& options_;
  DecodeReport report_;
};

}  // namespace

DecodeReport runGpuGreedyDecode(GpuRuntime& runtime, const DecodeRequest& request, const GpuDecodeOptions& options) {
  return GpuDecodeRun(runtime, request, options).run();
}

}  // namespace reel::gpu
