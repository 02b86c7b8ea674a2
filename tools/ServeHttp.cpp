#include "tools/ServeHttp.h"

#include "support/Diagnostics.h"

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without it

#include <fmt/format.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <poll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

namespace reel::tools {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

constexpr uint32_t kHeaderLimit = 64 * 1024;
constexpr int kAcceptPollMs = 200;
/// What one connection holds open: its socket, and its io_context's epoll, eventfd and timerfd.
constexpr int64_t kDescriptorsPerConnection = 4;
/// Descriptors kept for the rest of the process: stdio, the listening socket, the signalfd,
/// the model and the device's.
constexpr int64_t kReservedDescriptors = 128;
/// How long the accept loop waits after a failed accept (no descriptor or thread to spare)
/// before it tries again, rather than spinning on the still-pending connection.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(50);

int64_t unixTime() {
  return static_cast<int64_t>(std::time(nullptr));
}

/// Raises the soft limit on open descriptors to the hard one (where it is lower, as the common
/// default of 1024 is) and returns the connections the limit then holds.
int64_t connectionsTheDescriptorsHold() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return INT64_MAX;
  if (limit.rlim_cur != limit.rlim_max) {
    rlimit raised{limit.rlim_max, limit.rlim_max};
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur == RLIM_INFINITY) return INT64_MAX;
  const auto descriptors = static_cast<int64_t>(std::min<rlim_t>(limit.rlim_cur, INT64_MAX));
  return std::max<int64_t>(1, (descriptors - kReservedDescriptors) / kDescriptorsPerConnection);
}

/// A prepared channel: the API request and the job for the engine.
struct Prepared {
  ApiRequest api;
  GenerationJob job;
};

}  // namespace

struct HttpServer::State {
  ServeContext& context;
  HttpOptions options;
  net::io_context acceptContext;
  tcp::acceptor acceptor{acceptContext};
  std::atomic<int64_t> nextId{0};
  int64_t created = unixTime();

  class Connection;
  std::mutex mutex;  ///< guards connections and draining
  std::condition_variable closed;
  std::set<Connection*> connections;
  std::atomic<bool> draining{false};

  State(ServeContext& context, const HttpOptions& options) : context(context), options(options) {}

  Prepared prepare(const ApiRequest& api) const;
  void closeIdle();
  /// Accepts one pending connection and starts its thread, or answers 503 and closes it past
  /// --max-connections; false when no connection could be taken (out of descriptors or
  /// threads), which the accept loop waits out.
  bool accept();
};

/// One client connection, served on its own thread.
class HttpServer::State::Connection {
 public:
  explicit Connection(State& server) : server_(server), guard_(ioc_.get_executor()), stream_(ioc_) {}

  net::io_context& context() { return ioc_; }
  tcp::socket& socket() { return stream_.socket(); }
  /// Posted on shutdown: an idle connection closes, a busy one after its response.
  void stopSoon() {
    stopping_ = true;
    if (reading_) stream_.cancel();
  }
  void run();

 private:
  /// Starts an asynchronous operation with a completion handler and runs this connection's
  /// io_context until it completes.
  template <typename Start>
  beast::error_code await(Start start) {
    bool done = false;
    beast::error_code result;
    start([&](beast::error_code ec, std::size_t) {
      result = ec;
      done = true;
    });
    while (!done) ioc_.run_one();
    return result;
  }

  bool send(Response& response);
  /// After an error response to a request not read whole: reads and drops what the client
  /// still sends (bounded), so that closing does not reset the connection before the client
  /// has read the response.
  void lingeringClose();
  bool sendError(unsigned version, int status, const std::string& message, bool keepAlive);
  /// Answers one request; false when the connection must close.
  bool handle(const Request& request);
  bool generate(const Request& request, Endpoint endpoint);
  bool stream(const Request& request, const Prepared& prepared, RequestChannel& channel, const ResponseInfo& info);
  bool writeChunk(const std::string& data);
  /// Watches the socket for the client going away while a request runs.
  void watchPeer();
  void unwatchPeer();
  /// True when the watch saw the peer close (or fail).
  bool peerGone();

