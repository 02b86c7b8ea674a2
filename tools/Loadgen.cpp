// reel loadgen URL: a load generator for an OpenAI-compatible server (reel serve, or any that
// streams /v1/completions). At each concurrency level, that many client threads stream
// completions of random token-id prompts, each thread over its own keep-alive connection, and
// the level's throughput, time to first token and inter-token latency are printed as one table
// row (docs/serving.md).
#include "support/Diagnostics.h"
#include "tools/Args.h"
#include "tools/Commands.h"
#include "tools/LoadgenStats.h"

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it

#include <fmt/format.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdio>
#include <limits>
#include <memory>
#include <random>
#include <system_error>
#include <thread>

namespace reel::tools {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Json = nlohmann::json;

/// The most client threads one level may start.
constexpr int64_t kMostConcurrency = 4096;
/// The most bytes of an error response kept for its message.
constexpr size_t kMostErrorBytes = 4096;
/// How long connecting may take.
constexpr auto kConnectTimeout = std::chrono::seconds(10);

/// What every request of the run shares.
struct LoadPlan {
  LoadTarget target;
  std::string url;
  std::string model;
  int64_t vocabulary = 0;
  int64_t promptTokens = 0;
  int64_t maxTokens = 0;
  int64_t requests = 0;
  uint64_t seed = 0;
  std::chrono::seconds timeout{0};
};

/// SplitMix64's mix: a well spread value of `x`.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// The body of request `index` of level `level`: a prompt of random token ids drawn from the
/// seed, the level and the index, so a run with the same seed sends the same prompts.
std::string requestBody(const LoadPlan& plan, int64_t level, int64_t index) {
  std::mt19937_64 random(mix(plan.seed ^ mix(static_cast<uint64_t>(level) << 32 ^ static_cast<uint64_t>(index))));
  std::uniform_int_distribution<int64_t> token(0, plan.vocabulary - 1);
  std::vector<int64_t> prompt(static_cast<size_t>(plan.promptTokens));
  for (int64_t& id : prompt) id = token(random);
  Json body = {{"model", plan.model},
               {"prompt", prompt},
               {"max_tokens", plan.maxTokens},
               {"temperature", 0},
               {"stream", true},
               {"ignore_eos", true},
               {"stream_options", {{"include_usage", true}}}};
  return body.dump();
}

/// One client's connection to the server, on its own io_context so that every operation
/// carries a deadline.
class Client {
 public:
  Client(const LoadPlan& plan, const tcp::resolver::results_type& endpoints)
      : plan_(plan), endpoints_(endpoints), guard_(ioc_.get_executor()), stream_(ioc_) {}

  /// GET `path`: the status and body; a one-line reel::Error when the server cannot be reached.
  std::pair<unsigned, std::string> get(const std::string& path);
  /// Streams one completion and measures it; every failure is a result, never a throw.
  RequestResult complete(const std::string& body);

 private:
  /// Starts an asynchronous operation and runs the io_context until it completes.
  template <typename Start>
  beast::error_code await(Start start) {
    bool done = false;
    beast::error_code result;
    start([&](beast::error_code ec, auto&&...) {
      result = ec;
      done = true;
    });
    while (!done) ioc_.run_one();
    return result;
  }
  using Parser = http::response_parser<http::buffer_body>;
  beast::error_code connect();
  void disconnect();
  /// Connects where needed, sends a completion request and reads the response's header.
  beast::error_code start(const std::string& body, Parser& parser, LoadClock::time_point& sent);
  beast::error_code send(http::verb verb, const std::string& path, const std::string& body);
  RequestResult failed(const std::string& kind, const std::string& message);

  const LoadPlan& plan_;
  tcp::resolver::results_type endpoints_;
  net::io_context ioc_;
  /// Keeps run_one() waiting for the next operation rather than returning once one is done.
  net::executor_work_guard<net::io_context::executor_type> guard_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
};

beast::error_code Client::connect() {
  if (connected_) return {};
  buffer_.clear();
  stream_.expires_after(kConnectTimeout);
  const beast::error_code ec = await([&](auto handler) { stream_.async_connect(endpoints_, std::move(handler)); });
  connected_ = !ec;
  beast::error_code ignored;
  if (connected_) stream_.socket().set_option(tcp::no_delay(true), ignored);
  return ec;
}

void Client::disconnect() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
  connected_ = false;
}

