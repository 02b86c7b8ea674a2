#pragma once
/// \file
/// What a sequence asks of the choice of its next token (docs/sampling.md): greedy by default,
/// or sampled with penalties, top-k, top-p, min-p and a temperature, drawn with a seed. The
/// scheduler hands each row's parameters and recent tokens to the executor with the step; the
/// `sample` op (CPU reference and GPU kernel) applies them in llama.cpp's default order:
/// penalties, top-k, top-p, min-p, temperature, the draw.
///
/// A CLI reads flags into a SamplingParams and calls validate(), which names the flag:
///   decode::SamplingParams p;  p.topP = 1.5f;
///   p.validate();  // throws "--top-p: 1.5 is not in (0, 1]"

#include <cstdint>
#include <vector>

namespace reel::decode {

/// Most recent tokens a sequence's penalties look back over (kernels::kSampleWindow).
inline constexpr int32_t kMaxPenaltyLastN = 256;
/// The 32-bit words of one row's packed parameters (kernels::SampleRow).
inline constexpr int kSamplingWords = 10;

struct SamplingParams {
  float temperature = 0.0f;  ///< <= 0: greedy (argmax, the lowest index on ties)
  int32_t topK = 0;          ///< 0: off (at most 1024 candidates survive either way)
  float topP = 1.0f;         ///< 1: off
  float minP = 0.0f;         ///< 0: off
  float repeatPenalty = 1.0f;
  float presencePenalty = 0.0f;
  float frequencyPenalty = 0.0f;
  int32_t penaltyLastN = 64;  ///< recent tokens (prompt and generated) the penalties count
  uint64_t seed = 0;

  /// True when the next token is the argmax of the logits (temperature <= 0, no penalty).
  [[nodiscard]] bool greedy() const;
  /// True when no penalty changes a logit.
  [[nodiscard]] bool penaltiesOff() const;
  /// Throws a one-line reel::Error naming the flag of the first bad field:
  /// "--top-p: 1.5 is not in (0, 1]".
  void validate() const;
};

/// Writes the kSamplingWords words of `params` (kernels::SampleRow's layout) to `words`.
void packSampling(const SamplingParams& params, int32_t* words);

/// The recent-token words of a row: the last min(penaltyLastN, size) of `history` (oldest
/// first), then -1 up to kMaxPenaltyLastN.
void packRecent(const SamplingParams& params, const std::vector<int32_t>& history, int32_t* words);

}  // namespace reel::decode