  State& server_;
  net::io_context ioc_;
  net::executor_work_guard<net::io_context::executor_type> guard_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  bool reading_ = false;
  bool stopping_ = false;
  bool watching_ = false;
  bool peerReadable_ = false;
  bool peerData_ = false;  ///< the client sent more (a pipelined request): stop watching
};

bool HttpServer::State::Connection::send(Response& response) {
  response.prepare_payload();
  stream_.expires_after(server_.options.idleTimeout);
  return !await([&](auto handler) { http::async_write(stream_, response, std::move(handler)); });
}

bool HttpServer::State::Connection::sendError(unsigned version, int status, const std::string& message,
                                              bool keepAlive) {
  Response response{static_cast<http::status>(status), version};
  response.set(http::field::content_type, "application/json");
  if (status == 429) response.set(http::field::retry_after, "1");
  response.keep_alive(keepAlive);
  response.body() = errorBody(status, message);
  return send(response) && keepAlive;
}

/// OpenAI's finish_reason of a finished request (reel's own "timeout" past --timeout).
static const char* finishReason(RequestOutcome outcome) {
  return outcome == RequestOutcome::Stop ? "stop" : outcome == RequestOutcome::Timeout ? "timeout" : "length";
}

void HttpServer::State::Connection::lingeringClose() {
  constexpr size_t kMostBytes = size_t{64} << 20;
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  std::vector<char> scratch(size_t{1} << 16);
  // One deadline for the whole drain: a client that trickles bytes cannot keep the thread.
  stream_.expires_after(std::chrono::seconds(2));
  for (size_t dropped = 0; !ec && dropped < kMostBytes;) {
    size_t got = 0;
    ec = await([&](auto handler) {
      stream_.async_read_some(net::buffer(scratch), [&, handler](beast::error_code error, size_t n) mutable {
        got = n;
        handler(error, n);
      });
    });
    dropped += got;
  }
}

void HttpServer::State::Connection::run() {
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(server_.options.maxBody);
    parser.header_limit(kHeaderLimit);
    if (stopping_) break;
    reading_ = true;
    stream_.expires_after(server_.options.idleTimeout);
    beast::error_code ec = await([&](auto handler) { http::async_read_header(stream_, buffer_, parser, handler); });
    reading_ = false;
    // A client that waits for "100 Continue" before its body (curl, for large ones) gets it now.
    if (!ec && beast::iequals(parser.get()[http::field::expect], "100-continue")) {
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      ec = await([&](auto handler) { net::async_write(stream_, net::buffer(kContinue), std::move(handler)); });
    }
    if (!ec && !parser.is_done()) {
      stream_.expires_after(server_.options.idleTimeout);
      ec = await([&](auto handler) { http::async_read(stream_, buffer_, parser, handler); });
    }
    if (ec == http::error::body_limit) {
      sendError(11, 413, fmt::format("the request body exceeds {} bytes (--max-body)", server_.options.maxBody), false);
      lingeringClose();
      break;
    }
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted ||
        ec == net::error::connection_reset || ec == net::error::eof)
      break;
    if (ec) {
      sendError(11, 400, fmt::format("malformed HTTP request: {}", ec.message()), false);
      lingeringClose();
      break;
    }
    if (!handle(parser.get()) || stopping_) break;
  }
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
}

bool HttpServer::State::Connection::handle(const Request& request) {
  const std::string_view full = request.target();
  const std::string_view target = full.substr(0, full.find('?'));
  const bool keepAlive = request.keep_alive();
  const unsigned version = request.version();
  auto reply = [&](int status, std::string body, const char* type) {
    Response response{static_cast<http::status>(status), version};
    response.set(http::field::content_type, type);
    response.keep_alive(keepAlive);
    response.body() = std::move(body);
    return send(response) && keepAlive;
  };
  const bool get = request.method() == http::verb::get;
  const bool post = request.method() == http::verb::post;
  if (target == "/health") {
    if (!get) return sendError(version, 405, "GET /health", keepAlive);
    const bool stopping = server_.draining;
    return reply(stopping ? 503 : 200, stopping ? R"({"status":"shutting down"})" : R"({"status":"ok"})",
                 "application/json");
  }
  if (target == "/metrics") {
    if (!get) return sendError(version, 405, "GET /metrics", keepAlive);
    return reply(200, server_.context.metrics.prometheus(), "text/plain; version=0.0.4");
  }
  if (target == "/v1/models") {
    if (!get) return sendError(version, 405, "GET /v1/models", keepAlive);
    const ModelMeta meta{static_cast<int64_t>(server_.context.tokenizer.vocabulary().size()),
                         server_.context.engine.contextPositions()};
    return reply(200, modelsBody(server_.context.model, server_.created, meta), "application/json");
  }
  if (target == "/v1/completions" || target == "/v1/chat/completions") {
    if (!post) return sendError(version, 405, fmt::format("POST {}", target), keepAlive);
    return generate(request, target == "/v1/completions" ? Endpoint::Completions : Endpoint::Chat);
  }
  return sendError(version, 404, fmt::format("no route {}", target), keepAlive);
}

