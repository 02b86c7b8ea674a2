#pragma once
/// \file
/// What the `sample` kernel and the CPU reference share, host and device alike (no CUDA
/// headers): the per-row parameter record of the sampling step input, the window of recent
/// tokens, the candidate cap, the order on (logit, index) pairs and the counter-based uniform
/// draw. docs/sampling.md describes the semantics.

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define REEL_HOST_DEVICE __host__ __device__
#else
#define REEL_HOST_DEVICE
#endif

namespace reel::kernels {

/// Recent tokens per row in the recent-tokens step input (int32, -1 where there is none): the
/// most a row's penalties look back.
inline constexpr int kSampleWindow = 256;
/// Most candidates that survive top-k (top-k off or larger keeps the 1024 largest logits).
inline constexpr int kSampleMaxCandidates = 1024;
/// Largest vocabulary the sample kernel takes (its shared-memory bitmap of penalised tokens).
inline constexpr int64_t kSampleMaxVocab = 262144;

/// One row of the sampling step input: ten 32-bit words, in this order (decode::packSampling
/// writes them). temperature <= 0 is greedy.
struct SampleRow {
  float temperature;
  int32_t topK;  ///< 0: off
  float topP;    ///< 1: off
  float minP;    ///< 0: off
  float repeatPenalty;
  float presencePenalty;
  float frequencyPenalty;
  int32_t penaltyLastN;  ///< recent tokens the penalties count, at most kSampleWindow
  uint32_t seedLo;
  uint32_t seedHi;
};
static_assert(sizeof(SampleRow) == 40, "SampleRow is ten 32-bit words");
inline constexpr int kSampleRowWords = 10;

/// The splitmix64 finalizer: a bijective 64-bit mix.
REEL_HOST_DEVICE constexpr uint64_t mix64(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// The uniform draw of the token after `position` of a sequence sampled with `seed`: a float in
/// [0, 1), a multiple of 2^-24, from integer arithmetic only, so the CPU and the GPU draw the
/// same number whatever bucket, row or neighbours the sequence has.
REEL_HOST_DEVICE constexpr float counterUniform(uint64_t seed, int64_t position) {
  const uint64_t h = mix64(mix64(seed ^ 0x9E3779B97F4A7C15ull) + static_cast<uint64_t>(position));
  return static_cast<float>(static_cast<uint32_t>(h >> 40)) * (1.0f / 16777216.0f);
}

/// The seed of a SampleRow.
REEL_HOST_DEVICE constexpr uint64_t sampleSeed(const SampleRow& row) {
  return (static_cast<uint64_t>(row.seedHi) << 32) | row.seedLo;
}

/// A key that orders (value, index) as argmax does: a larger value first, then the lower index
/// (-0 and +0 are one value); 0 for NaN, below every other key. Unique per index.
REEL_HOST_DEVICE inline uint64_t candidateKey(float value, uint32_t index) {
  uint32_t bits = 0;
  memcpy(&bits, &value, sizeof(bits));
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return 0;
  if ((bits & 0x7FFFFFFFu) == 0) bits = 0;
  bits = (bits & 0x80000000u) != 0 ? ~bits : (bits | 0x80000000u);
  return (static_cast<uint64_t>(bits) << 32) | (0xFFFFFFFFu - index);
}

/// The value and the index a candidateKey encodes.
REEL_HOST_DEVICE inline float keyValue(uint64_t key) {
  auto bits = static_cast<uint32_t>(key >> 32);
  bits = (bits & 0x80000000u) != 0 ? (bits & 0x7FFFFFFFu) : ~bits;
  float value = 0;
  memcpy(&value, &bits, sizeof(value));
  return value;
}
REEL_HOST_DEVICE inline int32_t keyIndex(uint64_t key) {
  return static_cast<int32_t>(0xFFFFFFFFu - static_cast<uint32_t>(key));
}

/// A logit after the penalties: the repeat penalty divides a positive logit and multiplies a
/// negative one, then count * frequency + presence is subtracted, each operation rounded on its
/// own: the device code uses the _rn intrinsics, which nvcc never fuses into an FMA; the host
/// build targets x86-64 without FMA instructions, so it cannot fuse either.
REEL_HOST_DEVICE inline float penalised(float logit, int32_t count, const SampleRow& row) {
  float x = logit;
  if (row.repeatPenalty != 1.0f) x = x > 0.0f ? x / row.repeatPenalty : x * row.repeatPenalty;
#if defined(__CUDA_ARCH__)
  const float subtract = __fadd_rn(__fmul_rn(static_cast<float>(count), row.frequencyPenalty), row.presencePenalty);
#else
  const float subtract = static_cast<float>(count) * row.frequencyPenalty + row.presencePenalty;
#endif
  return x - subtract;
}

}  // namespace reel::kernels
