#pragma once
/// \file
/// The deterministic random numbers of synthetic weights: splitmix64 streams and a cheap
/// normal-ish variate (Irwin-Hall sum of four 16-bit uniforms, scaled to unit variance;
/// range about +-3.46 sigma). Same numbers on every platform and with any thread count.

#include <cstdint>
#include <string_view>

namespace reel::synth_random {

/// splitmix64's output function: a good 64-bit mixer.
constexpr uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// FNV-1a hash of a name (stable across platforms, unlike std::hash).
constexpr uint64_t hashName(std::string_view name) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (char c : name) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

/// A splitmix64 stream.
class SplitMix64 {
 public:
  explicit constexpr SplitMix64(uint64_t seed) : state_(seed) {}
  constexpr uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return mix64(state_);
  }
  /// Mean 0, variance 1, bell-shaped (sum of four uniforms).
  float nextNormalish() {
    const uint64_t bits = next();
    const auto sum =
        static_cast<float>((bits & 0xffff) + ((bits >> 16) & 0xffff) + ((bits >> 32) & 0xffff) + (bits >> 48));
    // Each 16-bit uniform has mean 32767.5 and variance (65536^2 - 1) / 12.
    constexpr float kMean = 4 * 32767.5f;
    constexpr float kInvStddev = 1.0f / 37837.2f;  // 1 / sqrt(4 * (65536^2 - 1) / 12)
    return (sum - kMean) * kInvStddev;
  }

 private:
  uint64_t state_;
};

}  // namespace reel::synth_random