Prepared HttpServer::State::prepare(const ApiRequest& api) const {
  Prepared prepared{api, {}};
  GenerationJob& job = prepared.job;
  const text::Vocabulary& vocab = context.tokenizer.vocabulary();
  if (!api.ignoreEos) job.stopTokens = vocab.endOfGenerationTokens();
  job.stops = api.stops;
  if (api.endpoint == Endpoint::Chat) {
    if (!context.chat)
      throw HttpError(400,
                      "the model names no chat template (tokenizer.chat_template): start reel serve with "
                      "--chat-template NAME");
    std::string rendered;
    try {
      rendered = context.chat->render(api.messages, true);
    } catch (const Error& error) {
      throw HttpError(400, error.what());
    }
    job.prompt = context.tokenizer.encode(rendered);
    if (std::optional<text::TokenId> endOfTurn = context.chat->endOfTurnToken(vocab)) {
      if (!api.ignoreEos) job.stopTokens.push_back(*endOfTurn);
    } else {
      job.stops.emplace_back(context.chat->endOfTurn());
    }
  } else if (api.promptTokens) {
    for (size_t i = 0; i < api.promptTokens->size(); ++i)
      if (static_cast<size_t>((*api.promptTokens)[i]) >= vocab.size())
        throw HttpError(400, fmt::format("'prompt[{}]': token {} is not in the vocabulary of {} tokens", i,
                                         (*api.promptTokens)[i], vocab.size()));
    job.prompt = *api.promptTokens;
  } else {
    job.prompt = context.tokenizer.encode(api.prompt);
  }
  if (job.prompt.empty()) throw HttpError(400, "the prompt gives no tokens (an empty text, and no BOS)");
  const int64_t positions = context.engine.contextPositions();
  if (static_cast<int64_t>(job.prompt.size()) >= positions)
    throw HttpError(400, fmt::format("the prompt of {} tokens does not fit the context of {} positions per sequence "
                                     "(--ctx), which must also hold the generated tokens",
                                     job.prompt.size(), positions));
  job.maxTokens = api.maxTokens;
  job.sampling = api.sampling;
  if (!api.seedGiven) job.sampling.seed = std::random_device{}();
  job.arrival = ServeClock::now();
  if (context.timeout.count() > 0) job.deadline = job.arrival + context.timeout;
  return prepared;
}

void HttpServer::State::Connection::watchPeer() {
  if (watching_ || peerData_) return;
  watching_ = true;
  peerReadable_ = false;
  stream_.socket().async_wait(tcp::socket::wait_read, [this](beast::error_code ec) {
    watching_ = false;
    if (!ec) peerReadable_ = true;
  });
}

void HttpServer::State::Connection::unwatchPeer() {
  if (!watching_) return;
  beast::error_code ignored;
  stream_.socket().cancel(ignored);
  while (watching_) ioc_.run_one();
}

bool HttpServer::State::Connection::peerGone() {
  if (!peerReadable_) return false;
  peerReadable_ = false;
  char byte = 0;
  const ssize_t got = ::recv(stream_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (got > 0) {
    peerData_ = true;  // a pipelined request waits: the client is there
    return false;
  }
  if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    watchPeer();
    return false;
  }
  return true;
}

