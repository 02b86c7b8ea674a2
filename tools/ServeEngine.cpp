#include "tools/ServeEngine.h"

#include "support/Diagnostics.h"
#include "text/StopStrings.h"

#include <algorithm>
#include <optional>

namespace reel::tools {
namespace {

double secondsBetween(ServeClock::time_point from, ServeClock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

RequestOutcome outcomeOf(decode::StopReason reason) {
  switch (reason) {
    case decode::StopReason::EndOfGeneration:
    case decode::StopReason::StopString:
      return RequestOutcome::Stop;
    case decode::StopReason::Length:
    case decode::StopReason::Context:
      break;
  }
  return RequestOutcome::Length;
}

}  // namespace

ChannelUpdate RequestChannel::take() {
  const std::lock_guard lock(mutex_);
  ChannelUpdate update = std::move(pending_);
  pending_.text.clear();
  pending_.done = update.done;  // the end stays visible
  pending_.outcome = update.outcome;
  pending_.promptTokens = update.promptTokens;
  pending_.completionTokens = update.completionTokens;
  pending_.error = update.error;
  return update;
}

void RequestChannel::waitFor(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return pending_.done || !pending_.text.empty(); });
}

void RequestChannel::setNotify(std::function<void()> notify) {
  const std::lock_guard lock(mutex_);
  notify_ = std::move(notify);
}

void RequestChannel::notifyLocked() {
  changed_.notify_all();
  if (notify_) notify_();
}

void RequestChannel::append(const std::string& text, int64_t completionTokens) {
  const std::lock_guard lock(mutex_);
  pending_.text += text;
  pending_.completionTokens = completionTokens;
  notifyLocked();
}

void RequestChannel::complete(RequestOutcome outcome, int64_t promptTokens, int64_t completionTokens,
                              std::string error) {
  const std::lock_guard lock(mutex_);
  pending_.done = true;
  pending_.outcome = outcome;
  pending_.promptTokens = promptTokens;
  pending_.completionTokens = completionTokens;
  pending_.error = std::move(error);
  notifyLocked();
}

/// A sequence in the scheduler and the text state of its request.
struct ServeEngine::Active {
  Active(Waiting waiting, const text::Tokenizer& tokenizer)
      : channel(std::move(waiting.channel)), job(std::move(waiting.job)), decoder(tokenizer, true), filter(job.stops) {}

  std::shared_ptr<RequestChannel> channel;
  GenerationJob job;
  int64_t id = 0;
  text::StreamDecoder decoder;
  text::StopStringFilter filter;
  size_t seen = 0;  ///< tokens turned into text (or dropped after a stop string)
  ServeClock::time_point lastToken{};
  std::optional<RequestOutcome> ending;  ///< why the server ended it (cancelled, timeout, error)
  std::string error;                     ///< with RequestOutcome::Error: the step's error
};

ServeEngine::ServeEngine(decode::StepExecutor& executor, const text::Tokenizer& tokenizer, const EngineOptions& options,
                         ServeMetrics& metrics)
    : executor_(executor),
      tokenizer_(tokenizer),
      options_(options),
      metrics_(metrics),
      slots_(executor.kvGeometry().slots),
      positions_(executor.kvGeometry().positions),
      scheduler_(executor, options.scheduling),
      stepTokens_(scheduler_.stepTokens()) {
  thread_ = std::thread([this] { loop(); });
}

ServeEngine::~ServeEngine() {
  shutdown();
}

Admission ServeEngine::submit(std::shared_ptr<RequestChannel> channel, GenerationJob job) {
  {
    const std::lock_guard lock(mutex_);
    if (stopping_) return Admission::ShuttingDown;
    const int64_t freeSlots = slots_ - running_;
    if (static_cast<int64_t>(queue_.size()) >= options_.maxQueue + std::max<int64_t>(0, freeSlots))
      return Admission::QueueFull;
    queue_.push_back({std::move(channel), std::move(job)});
    metrics_.queueDepth.store(static_cast<int64_t>(queue_.size()));
  }
  wake_.notify_one();
  return Admission::Queued;
}

void ServeEngine::shutdown() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

