#include "tools/LoadgenStats.h"

#include "support/Diagnostics.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace reel::tools {
namespace {

using Json = nlohmann::json;

/// The longest server-sent event a stream may carry (a chunk of one step's text is far less).
constexpr size_t kMostEventBytes = size_t{1} << 20;

double millisecondsBetween(LoadClock::time_point from, LoadClock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

/// The text a completion or chat chunk carries ("" for none).
std::string_view chunkText(const Json& chunk) {
  const auto choices = chunk.find("choices");
  if (choices == chunk.end() || !choices->is_array() || choices->empty() || !(*choices)[0].is_object()) return {};
  const Json& choice = (*choices)[0];
  const auto text = choice.find("text");
  if (text != choice.end() && text->is_string()) return text->get_ref<const std::string&>();
  const auto delta = choice.find("delta");
  if (delta == choice.end() || !delta->is_object()) return {};
  const auto content = delta->find("content");
  if (content != delta->end() && content->is_string()) return content->get_ref<const std::string&>();
  return {};
}

Json quantiles(const std::vector<double>& values) {
  auto value = [&](double fraction) {
    const std::optional<double> at = percentile(values, fraction);
    return at ? Json(*at) : Json(nullptr);
  };
  return {{"p50", value(0.5)}, {"p90", value(0.9)}, {"p99", value(0.99)}, {"max", value(1.0)}};
}

std::string cell(const std::vector<double>& values, double fraction) {
  const std::optional<double> at = percentile(values, fraction);
  return at ? fmt::format("{:.1f}", *at) : "-";
}

}  // namespace

LoadTarget parseLoadUrl(const std::string& url) {
  auto bad = [&]() { failPlain("reel loadgen: URL {}: expected http://HOST:PORT", quoteForMessage(url)); };
  constexpr std::string_view kScheme = "http://";
  std::string_view rest = url;
  if (rest.substr(0, kScheme.size()) != kScheme) bad();
  rest.remove_prefix(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) bad();
  std::string_view host = rest.substr(0, colon);
  const std::string_view port = rest.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty() || host.find_first_of("/?#@[] ") != std::string_view::npos) bad();
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) bad();
  return {std::string(host), static_cast<uint16_t>(value)};
}

bool StreamTally::feed(std::string_view bytes, LoadClock::time_point arrival) {
  if (broken_) return false;
  pending_.append(bytes);
  // Events end with a blank line; a server may end lines with \r\n.
  for (;;) {
    size_t end = pending_.find("\n\n");
    size_t separator = 2;
    const size_t crlf = pending_.find("\r\n\r\n");
    if (crlf != std::string::npos && (end == std::string::npos || crlf < end)) {
      end = crlf;
      separator = 4;
    }
    if (end == std::string::npos) break;
    event(std::string_view(pending_).substr(0, end), arrival);
    pending_.erase(0, end + separator);
    if (broken_) return false;
  }
  if (pending_.size() > kMostEventBytes) brokenBy(fmt::format("an event of more than {} bytes", kMostEventBytes));
  return !broken_;
}

void StreamTally::brokenBy(const std::string& why) {
  if (broken_) return;
  broken_ = true;
  result_.error = why;
  result_.errorKind = "stream";
}

void StreamTally::event(std::string_view event, LoadClock::time_point arrival) {
  std::string data;
  for (size_t at = 0; at <= event.size();) {
    size_t end = event.find('\n', at);
    if (end == std::string_view::npos) end = event.size();
    std::string_view line = event.substr(at, end - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.substr(0, 5) == "data:") {
      line.remove_prefix(5);
      if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
      if (!data.empty()) data += '\n';
      data.append(line);
    }
    at = end + 1;
  }
  if (data.empty()) return;  // a comment or a field other than data
  if (done_) return brokenBy("an event after data: [DONE]");
  if (data == "[DONE]") {
    done_ = true;
    return;
  }
  const Json chunk = Json::parse(data, nullptr, false);
  if (chunk.is_discarded() || !chunk.is_object())
    return brokenBy(fmt::format("a chunk that is not a JSON object: {}", quoteForMessage(data)));
  if (const auto error = chunk.find("error"); error != chunk.end()) {
    const auto message = error->is_object() ? error->find("message") : error->end();
    return brokenBy(fmt::format("an error event: {}", message != error->end() && message->is_string()
                                                          ? quoteForMessage(message->get<std::string>())
                                                          : quoteForMessage(error->dump())));
  }
  if (const auto usage = chunk.find("usage"); usage != chunk.end() && usage->is_object()) {
    const auto tokens = usage->find("completion_tokens");
    if (tokens != usage->end() && tokens->is_number_integer()) usageTokens_ = tokens->get<int64_t>();
  }
  if (chunkText(chunk).empty()) return;
  ++textChunks_;
  if (!last_) {
    result_.firstTokenMs = millisecondsBetween(sent_, arrival);
  } else {
    result_.gapsMs.push_back(millisecondsBetween(*last_, arrival));
  }
  last_ = arrival;
}

