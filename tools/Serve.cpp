// reel serve MODEL.gguf: an OpenAI-compatible HTTP server with continuous batching over the
// decode scheduler (ServeEngine.h), on the GPU runtime or the CPU reference (docs/serving.md).
#include "support/Diagnostics.h"
#include "text/ChatTemplate.h"
#include "tools/Args.h"
#include "tools/Commands.h"
#include "tools/RunFlags.h"
#include "tools/SamplingFlags.h"
#include "tools/ServeEngine.h"
#include "tools/ServeHttp.h"
#include "tools/TextGen.h"

#include <fmt/format.h>

#include <sys/signalfd.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>

namespace reel::tools {
namespace {

/// The most KV slots --parallel accepts.
constexpr int64_t kMaxParallel = 4096;

/// What a request gets for the sampling fields it leaves out: the sampling flags where any is
/// given, else OpenAI's defaults (temperature 1, top-p 1, no top-k, min-p or penalties).
decode::SamplingParams samplingDefaults(const Args& args) {
  if (samplingRequested(args)) return samplingFromFlags(args);
  decode::SamplingParams params;
  params.temperature = 1.0f;
  return params;
}

/// SIGINT and SIGTERM as a file descriptor: blocked in every thread (the mask is inherited, so
/// this runs before any thread starts) and read by the accept loop.
int signalDescriptor() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, &signals, nullptr) != 0) failPlain("reel serve: cannot block SIGINT and SIGTERM");
  const int fd = signalfd(-1, &signals, SFD_CLOEXEC);
  if (fd < 0) failPlain("reel serve: signalfd failed");
  std::signal(SIGPIPE, SIG_IGN);  // a client gone mid-write is an error code, not a signal
  return fd;
}

}  // namespace

int runServe(int argc, char** argv) {
  Args args("reel serve",
            "An OpenAI-compatible HTTP server: POST /v1/completions and /v1/chat/completions (\"stream\": true for\n"
            "server-sent events), GET /v1/models, /health and /metrics (Prometheus). Requests join the running\n"
            "batch between decode steps while a KV slot is free (--parallel) and leave it when they stop; each step\n"
            "runs the smallest bucket graph that holds the running sequences. Past --parallel, requests wait in a\n"
            "queue of --queue; past it they get 429. SIGINT or SIGTERM stops accepting, finishes the running and\n"
            "queued requests and exits 0. Fields, defaults and metrics: docs/serving.md.");
  declareModelFlags(args);
  args.option("--host", "ADDR", "the address to listen on (default 127.0.0.1)");
  args.option("--port", "N", "the port to listen on (default 8080; 0: any free port, printed)");
  args.option("--parallel", "N", "sequences decoding at once: the KV cache's slots (default 8)", "-np");
  args.option("--queue", "N", "requests that may wait for a slot beyond those (default 64); past it, 429");
  args.option("--timeout", "S", "seconds a request may take from its arrival (default 0: no limit)");
  args.option("--max-body", "SIZE", "the largest request body, e.g. 1M (default 1M); past it, 413");
  args.option("--max-connections", "N", "open connections at most (default 512); past it, 503 and close");
  args.option("--idle-timeout", "S",
              "seconds a connection may take to send a request, or to read a response (default 30); then it closes");
  args.option("--prefill", "MODE", "auto (default: @prefill when present), graph, or tokens (one token per step)");
  args.option("--step-tokens", "N",
              "rows a step may run: a token per running sequence, then prompt tokens (default: the largest decode "
              "bucket plus one prefill chunk)");
  args.option("--chat-template", "NAME",
              fmt::format("the chat template instead of the one the file's tokenizer.chat_template names: {}",
                          text::knownChatTemplates()));
  args.option("--alias", "NAME", "the model name /v1/models and responses give (default: the file's name)");
  if (!args.parse(argc, argv, 2)) return 0;

  HttpOptions http;
  http.host = args.getOr("--host", "127.0.0.1");
  http.port = static_cast<uint16_t>(args.getInt("--port", 8080, {0, 65535}));
  http.maxConnections = args.getInt("--max-connections", 512, {1, 1 << 20});
  http.idleTimeout = std::chrono::seconds(args.getInt("--idle-timeout", 30, {1, 1 << 24}));
  if (std::optional<std::string> size = args.get("--max-body")) {
    const std::optional<uint64_t> bytes = parseByteSize(*size);
    if (!bytes) failPlain("reel serve: --max-body {}: expected a size such as 65536, 64K or 1M", *size);
    http.maxBody = *bytes;
  }
  const int64_t parallel = args.getInt("--parallel", 8, {1, kMaxParallel});
  EngineOptions engineOptions;
  engineOptions.maxQueue = args.getInt("--queue", 64, {0, 1 << 20});
  engineOptions.scheduling.prefill = prefillModeFromFlags(args);
  if (args.has("--step-tokens")) engineOptions.scheduling.stepTokens = args.getInt("--step-tokens", 0, {1, 1 << 24});
  const int64_t timeoutSeconds = args.getInt("--timeout", 0, {0, 1 << 24});
  ApiDefaults defaults;
  defaults.sampling = samplingDefaults(args);

  const GgufFile file = GgufFile::open(tokenizerFile(args));
  const text::Tokenizer tokenizer = loadTokenizer(file, args.command());
  std::optional<text::ChatTemplate> chat;
  const std::string templateName = args.getOr("--chat-template", "");
  if (!templateName.empty() || file.metadata().contains("tokenizer.chat_template"))
    chat = text::ChatTemplate::fromMetadata(file.metadata(), tokenizer.vocabulary(), templateName);

  const int signals = signalDescriptor();
  const std::unique_ptr<StepBackend> backend = openStepBackend(args, {.slots = parallel, .sampling = true});
  const decode::KvGeometry kv = backend->executor().kvGeometry();
  ServeMetrics metrics;
  ServeEngine engine(backend->executor(), tokenizer, engineOptions, metrics);
  const std::string model = args.getOr("--alias", std::filesystem::path(*args.get("MODEL")).filename().string());
  ServeContext context{engine, tokenizer, chat, defaults, metrics, model, std::chrono::seconds(timeoutSeconds)};
  HttpServer server(context, http);
  std::fprintf(stderr, "%s, %lld KV slots, %lld tokens per step, chat template: %s\n", backend->description().c_str(),
               static_cast<long long>(kv.slots), static_cast<long long>(engine.stepTokens()),
               chat ? std::string(chat->name()).c_str() : "none");
  // The one line on stdout: scripts read the port from it (--port 0).
  std::printf("reel serve: listening on http://%s:%u\n", http.host.c_str(), static_cast<unsigned>(server.port()));
  std::fflush(stdout);
  server.run(signals);
  ::close(signals);
  std::fprintf(stderr, "reel serve: stopped\n");
  return 0;
}

}  // namespace reel::tools
