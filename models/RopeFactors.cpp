#include "models/RopeFactors.h"

#include <cmath>
#include <numbers>

namespace reel::models {

std::vector<float> llama3RopeFactors(int64_t headDim, double freqBase, const Llama3RopeScaling& params) {
  const double lowFreqWavelength = static_cast<double>(params.originalContext) / params.lowFreqFactor;
  const double highFreqWavelength = static_cast<double>(params.originalContext) / params.highFreqFactor;
  std::vector<float> factors(static_cast<size_t>(headDim / 2));
  for (int64_t i = 0; i < headDim / 2; ++i) {
    const double frequency = std::pow(freqBase, -2.0 * static_cast<double>(i) / static_cast<double>(headDim));
    const double wavelength = 2.0 * std::numbers::pi / frequency;
    double factor = 1.0;
    if (wavelength > lowFreqWavelength) {
      factor = params.factor;
    } else if (wavelength >= highFreqWavelength) {
      const double smooth = (static_cast<double>(params.originalContext) / wavelength - params.lowFreqFactor) /
                            (params.highFreqFactor - params.lowFreqFactor);
      factor = 1.0 / ((1.0 - smooth) / params.factor + smooth);
    }
    factors[static_cast<size_t>(i)] = static_cast<float>(factor);
  }
  return factors;
}

double ropeAngle(int64_t position, int64_t pair, int64_t headDim, double freqBase, double factor) {
  const double frequency = std::pow(freqBase, -2.0 * static_cast<double>(pair) / static_cast<double>(headDim));
  return static_cast<double>(position) * frequency / factor;
}

}  // namespace reel::models
