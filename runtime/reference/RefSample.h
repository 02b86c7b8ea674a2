#pragma once
/// \file
/// The `sample` op on the CPU: each row's next token from its logits, its packed parameters
/// (kernels::SampleRow, decode::packSampling) and its recent tokens, by the algorithm of the
/// GPU kernel (kernels/Sample.cu; docs/sampling.md): penalties, then the greedy argmax where
/// the temperature is <= 0, else top-k (at most kSampleMaxCandidates), top-p, min-p, the
/// temperature and the counter-based draw at the row's position.

#include "kernels/SampleMath.h"
#include "runtime/reference/HostTensor.h"

#include <cstdint>
#include <vector>

namespace reel::reference {

/// One row of a sample step.
struct SampleInput {
  const float* logits = nullptr;
  int64_t vocab = 0;
  kernels::SampleRow params{};
  const int32_t* recent = nullptr;  ///< kernels::kSampleWindow tokens, -1 where there is none
  int64_t position = 0;             ///< the position of the row's token (the draw's counter)
};

/// The candidates the draw chooses from, best first (after penalties, top-k, top-p and
/// min-p), and their logits after the penalties. Empty for a greedy row.
struct SampleCandidates {
  std::vector<int32_t> tokens;
  std::vector<float> logits;
};

SampleCandidates sampleCandidates(const SampleInput& row);
/// The row's next token.
int32_t sampleRow(const SampleInput& row);

/// Every row of a step: `sampling` holds kSampleRowWords words per row, `recent`
/// kSampleWindow tokens per row, `positions` one per row.
HostTensor sampleRows(const HostTensor& logits, const std::vector<int32_t>& sampling,
                      const std::vector<int32_t>& recent, const std::vector<int32_t>& positions);

}  // namespace reel::reference
