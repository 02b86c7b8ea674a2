#pragma once
/// \file
/// The lowering of `sample` (the built-in hooks of Lower.cpp's registry include it): one
/// `sample` kernel over the logits, reading the step's sampling, recent-token and position
/// inputs, writing next_tokens.

#include "codegen/OpLowering.h"

namespace reel::codegen {

OpLoweringFn sampleLowering();

}  // namespace reel::codegen
