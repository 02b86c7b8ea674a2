#pragma once
/// \file
/// The scheduler thread of `reel serve`: continuous batching over one decode::DecodeScheduler.
/// HTTP threads submit generations through a bounded queue; the scheduler thread admits them
/// between steps while KV slots are free (DecodeScheduler::add), runs one step at a time (a
/// decode step of every running sequence through the smallest bucket that holds them, and
/// prefill of the waiting prompts with what is left of the step's token budget,
/// SchedulerOptions::stepTokens), turns each new token into text (whole UTF-8 characters, stop
/// strings held back) and hands it to the request's RequestChannel, and ends and releases a sequence as
/// soon as it stops, its client goes away (RequestChannel::cancel) or its deadline passes: its
/// slot is free for the next step.
///
///   ServeEngine engine(executor, tokenizer, options, metrics);
///   auto channel = std::make_shared<RequestChannel>();
///   if (engine.submit(channel, std::move(job)) == Admission::Queued)
///     for (ChannelUpdate update; !update.done; channel->waitFor(100ms)) update = channel->take(); ...
///   engine.shutdown();  // drains what runs and what waits, then the thread ends

#include "runtime/decode/DecodeScheduler.h"
#include "text/Tokenizer.h"
#include "tools/ServeMetrics.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace reel::tools {

using ServeClock = std::chrono::steady_clock;

/// One generation to run.
struct GenerationJob {
  std::vector<int32_t> prompt;
  int64_t maxTokens = 16;
  decode::SamplingParams sampling;
  std::vector<std::string> stops;    ///< text that ends the answer (not given out)
  std::vector<int32_t> stopTokens;   ///< tokens that end it (end of generation, end of turn)
  ServeClock::time_point arrival{};  ///< for the time to first token
  ServeClock::time_point deadline = ServeClock::time_point::max();
};

/// What the scheduler thread has given a request so far.
struct ChannelUpdate {
  std::string text;  ///< new text since the last take()
  bool done = false;
  RequestOutcome outcome = RequestOutcome::Length;
  std::string error;  ///< with RequestOutcome::Error: why the step failed
  int64_t promptTokens = 0;
  int64_t completionTokens = 0;
};

/// The meeting point of one request's HTTP thread and the scheduler thread.
class RequestChannel {
 public:
  /// HTTP side: the text and state since the last take().
  ChannelUpdate take();
  /// HTTP side: waits until there is new text or the end, or until `timeout`.
  void waitFor(std::chrono::milliseconds timeout);
  /// HTTP side: the client is gone; the sequence ends before the next step.
  void cancel() { cancelled_.store(true); }
  /// HTTP side: called (on the scheduler thread) after each update, e.g. to wake an event
  /// loop; cleared with an empty function before the caller goes away.
  void setNotify(std::function<void()> notify);

  /// Scheduler side.
  [[nodiscard]] bool cancelled() const { return cancelled_.load(); }
  void append(const std::string& text, int64_t completionTokens);
  void complete(RequestOutcome outcome, int64_t promptTokens, int64_t completionTokens, std::string error = "");

 private:
  void notifyLocked();

  std::mutex mutex_;
  std::condition_variable changed_;
  ChannelUpdate pending_;
  std::function<void()> notify_;
  std::atomic<bool> cancelled_{false};
};

struct EngineOptions {
  decode::SchedulerOptions scheduling;
  /// Requests that may wait for a KV slot; past it, submit() says QueueFull.
  int64_t maxQueue = 64;
};

enum class Admission : uint8_t { Queued, QueueFull, ShuttingDown };

class ServeEngine {
 public:
  /// `executor`, `tokenizer` and `metrics` must outlive the engine; its thread starts here.
  ServeEngine(decode::StepExecutor& executor, const text::Tokenizer& tokenizer, const EngineOptions& options,
              ServeMetrics& metrics);
  ServeEngine(const ServeEngine&) = delete;
  ServeEngine& operator=(const ServeEngine&) = delete;
  ~ServeEngine();

  /// Queues `job` for `channel` unless the queue is full or the engine shuts down.
  Admission submit(std::shared_ptr<RequestChannel> channel, GenerationJob job);
  /// Refuses new jobs, runs every queued and running one to its end, and joins the thread.
  void shutdown();
  /// The KV positions of one sequence.
  [[nodiscard]] int64_t contextPositions() const { return positions_; }
  /// The rows one scheduler step may run (SchedulerOptions::stepTokens or its default).
  [[nodiscard]] int64_t stepTokens() const { return stepTokens_; }

 private:
  struct Waiting {
    std::shared_ptr<RequestChannel> channel;
    GenerationJob job;
  };
  struct Active;

  void loop();
  /// Moves queued jobs into the scheduler while it has free slots (under mutex_).
  std::vector<Waiting> admit();
  void start(Waiting waiting);
  /// Ends cancelled and late sequences.
  void endAbandoned();
  /// Gives each sequence its new text; completes and releases those that stopped.
  void deliver();
  /// Records the rows of the step that ran last.
  void observeStep(const decode::StepSummary& step);

  decode::StepExecutor& executor_;
  const text::Tokenizer& tokenizer_;
  EngineOptions options_;
  ServeMetrics& metrics_;
  int64_t slots_;
  int64_t positions_;
  decode::DecodeScheduler scheduler_;
  int64_t stepTokens_;                           ///< scheduler_.stepTokens(), read by other threads
  std::vector<std::unique_ptr<Active>> active_;  ///< the scheduler thread's only

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Waiting> queue_;
  int64_t running_ = 0;  ///< sequences in the scheduler (under mutex_)
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace reel::tools