std::vector<ServeEngine::Waiting> ServeEngine::admit() {
  std::vector<Waiting> admitted;
  const ServeClock::time_point now = ServeClock::now();
  // Requests whose client left or whose deadline passed while they waited end here.
  for (auto it = queue_.begin(); it != queue_.end();) {
    const bool cancelled = it->channel->cancelled();
    if (cancelled || now > it->job.deadline) {
      const RequestOutcome outcome = cancelled ? RequestOutcome::Cancelled : RequestOutcome::Timeout;
      metrics_.countRequest(outcome);  // counted before the client can see the answer
      it->channel->complete(outcome, 0, 0);
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
  while (!queue_.empty() && running_ < slots_) {
    admitted.push_back(std::move(queue_.front()));
    queue_.pop_front();
    ++running_;
  }
  metrics_.queueDepth.store(static_cast<int64_t>(queue_.size()));
  metrics_.running.store(running_);
  return admitted;
}

void ServeEngine::start(Waiting waiting) {
  auto active = std::make_unique<Active>(std::move(waiting), tokenizer_);
  const GenerationJob& job = active->job;
  decode::SequenceRequest request;
  request.prompt = job.prompt;
  request.newTokens = job.maxTokens > 0 ? std::min(job.maxTokens, positions_) : positions_;
  request.stopTokens = job.stopTokens;
  request.sampling = job.sampling;
  try {
    active->id = scheduler_.add(std::move(request));
  } catch (const std::exception& error) {
    metrics_.countRequest(RequestOutcome::Error);
    {
      const std::lock_guard lock(mutex_);
      --running_;
      metrics_.running.store(running_);
    }
    active->channel->complete(RequestOutcome::Error, 0, 0, error.what());
    return;
  }
  metrics_.promptTokens.fetch_add(job.prompt.size());
  active_.push_back(std::move(active));
}

void ServeEngine::endAbandoned() {
  const ServeClock::time_point now = ServeClock::now();
  for (const std::unique_ptr<Active>& active : active_) {
    if (active->ending || scheduler_.finished(active->id)) continue;
    if (active->channel->cancelled())
      active->ending = RequestOutcome::Cancelled;
    else if (now > active->job.deadline)
      active->ending = RequestOutcome::Timeout;
    if (active->ending) scheduler_.finish(active->id);
  }
}

void ServeEngine::deliver() {
  const ServeClock::time_point now = ServeClock::now();
  const text::Vocabulary& vocab = tokenizer_.vocabulary();
  bool released = false;
  for (std::unique_ptr<Active>& active : active_) {
    const std::vector<int32_t>& tokens = scheduler_.output(active->id).tokens;
    const auto count = static_cast<int64_t>(tokens.size());
    std::string text;
    if (tokens.size() > active->seen) {
      metrics_.generatedTokens.fetch_add(tokens.size() - active->seen);
      if (active->seen == 0)
        metrics_.timeToFirstToken.observe(secondsBetween(active->job.arrival, now));
      else
        metrics_.interTokenLatency.observe(secondsBetween(active->lastToken, now));
      active->lastToken = now;
      for (; active->seen < tokens.size(); ++active->seen) {
        const int32_t token = tokens[active->seen];
        if (active->filter.stopped() || vocab.isEndOfGeneration(token)) continue;
        text += active->filter.push(active->decoder.push(token));
      }
      if (active->filter.stopped()) scheduler_.finish(active->id);
    }
    const bool finished = scheduler_.finished(active->id);
    if (finished && !active->filter.stopped() && !active->ending) {
      text += active->filter.push(active->decoder.finish());
      text += active->filter.finish();
    }
    if (!text.empty()) active->channel->append(text, count);
    if (!finished) continue;
    const RequestOutcome outcome = active->ending.value_or(outcomeOf(scheduler_.output(active->id).stop));
    scheduler_.release(active->id);
    // The metrics move before the client can see the answer.
    metrics_.countRequest(outcome);
    {
      const std::lock_guard lock(mutex_);
      --running_;
      metrics_.running.store(running_);
    }
    active->channel->complete(outcome, static_cast<int64_t>(active->job.prompt.size()), count, active->error);
    active.reset();
    released = true;
  }
  if (released) active_.erase(std::remove(active_.begin(), active_.end(), nullptr), active_.end());
}

void ServeEngine::observeStep(const decode::StepSummary& step) {
  const int64_t rows = step.decodeRows + step.prefillRows;
  if (rows > 0) metrics_.stepTokens.observe(static_cast<double>(rows));
  if (step.prefillRows > 0) metrics_.prefillTokens.observe(static_cast<double>(step.prefillRows));
  if (step.decodeRows == 0) return;
  metrics_.decodeRows.observe(static_cast<double>(step.decodeRows));
  if (step.lastDecodeGraphRows > 0)
    metrics_.bucketOccupancy.observe(static_cast<double>(step.lastDecodeLive) /
                                     static_cast<double>(step.lastDecodeGraphRows));
}

void ServeEngine::loop() {
  for (;;) {
    std::vector<Waiting> admitted;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return !queue_.empty() || !active_.empty() || stopping_; });
      if (queue_.empty() && active_.empty() && stopping_) return;
      admitted = admit();
    }
    for (Waiting& waiting : admitted) start(std::move(waiting));
    endAbandoned();
    deliver();
    if (active_.empty()) continue;
    const ServeClock::time_point begin = ServeClock::now();
    try {
      scheduler_.step();
    } catch (const std::exception& error) {
      // A step that fails ends every running sequence: the KV cache's state is unknown.
      for (const std::unique_ptr<Active>& active : active_) {
        active->ending = RequestOutcome::Error;
        active->error = error.what();
        scheduler_.finish(active->id);
      }
    }
    metrics_.stepSeconds.observe(secondsBetween(begin, ServeClock::now()));
    observeStep(scheduler_.lastStep());
    deliver();
  }
}

}  // namespace reel::tools
