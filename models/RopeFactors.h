#pragma once
/// \file
/// Llama 3.1-style RoPE frequency scaling as llama.cpp applies it: one divisor per rotated
/// pair, stored in GGUF files as the F32 tensor `rope_freqs.weight` [head_dim / 2]. Pair i
/// rotates by pos * freq_base^(-2i/head_dim) / factor[i].

#include "models/ModelConfig.h"

#include <cstdint>
#include <vector>

namespace reel::models {

/// The divisors of the head_dim/2 frequencies, computed as llama.cpp's converter does:
/// wavelength < original/high -> 1, > original/low -> factor, else the smooth blend
/// 1 / ((1 - s) / factor + s) with s = (original / wavelength - low) / (high - low).
std::vector<float> llama3RopeFactors(int64_t headDim, double freqBase, const Llama3RopeScaling& params);

/// The rotation angle of pair i at position pos (in double precision).
double ropeAngle(int64_t position, int64_t pair, int64_t headDim, double freqBase, double factor);

}  // namespace reel::models
