#pragma once
/// \file
/// What the fuzz targets share: how a finding stops the run (abort, which libFuzzer and
/// the replay tests report as a crash), how an expected rejection is reported (only with
/// REEL_FUZZ_VERBOSE=1 in the environment), and whether to run inputs that a target skips
/// because they would only hit an open finding again (tests/fuzz/findings/; with
/// REEL_FUZZ_NO_SKIPS=1 in the environment they run).

#include "support/Diagnostics.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace reel::fuzz {

/// Reports a finding of fuzz target `target` and aborts.
[[noreturn]] inline void die(const char* target, const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", target, what.c_str());
  std::abort();
}

/// An input rejected with a reel::Error (an expected outcome): printed when verbose.
inline void noteRejected(const Error& error) {
  if (std::getenv("REEL_FUZZ_VERBOSE")) std::fprintf(stderr, "rejected: %s\n", error.what());
}

/// An input a harness bound or an open finding skips: printed when verbose.
inline void noteSkipped(const char* why) {
  if (std::getenv("REEL_FUZZ_VERBOSE")) std::fprintf(stderr, "skipped: %s\n", why);
}

/// True with REEL_FUZZ_NO_SKIPS=1 in the environment: run the inputs of open findings.
inline bool runsOpenFindings() {
  static const bool all = std::getenv("REEL_FUZZ_NO_SKIPS") != nullptr;
  return all;
}

}  // namespace reel::fuzz