beast::error_code Client::send(http::verb verb, const std::string& path, const std::string& body) {
  http::request<http::string_body> request{verb, path, 11};
  request.set(http::field::host, fmt::format("{}:{}", plan_.target.host, plan_.target.port));
  request.set(http::field::user_agent, "reel-loadgen");
  if (verb == http::verb::post) {
    request.set(http::field::content_type, "application/json");
    request.set(http::field::accept, "text/event-stream");
  }
  request.keep_alive(true);
  request.body() = body;
  request.prepare_payload();
  stream_.expires_after(plan_.timeout);
  return await([&](auto handler) { http::async_write(stream_, request, std::move(handler)); });
}

std::pair<unsigned, std::string> Client::get(const std::string& path) {
  beast::error_code ec = connect();
  if (!ec) ec = send(http::verb::get, path, "");
  http::response_parser<http::string_body> parser;
  parser.body_limit(uint64_t{16} << 20);
  stream_.expires_after(plan_.timeout);
  if (!ec) ec = await([&](auto handler) { http::async_read(stream_, buffer_, parser, std::move(handler)); });
  disconnect();
  if (ec) failPlain("reel loadgen: cannot reach {}{}: {}", plan_.url, path, ec.message());
  return {parser.get().result_int(), parser.get().body()};
}

RequestResult Client::failed(const std::string& kind, const std::string& message) {
  disconnect();
  RequestResult result;
  result.errorKind = kind;
  result.error = message;
  return result;
}

beast::error_code Client::start(const std::string& body, Parser& parser, LoadClock::time_point& sent) {
  if (const beast::error_code ec = connect()) return ec;
  sent = LoadClock::now();
  beast::error_code ec = send(http::verb::post, "/v1/completions", body);
  parser.body_limit(std::numeric_limits<uint64_t>::max());
  stream_.expires_after(plan_.timeout);
  if (!ec) ec = await([&](auto handler) { http::async_read_header(stream_, buffer_, parser, std::move(handler)); });
  return ec;
}

RequestResult Client::complete(const std::string& body) {
  LoadClock::time_point sent;
  auto parser = std::make_unique<Parser>();
  const bool reused = connected_;
  beast::error_code ec = start(body, *parser, sent);
  if (ec && reused && ec != beast::error::timeout) {
    // The server closed the kept-alive connection between two requests: once more on a new one.
    disconnect();
    parser = std::make_unique<Parser>();
    ec = start(body, *parser, sent);
  }
  if (ec == beast::error::timeout) return failed("timeout", "no response within --timeout");
  if (ec && !connected_) return failed("connect", "connect: " + ec.message());
  if (ec) return failed("response", "sending the request or reading the response: " + ec.message());
  const unsigned status = parser->get().result_int();
  StreamTally tally(sent);
  std::string errorText;
  std::vector<char> piece(size_t{1} << 14);
  while (!parser->is_done()) {
    parser->get().body().data = piece.data();
    parser->get().body().size = piece.size();
    stream_.expires_after(plan_.timeout);
    ec = await([&](auto handler) { http::async_read_some(stream_, buffer_, *parser, std::move(handler)); });
    if (ec == http::error::need_buffer) ec = {};
    if (ec == beast::error::timeout) return failed("timeout", "no bytes for --timeout in the middle of the response");
    if (ec) return failed("stream", "the response breaks off: " + ec.message());
    const std::string_view bytes(piece.data(), piece.size() - parser->get().body().size);
    if (status != 200) {
      errorText.append(bytes.substr(0, kMostErrorBytes - std::min(errorText.size(), kMostErrorBytes)));
    } else if (!tally.feed(bytes, LoadClock::now())) {
      break;
    }
  }
  const bool reusable = parser->is_done() && parser->get().keep_alive();
  if (status != 200) {
    const Json error = Json::parse(errorText, nullptr, false);
    const std::string message = !error.is_discarded() && error.contains("error") && error["error"].is_object() &&
                                        error["error"].contains("message") && error["error"]["message"].is_string()
                                    ? error["error"]["message"].get<std::string>()
                                    : errorText;
    return failed(fmt::format("http {}", status), fmt::format("HTTP {}: {}", status, quoteForMessage(message)));
  }
  RequestResult result = tally.finish();
  if (!reusable) disconnect();
  return result;
}

