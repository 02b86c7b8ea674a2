// libFuzzer target of the model-config TOML reader. Any input must either give a
// ModelConfig or throw reel::Error; any other exception escapes and libFuzzer reports it
// as a crash ("deadly signal" from std::terminate), as it does a sanitizer fault.
// REEL_FUZZ_VERBOSE=1 in the environment prints why an input was rejected.

#include "models/TomlConfig.h"
#include "support/Diagnostics.h"
#include "tests/fuzz/FuzzSupport.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    (void)reel::models::readTomlConfig(text, "fuzz.toml");
  } catch (const reel::Error& error) {
    reel::fuzz::noteRejected(error);
  }
  return 0;
}
