#pragma once
/// \file
/// The HTTP side of `reel serve` (Boost.Beast over Boost.Asio, header-only): one thread per
/// connection, each with its own io_context so that reads and writes carry timeouts and the
/// scheduler thread can wake it when a request has new text. Routes: POST /v1/completions and
/// /v1/chat/completions (JSON, or server-sent events with "stream": true), GET /v1/models,
/// /health and /metrics. A client that disconnects while its request runs cancels it; a
/// signal (the signalfd given to run()) stops accepting, lets the engine drain and closes
/// idle connections.

#include "text/ChatTemplate.h"
#include "text/Tokenizer.h"
#include "tools/ServeApi.h"
#include "tools/ServeEngine.h"
#include "tools/ServeMetrics.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace reel::tools {

/// What the routes answer with.
struct ServeContext {
  ServeEngine& engine;
  const text::Tokenizer& tokenizer;
  std::optional<text::ChatTemplate> chat;  ///< none: /v1/chat/completions answers 400
  ApiDefaults defaults;
  ServeMetrics& metrics;
  std::string model;                     ///< the name /v1/models and responses give
  std::chrono::milliseconds timeout{0};  ///< per request, from its arrival (0: none)
};

struct HttpOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  ///< 0: any free port (HttpServer::port() says which)
  uint64_t maxBody = uint64_t{1} << 20;
  int64_t maxConnections = 512;
  std::chrono::milliseconds idleTimeout{30000};  ///< for a request to arrive, or a write to finish
};

class HttpServer {
 public:
  /// Binds and listens; throws a one-line reel::Error when it cannot.
  HttpServer(ServeContext& context, const HttpOptions& options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  [[nodiscard]] uint16_t port() const;
  /// Accepts connections until `signalFd` (a signalfd) is readable; then stops accepting,
  /// drains the engine (every queued and running request completes) and waits for the
  /// connections, closing idle ones.
  void run(int signalFd);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace reel::tools