/// Runs one level: `concurrency` threads take the level's requests in turn until all are sent.
LevelReport runLevel(const LoadPlan& plan, const tcp::resolver::results_type& endpoints, int64_t level,
                     int64_t concurrency) {
  std::atomic<int64_t> next{0};
  const int64_t threads = std::min(concurrency, plan.requests);
  std::vector<std::vector<RequestResult>> results(static_cast<size_t>(threads));
  const LoadClock::time_point start = LoadClock::now();
  std::vector<std::thread> clients;
  auto serve = [&](int64_t t) {
    std::vector<RequestResult>& mine = results[static_cast<size_t>(t)];
    std::optional<Client> client;
    for (int64_t index = next++; index < plan.requests; index = next++) {
      try {
        if (!client) client.emplace(plan, endpoints);
        mine.push_back(client->complete(requestBody(plan, level, index)));
      } catch (const std::exception& error) {
        client.reset();
        mine.push_back(RequestResult{false, error.what(), "client", std::nullopt, {}, 0});
      }
    }
  };
  for (int64_t t = 0; t < threads; ++t) {
    try {
      clients.emplace_back(serve, t);
    } catch (const std::system_error&) {
      break;  // the threads started take all the requests
    }
  }
  if (clients.empty()) serve(0);
  for (std::thread& thread : clients) thread.join();
  const double seconds = std::chrono::duration<double>(LoadClock::now() - start).count();
  std::vector<RequestResult> all;
  for (std::vector<RequestResult>& mine : results)
    all.insert(all.end(), std::make_move_iterator(mine.begin()), std::make_move_iterator(mine.end()));
  return summarize(concurrency, seconds, all);
}

std::vector<int64_t> parseLevels(const std::string& text) {
  return parseIntList(text, {1, kMostConcurrency}, "reel loadgen: --concurrency");
}

/// Asks GET /v1/models for the model's name, vocabulary and context (its data[0].meta, as reel
/// serve and llama.cpp's server give it), and checks that the prompts fit.
void readModel(LoadPlan& plan, Client& client) {
  const auto [status, body] = client.get("/v1/models");
  const std::string where = plan.url + "/v1/models";
  if (status != 200) failPlain("reel loadgen: {}: HTTP {}", where, status);
  const Json models = Json::parse(body, nullptr, false);
  const Json* entry = nullptr;
  if (!models.is_discarded() && models.is_object() && models.contains("data") && models["data"].is_array() &&
      !models["data"].empty() && models["data"][0].is_object())
    entry = &models["data"][0];
  if (!entry) failPlain("reel loadgen: {}: expected {{\"data\": [{{\"id\": ...}}]}}", where);
  if (entry->contains("id") && (*entry)["id"].is_string()) plan.model = (*entry)["id"].get<std::string>();
  const Json meta = entry->value("meta", Json::object());
  if (!meta.is_object() || !meta.contains("n_vocab") || !meta["n_vocab"].is_number_integer() ||
      meta["n_vocab"].get<int64_t>() < 1)
    failPlain("reel loadgen: {}: no data[0].meta.n_vocab, the vocabulary the prompt's token ids must be below", where);
  plan.vocabulary = meta["n_vocab"].get<int64_t>();
  if (meta.contains("n_ctx") && meta["n_ctx"].is_number_integer()) {
    const int64_t context = meta["n_ctx"].get<int64_t>();
    if (plan.promptTokens + plan.maxTokens > context)
      failPlain(
          "reel loadgen: --prompt-tokens {} and --max-tokens {} need {} positions, more than the server's context of "
          "{} per sequence (n_ctx)",
          plan.promptTokens, plan.maxTokens, plan.promptTokens + plan.maxTokens, context);
  }
}

}  // namespace

