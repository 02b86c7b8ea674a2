#pragma once
/// \file
/// What the decode scheduler needs of a machine that runs steps: the CPU reference
/// (reference::ReferenceStepExecutor) and the GPU runtime (gpu::GpuRuntime) implement it. A
/// step takes the live rows of one batch (a token, its position and KV length, its KV slot
/// each), runs them through the smallest graph of the phase that holds them (padding rows
/// fill it: that choice is the executor's, since the graphs are), and returns each live
/// row's next token.

#include "runtime/decode/Sampling.h"

#include <cstdint>
#include <string>
#include <vector>

namespace reel::decode {

enum class Phase : uint8_t { Decode, Prefill };

/// The live rows of one step (padding is the executor's).
struct StepRows {
  std::vector<int32_t> tokens;
  std::vector<int32_t> positions;  ///< where each row's K and V are written
  std::vector<int32_t> kvLens;     ///< KV length after this step's append
  std::vector<int32_t> slots;      ///< the KV-cache slot (sequence) of each row
  /// Run through a graph of at least this many rows (tests put padding rows in every bucket).
  int64_t minBucketRows = 0;
  /// How each row chooses its next token: kSamplingWords packed parameters per row
  /// (packSampling), and kMaxPenaltyLastN recent tokens per row (packRecent). Both empty:
  /// every row is greedy.
  std::vector<int32_t> sampling{};
  std::vector<int32_t> recent{};

  void add(int32_t token, int32_t position, int32_t slot) {
    tokens.push_back(token);
    positions.push_back(position);
    kvLens.push_back(position + 1);
    slots.push_back(slot);
  }
  /// Adds the sampling of the row added last (every row's or none's), its recent tokens the
  /// last of `history`.
  void addSampling(const SamplingParams& params, const std::vector<int32_t>& history) {
    sampling.resize(sampling.size() + kSamplingWords);
    packSampling(params, sampling.data() + sampling.size() - kSamplingWords);
    recent.resize(recent.size() + kMaxPenaltyLastN);
    packRecent(params, history, recent.data() + recent.size() - kMaxPenaltyLastN);
  }
  [[nodiscard]] int64_t size() const { return static_cast<int64_t>(tokens.size()); }
  /// True when some row samples (or penalises) rather than taking the argmax.
  [[nodiscard]] bool sampled() const { return !sampling.empty(); }
};

/// The KV cache an executor holds: `slots` sequences of `positions` positions each.
struct KvGeometry {
  int64_t slots = 0;
  int64_t positions = 0;
};

/// What the last step ran on, for reports.
struct StepInfo {
  std::string graph;  ///< "decode.m4"
  int64_t rows = 0;   ///< the rows it takes (live and padding)
  std::string how;    ///< "CUDA graph", "eager"; empty where there is one way
};

class StepExecutor {
 public:
  StepExecutor() = default;
  StepExecutor(const StepExecutor&) = delete;
  StepExecutor& operator=(const StepExecutor&) = delete;
  virtual ~StepExecutor() = default;

  /// The rows of the largest step of `phase` (0: the executor has no graph for it). A
  /// prefill step of fewer live rows is padded: prompts are fed in chunks of this size.
  [[nodiscard]] virtual int64_t largestRows(Phase phase) const = 0;
  [[nodiscard]] virtual KvGeometry kvGeometry() const = 0;
  /// Runs one step of `rows` (at most largestRows(phase) of them); returns each live row's
  /// next token (the argmax of its logits, or its draw where StepRows::sampling says so).
  /// Throws a reel::Error for rows it cannot run (sampled rows on graphs that end in argmax).
  virtual const std::vector<int32_t>& step(Phase phase, const StepRows& rows) = 0;
  /// The logits of live row `row` of the last step.
  [[nodiscard]] virtual std::vector<float> logitsRow(int64_t row) const = 0;
  [[nodiscard]] virtual StepInfo lastStep() const = 0;
};

}  // namespace reel::decode
