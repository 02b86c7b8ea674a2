// libFuzzer target of the Hugging Face config.json reader. Any input must either give a
// ModelConfig or throw reel::Error; any other exception escapes and is reported as a crash.
// REEL_FUZZ_VERBOSE=1 in the environment prints why an input was rejected.

#include "models/HfConfig.h"
#include "support/Diagnostics.h"
#include "tests/fuzz/FuzzSupport.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    (void)reel::models::readHfConfig(text, "config.json");
  } catch (const reel::Error& error) {
    reel::fuzz::noteRejected(error);
  }
  return 0;
}
