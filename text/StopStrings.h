#pragma once
/// \file
/// Stop strings for streamed text: generated text goes out as it comes, except a tail that
/// could still become a stop string, which waits until it cannot. The first stop string found
/// ends the text; it and whatever follows it are never given out.
///
/// Usage:
///   StopStringFilter filter({"\nUser:"});
///   for (...) { print(filter.push(piece)); if (filter.stopped()) break; }
///   print(filter.finish());

#include <string>
#include <string_view>
#include <vector>

namespace reel::text {

class StopStringFilter {
 public:
  /// `stops` may be empty (then every text goes out at once); empty strings are ignored.
  explicit StopStringFilter(std::vector<std::string> stops);

  /// Takes the next text; returns what can go out now: the text before a stop string that
  /// it completes (then stopped() is true), else all but the longest tail that is the start
  /// of some stop string. After a stop, returns nothing.
  [[nodiscard]] std::string push(std::string_view text);
  /// The tail still held back, at the end of a text that no stop string ended ("" after a stop).
  [[nodiscard]] std::string finish();
  [[nodiscard]] bool stopped() const { return stopped_; }
  /// The stop string that ended the text ("" while none has).
  [[nodiscard]] const std::string& matched() const { return matched_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  std::string matched_;
  bool stopped_ = false;
};

}  // namespace reel::text
