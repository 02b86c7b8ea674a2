#pragma once
/// \file
/// What `reel loadgen` measures, apart from its HTTP client: the URL it is given, one streamed
/// completion read event by event (time to first token, the gaps between token chunks, the
/// output tokens), and the per-level summary it prints as a table row and writes as JSON
/// (docs/serving.md).
///
///   StreamTally tally(sent);
///   tally.feed(bytes, arrival);   // as the body arrives, in any pieces
///   RequestResult result = tally.finish();

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace reel::tools {

using LoadClock = std::chrono::steady_clock;

/// http://HOST:PORT, as given to reel loadgen.
struct LoadTarget {
  std::string host;  ///< without the brackets of an IPv6 address
  uint16_t port = 0;
};

/// Reads `url` (http://HOST:PORT, a trailing slash allowed); a one-line reel::Error naming URL
/// for anything else.
LoadTarget parseLoadUrl(const std::string& url);

/// One request's measurements.
struct RequestResult {
  bool ok = false;
  std::string error;                   ///< why it failed (a one-line message)
  std::string errorKind;               ///< "connect", "http 429", "stream", "timeout", ...
  std::optional<double> firstTokenMs;  ///< from the request sent to the first chunk with text
  std::vector<double> gapsMs;          ///< between successive chunks with text
  int64_t outputTokens = 0;            ///< usage.completion_tokens, else the chunks with text
};

/// A streamed completion's body (server-sent events of OpenAI completion or chat chunks) read
/// as it arrives: the timestamps of the chunks with text, the usage, [DONE], an error event.
class StreamTally {
 public:
  explicit StreamTally(LoadClock::time_point sent) : sent_(sent) {}
  /// Feeds the next bytes of the body, which arrived at `arrival`; false once the stream is
  /// broken (a chunk that is not JSON, an error event, an event past the size limit).
  bool feed(std::string_view bytes, LoadClock::time_point arrival);
  /// The result once the body has ended: a stream without data: [DONE] is broken.
  RequestResult finish();

 private:
  void event(std::string_view event, LoadClock::time_point arrival);
  void brokenBy(const std::string& why);

  LoadClock::time_point sent_;
  std::optional<LoadClock::time_point> last_;
  std::string pending_;
  RequestResult result_;
  std::optional<int64_t> usageTokens_;
  int64_t textChunks_ = 0;
  bool done_ = false;
  bool broken_ = false;
};

/// The value below which `fraction` of `values` lie (linear between the closest ranks);
/// nothing for no values.
std::optional<double> percentile(std::vector<double> values, double fraction);

/// One concurrency level's results.
struct LevelReport {
  int64_t concurrency = 0;
  int64_t requests = 0;
  int64_t errors = 0;
  double seconds = 0;  ///< the level's wall time
  int64_t outputTokens = 0;
  std::vector<double> firstTokenMs;
  std::vector<double> gapsMs;
  std::map<std::string, int64_t> errorKinds;
  std::string firstError;
};

/// Folds one level's request results into its report.
LevelReport summarize(int64_t concurrency, double seconds, const std::vector<RequestResult>& results);
/// The table's header and one level's row (latencies in milliseconds, "-" where none).
std::string tableHeader();
std::string tableRow(const LevelReport& level);
/// One level as the JSON of --json.
nlohmann::json levelJson(const LevelReport& level);

}  // namespace reel::tools