bool HttpServer::State::Connection::writeChunk(const std::string& data) {
  stream_.expires_after(server_.options.idleTimeout);
  return !await(
      [&](auto handler) { net::async_write(stream_, http::make_chunk(net::buffer(data)), std::move(handler)); });
}

bool HttpServer::State::Connection::generate(const Request& request, Endpoint endpoint) {
  ServeContext& context = server_.context;
  const unsigned version = request.version();
  const bool keepAlive = request.keep_alive();
  Prepared prepared;
  try {
    prepared = server_.prepare(parseApiRequest(request.body(), endpoint, context.defaults));
  } catch (const HttpError& error) {
    context.metrics.countRequest(RequestOutcome::BadRequest);
    return sendError(version, error.status(), error.what(), keepAlive);
  }
  const bool streaming = prepared.api.stream;
  peerData_ = false;
  auto channel = std::make_shared<RequestChannel>();
  channel->setNotify([this] { net::post(ioc_, [] {}); });
  const Admission admission = context.engine.submit(channel, std::move(prepared.job));
  if (admission != Admission::Queued) {
    channel->setNotify({});
    const bool full = admission == Admission::QueueFull;
    context.metrics.countRequest(full ? RequestOutcome::QueueFull : RequestOutcome::Unavailable);
    return sendError(version, full ? 429 : 503,
                     full ? "the queue is full (--queue): retry later" : "the server is shutting down", keepAlive);
  }
  const ResponseInfo info{
      fmt::format("{}-{}", endpoint == Endpoint::Chat ? "chatcmpl" : "cmpl", server_.nextId.fetch_add(1)), unixTime(),
      context.model};
  bool alive = true;
  if (streaming) {
    alive = stream(request, prepared, *channel, info);
  } else {
    std::string text;
    ChannelUpdate update;
    watchPeer();
    for (;;) {
      update = channel->take();
      text += update.text;
      if (update.done) break;
      if (peerGone()) {
        channel->cancel();
        alive = false;
        break;
      }
      ioc_.run_one();
    }
    unwatchPeer();
    channel->setNotify({});
    if (!alive) {
      while (!channel->take().done) channel->waitFor(std::chrono::milliseconds(100));
      return false;
    }
    if (update.outcome == RequestOutcome::Error) return sendError(version, 500, update.error, false);
    Response response{http::status::ok, version};
    response.set(http::field::content_type, "application/json");
    response.keep_alive(keepAlive);
    const char* reason = finishReason(update.outcome);
    response.body() = responseBody(endpoint, info, {text, reason, update.promptTokens, update.completionTokens});
    return send(response) && keepAlive;
  }
  channel->setNotify({});
  return alive && keepAlive;
}

bool HttpServer::State::Connection::stream(const Request& request, const Prepared& prepared, RequestChannel& channel,
                                           const ResponseInfo& info) {
  const Endpoint endpoint = prepared.api.endpoint;
  http::response<http::empty_body> head{http::status::ok, request.version()};
  head.set(http::field::content_type, "text/event-stream");
  head.set(http::field::cache_control, "no-cache");
  head.keep_alive(request.keep_alive());
  head.chunked(true);
  http::response_serializer<http::empty_body> serializer{head};
  stream_.expires_after(server_.options.idleTimeout);
  bool alive = !await([&](auto handler) { http::async_write_header(stream_, serializer, std::move(handler)); });
  if (alive && endpoint == Endpoint::Chat)
    alive = writeChunk(fmt::format("data: {}\n\n", streamChunk(endpoint, info, "", nullptr, true)));
  watchPeer();
  while (alive) {
    const ChannelUpdate update = channel.take();
    std::string data;
    if (!update.text.empty()) data += fmt::format("data: {}\n\n", streamChunk(endpoint, info, update.text, nullptr));
    if (update.done) {
      if (update.outcome == RequestOutcome::Error) {
        data += fmt::format("data: {}\n\n", errorBody(500, update.error));
      } else {
        const char* reason = finishReason(update.outcome);
        const Answer final{"", reason, update.promptTokens, update.completionTokens};
        data += fmt::format("data: {}\n\n", streamChunk(endpoint, info, "", &final));
        if (prepared.api.includeUsage) data += fmt::format("data: {}\n\n", usageChunk(endpoint, info, final));
        data += "data: [DONE]\n\n";
      }
    }
    if (!data.empty()) alive = writeChunk(data);
    if (update.done) break;
    if (alive && peerGone()) alive = false;
    if (!alive) break;
    ioc_.run_one();
  }
  unwatchPeer();
  if (alive) {
    stream_.expires_after(server_.options.idleTimeout);
    alive = !await([&](auto handler) { net::async_write(stream_, http::make_chunk_last(), std::move(handler)); });
  }
  if (!alive) {
    channel.cancel();
    channel.setNotify({});
    while (!channel.take().done) channel.waitFor(std::chrono::milliseconds(100));
  }
  return alive;
}