int runLoadgen(int argc, char** argv) {
  Args args("reel loadgen",
            "Load an OpenAI-compatible server (reel serve) with streamed completions: at each concurrency level,\n"
            "that many client threads send --requests requests in all, each a prompt of --prompt-tokens random token\n"
            "ids (below the vocabulary GET /v1/models gives as data[0].meta.n_vocab) for --max-tokens tokens,\n"
            "greedy and past end-of-generation tokens. Prints per level the requests, errors, requests/s, output\n"
            "tokens/s, and the time to first token and inter-token latency (p50, p90, p99) in ms.");
  args.positional("URL", "the server: http://HOST:PORT");
  args.option("--concurrency", "LIST", "the concurrency levels, run in turn (default 1,4,16,64)");
  args.option("--prompt-tokens", "N", "the tokens of every prompt (default 128)");
  args.option("--max-tokens", "N", "the tokens every request generates (default 128)");
  args.option("--requests", "N", "the requests of each level (default 64)");
  args.option("--seed", "S", "draws the prompts' token ids (default 0: every run sends the same prompts)");
  args.option("--timeout", "S", "seconds without a byte from the server before a request fails (default 600)");
  args.option("--json", "FILE", "also write every level's results as JSON");
  if (!args.parse(argc, argv, 2)) return 0;

  LoadPlan plan;
  plan.url = *args.get("URL");
  plan.target = parseLoadUrl(plan.url);
  if (plan.url.back() == '/') plan.url.pop_back();
  const std::vector<int64_t> levels = parseLevels(args.getOr("--concurrency", "1,4,16,64"));
  plan.promptTokens = args.getInt("--prompt-tokens", 128, {1, 1 << 24});
  plan.maxTokens = args.getInt("--max-tokens", 128, {1, 1 << 24});
  plan.requests = args.getInt("--requests", 64, {1, 1 << 24});
  plan.seed = static_cast<uint64_t>(args.getInt("--seed", 0, {0, std::numeric_limits<int64_t>::max()}));
  plan.timeout = std::chrono::seconds(args.getInt("--timeout", 600, {1, 1 << 24}));
  const std::optional<std::string> jsonPath = args.get("--json");

  net::io_context resolveContext;
  beast::error_code ec;
  const tcp::resolver::results_type endpoints =
      tcp::resolver(resolveContext).resolve(plan.target.host, std::to_string(plan.target.port), ec);
  if (ec) failPlain("reel loadgen: URL {}: cannot resolve {}: {}", plan.url, plan.target.host, ec.message());
  Client probe(plan, endpoints);
  readModel(plan, probe);

  std::printf(
      "reel loadgen: %s, model %s: %lld requests per level, prompts of %lld random tokens, %lld tokens each; "
      "latencies in ms\n",
      plan.url.c_str(), plan.model.c_str(), static_cast<long long>(plan.requests),
      static_cast<long long>(plan.promptTokens), static_cast<long long>(plan.maxTokens));
  std::fputs(tableHeader().c_str(), stdout);
  std::fflush(stdout);
  Json report = {{"url", plan.url},
                 {"model", plan.model},
                 {"prompt_tokens", plan.promptTokens},
                 {"max_tokens", plan.maxTokens},
                 {"requests_per_level", plan.requests},
                 {"seed", plan.seed},
                 {"levels", Json::array()}};
  for (size_t level = 0; level < levels.size(); ++level) {
    const LevelReport result = runLevel(plan, endpoints, static_cast<int64_t>(level), levels[level]);
    std::fputs(tableRow(result).c_str(), stdout);
    std::fflush(stdout);
    if (result.errors > 0)
      std::fprintf(stderr, "reel loadgen: %lld of %lld requests failed at concurrency %lld; the first: %s\n",
                   static_cast<long long>(result.errors), static_cast<long long>(result.requests),
                   static_cast<long long>(result.concurrency), result.firstError.c_str());
    report["levels"].push_back(levelJson(result));
  }
  if (jsonPath) writeOutput(*jsonPath, report.dump(2) + "\n");
  return 0;
}

}  // namespace reel::tools
