#include "runtime/decode/Sampling.h"

#include "support/Diagnostics.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace reel::decode {

bool SamplingParams::penaltiesOff() const {
  return repeatPenalty == 1.0f && presencePenalty == 0.0f && frequencyPenalty == 0.0f;
}

bool SamplingParams::greedy() const {
  return temperature <= 0.0f && penaltiesOff();
}

void SamplingParams::validate() const {
  const auto finite = [](const char* flag, float value) {
    if (!std::isfinite(value)) failPlain("{}: {} is not a finite number", flag, value);
  };
  finite("--temp", temperature);
  if (topK < 0) failPlain("--top-k: {} is negative (0 turns it off)", topK);
  finite("--top-p", topP);
  if (!(topP > 0.0f && topP <= 1.0f)) failPlain("--top-p: {} is not in (0, 1]", topP);
  finite("--min-p", minP);
  if (!(minP >= 0.0f && minP <= 1.0f)) failPlain("--min-p: {} is not in [0, 1]", minP);
  finite("--repeat-penalty", repeatPenalty);
  if (!(repeatPenalty > 0.0f)) failPlain("--repeat-penalty: {} is not positive (1 turns it off)", repeatPenalty);
  finite("--presence-penalty", presencePenalty);
  finite("--frequency-penalty", frequencyPenalty);
  if (penaltyLastN < 0 || penaltyLastN > kMaxPenaltyLastN)
    failPlain("--repeat-last-n: {} is not in [0, {}]", penaltyLastN, kMaxPenaltyLastN);
}

void packSampling(const SamplingParams& params, int32_t* words) {
  const auto put = [&](int index, float value) { std::memcpy(&words[index], &value, sizeof(value)); };
  put(0, params.temperature);
  words[1] = params.topK;
  put(2, params.topP);
  put(3, params.minP);
  put(4, params.repeatPenalty);
  put(5, params.presencePenalty);
  put(6, params.frequencyPenalty);
  words[7] = params.penaltyLastN;
  const auto lo = static_cast<uint32_t>(params.seed);
  const auto hi = static_cast<uint32_t>(params.seed >> 32);
  std::memcpy(&words[8], &lo, sizeof(lo));
  std::memcpy(&words[9], &hi, sizeof(hi));
}

void packRecent(const SamplingParams& params, const std::vector<int32_t>& history, int32_t* words) {
  const auto window = static_cast<size_t>(std::clamp(params.penaltyLastN, 0, kMaxPenaltyLastN));
  const size_t count = std::min(window, history.size());
  std::copy(history.end() - static_cast<std::ptrdiff_t>(count), history.end(), words);
  std::fill(words + count, words + kMaxPenaltyLastN, -1);
}

}  // namespace reel::decode
