#pragma once
/// \file
/// Helpers shared by the model config tests.

#include "support/Diagnostics.h"

#include <catch2/catch.hpp>

#include <string>

namespace reel::models::test {

/// The path of a fixture under tests/models/Inputs.
inline std::string inputPath(const std::string& name) {
  return std::string(REEL_SOURCE_DIR) + "/tests/models/Inputs/" + name;
}

/// The message of the reel::Error `action` throws; fails the test if it throws none.
template <typename Action>
std::string errorMessage(Action&& action) {
  try {
    action();
  } catch (const reel::Error& error) {
    std::string message = error.what();
    CHECK(message.find('\n') == std::string::npos);  // every message is one line
    return message;
  }
  FAIL("expected a reel::Error");
  return {};
}

}  // namespace reel::models::test