RequestResult StreamTally::finish() {
  if (!broken_ && !pending_.empty() && pending_.find_first_not_of("\r\n") != std::string::npos)
    brokenBy("the stream ends inside an event");
  if (!broken_ && !done_) brokenBy("the stream ends without data: [DONE]");
  result_.ok = !broken_;
  result_.outputTokens = usageTokens_.value_or(textChunks_);
  return result_;
}

std::optional<double> percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  const double rank = std::clamp(fraction, 0.0, 1.0) * static_cast<double>(values.size() - 1);
  const auto below = static_cast<size_t>(std::floor(rank));
  const size_t above = std::min(below + 1, values.size() - 1);
  return values[below] + (values[above] - values[below]) * (rank - static_cast<double>(below));
}

LevelReport summarize(int64_t concurrency, double seconds, const std::vector<RequestResult>& results) {
  LevelReport level;
  level.concurrency = concurrency;
  level.requests = static_cast<int64_t>(results.size());
  level.seconds = seconds;
  for (const RequestResult& result : results) {
    if (!result.ok) {
      ++level.errors;
      ++level.errorKinds[result.errorKind];
      if (level.firstError.empty()) level.firstError = result.error;
      continue;
    }
    level.outputTokens += result.outputTokens;
    if (result.firstTokenMs) level.firstTokenMs.push_back(*result.firstTokenMs);
    level.gapsMs.insert(level.gapsMs.end(), result.gapsMs.begin(), result.gapsMs.end());
  }
  return level;
}

std::string tableHeader() {
  return fmt::format("{:>11} {:>8} {:>6} {:>8} {:>10} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8}\n", "concurrency", "requests",
                     "errors", "req/s", "out tok/s", "TTFT p50", "TTFT p90", "TTFT p99", "ITL p50", "ITL p90",
                     "ITL p99");
}

std::string tableRow(const LevelReport& level) {
  const double seconds = std::max(level.seconds, 1e-9);
  const auto completed = static_cast<double>(level.requests - level.errors);
  return fmt::format("{:>11} {:>8} {:>6} {:>8.2f} {:>10.1f} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8}\n", level.concurrency,
                     level.requests, level.errors, completed / seconds,
                     static_cast<double>(level.outputTokens) / seconds, cell(level.firstTokenMs, 0.5),
                     cell(level.firstTokenMs, 0.9), cell(level.firstTokenMs, 0.99), cell(level.gapsMs, 0.5),
                     cell(level.gapsMs, 0.9), cell(level.gapsMs, 0.99));
}

nlohmann::json levelJson(const LevelReport& level) {
  const double seconds = std::max(level.seconds, 1e-9);
  Json json = {{"concurrency", level.concurrency},
               {"requests", level.requests},
               {"errors", level.errors},
               {"errors_by_kind", level.errorKinds},
               {"seconds", level.seconds},
               {"requests_per_second", static_cast<double>(level.requests - level.errors) / seconds},
               {"output_tokens", level.outputTokens},
               {"output_tokens_per_second", static_cast<double>(level.outputTokens) / seconds},
               {"ttft_ms", quantiles(level.firstTokenMs)},
               {"itl_ms", quantiles(level.gapsMs)}};
  if (!level.firstError.empty()) json["first_error"] = level.firstError;
  return json;
}

}  // namespace reel::tools