bool HttpServer::State::accept() {
  std::shared_ptr<Connection> connection;
  beast::error_code ec;
  try {
    connection = std::make_shared<Connection>(*this);  // its io_context needs descriptors of its own
  } catch (const std::exception&) {
    return false;
  }
  acceptor.accept(connection->socket(), ec);  // onto the connection's own io_context
  if (ec) return ec == net::error::would_block || ec == net::error::try_again || ec == net::error::connection_aborted;
  connection->socket().set_option(tcp::no_delay(true), ec);
  static const std::string busy =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
      "Content-Length: 0\r\n\r\n";
  const std::lock_guard lock(mutex);
  if (static_cast<int64_t>(connections.size()) >= options.maxConnections) {
    net::write(connection->socket(), net::buffer(busy), ec);
    return true;
  }
  connections.insert(connection.get());
  try {
    std::thread([this, connection]() mutable {
      connection->run();
      // Erased under the lock: closeIdle() posts to the connections it finds.
      const std::lock_guard done(mutex);
      connections.erase(connection.get());
      connection.reset();
      closed.notify_all();
    }).detach();
  } catch (const std::system_error&) {
    connections.erase(connection.get());
    net::write(connection->socket(), net::buffer(busy), ec);
    return false;
  }
  return true;
}

void HttpServer::State::closeIdle() {
  const std::lock_guard lock(mutex);
  for (Connection* connection : connections) net::post(connection->context(), [connection] { connection->stopSoon(); });
}

HttpServer::HttpServer(ServeContext& context, const HttpOptions& options)
    : state_(std::make_unique<State>(context, options)) {
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(options.host, ec);
  if (ec) failPlain("reel serve: --host {}: not an IP address ({})", options.host, ec.message());
  const tcp::endpoint endpoint{address, options.port};
  tcp::acceptor& acceptor = state_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) failPlain("reel serve: cannot listen on {}:{}: {}", options.host, options.port, ec.message());
  acceptor.non_blocking(true);
  const int64_t held = connectionsTheDescriptorsHold();
  if (held < options.maxConnections) {
    std::fprintf(stderr,
                 "reel serve: the open-file limit (ulimit -n) holds %lld connections: --max-connections %lld "
                 "lowered to it\n",
                 static_cast<long long>(held), static_cast<long long>(options.maxConnections));
    state_->options.maxConnections = held;
  }
}

HttpServer::~HttpServer() = default;

uint16_t HttpServer::port() const {
  return state_->acceptor.local_endpoint().port();
}

void HttpServer::run(int signalFd) {
  State& state = *state_;
  for (;;) {
    pollfd fds[2] = {{state.acceptor.native_handle(), POLLIN, 0}, {signalFd, POLLIN, 0}};
    if (::poll(fds, 2, kAcceptPollMs) < 0 && errno != EINTR) break;
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo info{};
      (void)!::read(signalFd, &info, sizeof info);
      std::fprintf(stderr, "reel serve: signal %u: no new connections; draining the running requests\n",
                   info.ssi_signo);
      break;
    }
    if (!(fds[0].revents & POLLIN)) continue;
    if (!state.accept()) std::this_thread::sleep_for(kAcceptBackoff);
  }
  state.acceptor.close();
  state.draining = true;
  state.context.engine.shutdown();
  state.closeIdle();
  std::unique_lock lock(state.mutex);
  state.closed.wait(lock, [&] { return state.connections.empty(); });
}

}  // namespace reel::tools
