#pragma once
/// \file
/// The rotation of one RoPE pair, shared by the rope kernel and the attention kernel's fused
/// RoPE + KV append prologue (so both rotate bit for bit alike).

#include "kernels/Rope.h"

namespace reel::kernels::detail {

/// inv_freq of pair `pair`: freqBase^(-2 pair / headDim), with llama3 scaling where enabled.
__device__ __forceinline__ float ropeInvFreq(int pair, int headDim, const RopeScaling& s) {
  float inv = powf(s.freqBase, -2.0f * static_cast<float>(pair) / static_cast<float>(headDim));
  if (s.llama3Factor != 1.0f && s.originalMaxPositions > 0.0f) {
    const float wavelen = 2.0f * 3.14159265358979f / inv;
    const float lowWavelen = s.originalMaxPositions / s.lowFreqFactor;
    const float highWavelen = s.originalMaxPositions / s.highFreqFactor;
    if (wavelen > lowWavelen) {
      inv = inv / s.llama3Factor;
    } else if (wavelen >= highWavelen) {
      const float smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      inv = (1.0f - smooth) * inv / s.llama3Factor + smooth * inv;
    }
  }
  return inv;
}

/// Offsets within a head of the two elements of pair i.
__device__ __forceinline__ void ropePairOffsets(RopeStyle style, int i, int headDim, int& first, int& second) {
  first = style == RopeStyle::Norm ? 2 * i : i;
  second = style == RopeStyle::Norm ? 2 * i + 1 : i + headDim / 2;
}

/// sin and cos of pair i's angle at position `pos`.
__device__ __forceinline__ void ropeSinCos(float pos, int i, int headDim, const RopeScaling& s, float& sn, float& cs) {
  sincosf(pos * ropeInvFreq(i, headDim, s), &sn, &cs);
}

/// Rotates (v0, v1) by the angle whose sin and cos are given.
__device__ __forceinline__ void ropeApply(float& v0, float& v1, float sn, float cs) {
  const float x0 = v0, x1 = v1;
  v0 = x0 * cs - x1 * sn;
  v1 = x0 * sn + x1 * cs;
}

/// Rotates (v0, v1), pair i of a head, by position `pos`.
__device__ __forceinline__ void ropeRotate(float& v0, float& v1, float pos, int i, int headDim, const RopeScaling& s) {
  float sn, cs;
  ropeSinCos(pos, i, headDim, s, sn, cs);
  ropeApply(v0, v1, sn, cs);
}

}  // namespace reel::kernels::detail
