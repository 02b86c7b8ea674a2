#include "runtime/decode/DecodeScheduler.h"

#include "support/Diagnostics.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace reel::decode {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Throws unless a sequence of `promptTokens` and `newTokens` can run in `positions`
/// positions; `which` names it ("sequence 3").
void checkFits(const std::string& which, int64_t promptTokens, int64_t newTokens, int64_t positions) {
  if (promptTokens < 1) failPlain("decode: every sequence needs at least one prompt token");
  if (newTokens < 1) failPlain("decode: asked for {} new tokens (at least 1)", newTokens);
  if (newTokens > positions)
    failPlain("decode: asked for {} new tokens, but the context holds {} positions per sequence", newTokens, positions);
  if (promptTokens > positions)
    failPlain("decode: {}'s prompt of {} tokens does not fit the context of {} positions", which, promptTokens,
              positions);
}

}  // namespace

std::string describeStop(const SequenceOutput& sequence, int64_t maxContext, int64_t newTokens) {
  if (sequence.stop != StopReason::Context) return "";
  return fmt::format("context full ({} positions): stopped after {} of {} tokens", maxContext, sequence.tokens.size(),
                     newTokens);
}

void validateRequest(const DecodeRequest& request, const KvGeometry& kv) {
  if (request.prompts.empty()) failPlain("decode: no sequences to run");
  if (static_cast<int64_t>(request.prompts.size()) > kv.slots)
    failPlain("decode: {} sequences, but the KV cache has {} slots", request.prompts.size(), kv.slots);
  if (!request.sampling.empty() && request.sampling.size() != request.prompts.size())
    failPlain("decode: sampling for {} sequences, but there are {}", request.sampling.size(), request.prompts.size());
  for (const SamplingParams& sampling : request.sampling) sampling.validate();
  for (size_t s = 0; s < request.prompts.size(); ++s)
    checkFits(fmt::format("sequence {}", s), static_cast<int64_t>(request.prompts[s].size()), request.newTokens,
              kv.positions);
}

DecodeScheduler::DecodeScheduler(StepExecutor& executor, const SchedulerOptions& options)
    : executor_(executor), options_(options), kv_(executor.kvGeometry()) {
  if (executor_.largestRows(Phase::Decode) < 1) failPlain("decode: the executor has no decode graph");
  if (options_.prefill == PrefillMode::Graph && executor_.largestRows(Phase::Prefill) < 1)
    failPlain("decode: prefill through a prefill graph was asked for, but there is none");
  for (int64_t slot = kv_.slots - 1; slot >= 0; --slot) freeSlots_.push_back(static_cast<int32_t>(slot));
}

int64_t DecodeScheduler::add(SequenceRequest request) {
  const int64_t id = nextId_;
  checkFits(fmt::format("sequence {}", id), static_cast<int64_t>(request.prompt.size()), request.newTokens,
            kv_.positions);
  request.sampling.validate();
  if (freeSlots_.empty()) failPlain("decode: sequence {} finds no free slot among the KV cache's {}", id, kv_.slots);
  auto slot = freeSlots_.end() - 1;
  if (request.slot >= 0) {
    slot = std::find(freeSlots_.begin(), freeSlots_.end(), request.slot);
    if (slot == freeSlots_.end())
      failPlain("decode: sequence {} asks for KV slot {}, which is not free", id, request.slot);
  }
  if (request.cachedTokens < 0 || request.cachedTokens >= static_cast<int64_t>(request.prompt.size()) ||
      (request.cachedTokens > 0 && request.slot < 0))
    failPlain("decode: sequence {}: {} cached tokens of a prompt of {} need a slot and fewer than the prompt", id,
              request.cachedTokens, request.prompt.size());
  Sequence sequence;
  sequence.id = id;
  sequence.prefilled = request.cachedTokens;
  sequence.request = std::move(request);
  sequence.slot = *slot;
  freeSlots_.erase(slot);
  sequences_.emplace(id, std::move(sequence));
  ++nextId_;
  return id;
}

bool DecodeScheduler::prefilling() const {
  return std::any_of(sequences_.begin(), sequences_.end(), [](const auto& entry) {
    return !entry.second.done && entry.second.prefilled < static_cast<int64_t>(entry.second.request.prompt.size());
  });
}

DecodeScheduler::Sequence& DecodeScheduler::find(int64_t id) {
  const auto it = sequences_.find(id);
  if (it == sequences_.end()) failPlain("decode: no sequence {} (never added, or released)", id);
  return it->second;
}

const DecodeScheduler::Sequence& DecodeScheduler::find(int64_t id) const {
  const auto it = sequences_.find(id);
  if (it == sequences_.end()) failPlain("decode: no sequence {} (never added, or released)", id);
  return it->second;
}

void DecodeScheduler::release(int64_t id) {
  if (!find(id).done) failPlain("decode: sequence {} is still running; finish it before releasing it", id);
  sequences_.erase(id);
}

bool DecodeScheduler::finished(int64_t id) const {
  return find(id).done;
}

const SequenceOutput& DecodeScheduler::output(int64_t id) const {
  return find(id).out;
}

void DecodeScheduler::finish(int64_t id) {
  Sequence& sequence = find(id);
  if (!sequence.done) stop(sequence, StopReason::StopString);
}

int32_t DecodeScheduler::slot(int64_t id) const {
  return find(id).slot;
}

SequenceOutput DecodeScheduler::takeOutput(int64_t id) {
  return std::move(find(id).out);
}

bool DecodeScheduler::step() {
  for (auto& entry : sequences_) {
    Sequence& sequence = entry.second;
    if (!sequence.done && sequence.prefilled < static_cast<int64_t>(sequence.request.prompt.size())) {
      prefillChunk(sequence);
      return true;
    }
  }
  const std::vector<Sequence*> running = runningSequences();
  if (running.empty()) return false;
  decodeStep(running);
  return true;
}

bool DecodeScheduler::prefillsByGraph() const {
  return options_.prefill != PrefillMode::TokenByToken && executor_.largestRows(Phase::Prefill) > 0;
}

void DecodeScheduler::prefillChunk(Sequence& sequence) {
  const bool byGraph = prefillsByGraph();
  const Phase phase = byGraph ? Phase::Prefill : Phase::Decode;
  const int64_t chunk = byGraph ? executor_.largestRows(Phase::Prefill) : 1;
  const std::vector<int32_t>& prompt = sequence.request.prompt;
  const int64_t first = sequence.prefilled;
  const int64_t count = std::min(chunk, static_cast<int64_t>(prompt.size()) - first);
  StepRows rows;
  std::vector<const Sequence*> owners;
  std::vector<int64_t> positions;
  for (int64_t i = first; i < first + count; ++i) {
    rows.add(prompt[static_cast<size_t>(i)], static_cast<int32_t>(i), sequence.slot);
    owners.push_back(&sequence);
    positions.push_back(i);
  }
  addSampling(rows, owners, positions);
  const std::vector<int32_t>& next = executor_.step(phase, rows);
  sequence.prefilled += count;
  if (prefillPath_.empty()) {
    const StepInfo info = executor_.lastStep();
    prefillPath_ = byGraph ? fmt::format("@{} (chunks of {} rows)", info.graph, chunk)
                           : fmt::format("token by token through @{} (M = {})", info.graph, info.rows);
  }
  if (sequence.prefilled == static_cast<int64_t>(prompt.size()))
    take(sequence, next[static_cast<size_t>(count - 1)], count - 1);
}

std::vector<DecodeScheduler::Sequence*> DecodeScheduler::runningSequences() {
  std::vector<Sequence*> running;
  for (auto& entry : sequences_) {
    Sequence& sequence = entry.second;
    if (sequence.done || sequence.prefilled < static_cast<int64_t>(sequence.request.prompt.size())) continue;
    // The fed token goes to the position after the prompt and the tokens fed so far.
    const int64_t position = static_cast<int64_t>(sequence.request.prompt.size() + sequence.out.tokens.size()) - 1;
    if (position >= kv_.positions)
      stop(sequence, StopReason::Context);
    else
      running.push_back(&sequence);
  }
  return running;
}

void DecodeScheduler::decodeStep(const std::vector<Sequence*>& running) {
  const auto total = static_cast<int64_t>(running.size());
  const int64_t groupSize = std::min(total, executor_.largestRows(Phase::Decode));
  for (int64_t first = 0; first < total; first += groupSize) {
    const int64_t count = std::min(groupSize, total - first);
    StepRows rows;
    rows.minBucketRows = options_.minDecodeRows;
    std::vector<const Sequence*> owners;
    std::vector<int64_t> positions;
    for (int64_t row = first; row < first + count; ++row) {
      const Sequence& sequence = *running[static_cast<size_t>(row)];
      const auto position = static_cast<int32_t>(sequence.request.prompt.size() + sequence.out.tokens.size() - 1);
      rows.add(fedToken(sequence), position, sequence.slot);
      owners.push_back(&sequence);
      positions.push_back(position);
    }
    addSampling(rows, owners, positions);
    const std::vector<int32_t> next = executor_.step(Phase::Decode, rows);
    for (int64_t row = 0; row < count; ++row)
      take(*running[static_cast<size_t>(first + row)], next[static_cast<size_t>(row)], row);
    if (first == 0 && decodePath_.empty()) {
      const StepInfo info = executor_.lastStep();
      decodePath_ = fmt::format("@{} (M = {}: {} live row{}, {} padding{})", info.graph, info.rows, count,
                                count == 1 ? "" : "s", info.rows - count, info.how.empty() ? "" : "; " + info.how);
      if (total > count)
        decodePath_ += fmt::format("; {} sequences exceed the largest bucket, so each token takes {} steps", total,
                                   (total + count - 1) / count);
    }
  }
  ++decodeSteps_;
}

void DecodeScheduler::take(Sequence& sequence, int32_t token, int64_t row) {
  sequence.out.tokens.push_back(token);
  if (options_.keepLogits) sequence.out.logits.push_back(executor_.logitsRow(row));
  const std::vector<int32_t>& stopTokens = sequence.request.stopTokens;
  if (std::find(stopTokens.begin(), stopTokens.end(), token) != stopTokens.end())
    stop(sequence, StopReason::EndOfGeneration);
  else if (static_cast<int64_t>(sequence.out.tokens.size()) >= sequence.request.newTokens)
    stop(sequence, StopReason::Length);
}

void DecodeScheduler::stop(Sequence& sequence, StopReason reason) {
  sequence.out.stop = reason;
  sequence.done = true;
  freeSlots_.push_back(sequence.slot);
  std::sort(freeSlots_.begin(), freeSlots_.end(), std::greater<>());
}

int32_t DecodeScheduler::fedToken(const Sequence& sequence) const {
  const std::vector<int32_t>& follow = sequence.request.follow;
  if (follow.empty()) return sequence.out.tokens.back();
  const size_t step = sequence.out.tokens.size();  // decode step `step` feeds follow[step - 1]
  if (step > follow.size())
    failPlain("decode: sequence {} has {} tokens to follow, step {} needs more", sequence.id, follow.size(), step);
  return follow[step - 1];
}

std::vector<int32_t> DecodeScheduler::history(const Sequence& sequence, int64_t position) const {
  const std::vector<int32_t>& prompt = sequence.request.prompt;
  const std::vector<int32_t>& fed = sequence.request.follow.empty() ? sequence.out.tokens : sequence.request.follow;
  const auto promptSize = static_cast<int64_t>(prompt.size());
  std::vector<int32_t> tokens;
  for (int64_t p = std::max<int64_t>(0, position + 1 - kMaxPenaltyLastN); p <= position; ++p) {
    const auto index = static_cast<size_t>(p < promptSize ? p : p - promptSize);
    tokens.push_back(p < promptSize ? prompt[index] : (index < fed.size() ? fed[index] : -1));
  }
  return tokens;
}

void DecodeScheduler::addSampling(StepRows& rows, const std::vector<const Sequence*>& sequences,
                                  const std::vector<int64_t>& positions) const {
  const bool anySampled = std::any_of(sequences.begin(), sequences.end(),
                                      [](const Sequence* sequence) { return !sequence->request.sampling.greedy(); });
  if (!anySampled) return;
  for (size_t row = 0; row < sequences.size(); ++row)
    rows.addSampling(sequences[row]->request.sampling, history(*sequences[row], positions[row]));
}

DecodeReport runDecode(StepExecutor& executor, const DecodeRequest& request, const SchedulerOptions& options) {
  validateRequest(request, executor.kvGeometry());
  DecodeScheduler scheduler(executor, options);
  for (size_t s = 0; s < request.prompts.size(); ++s) {
    std::vector<int32_t> follow = s < request.followTokens.size() ? request.followTokens[s] : std::vector<int32_t>{};
    const SamplingParams sampling = s < request.sampling.size() ? request.sampling[s] : SamplingParams{};
    scheduler.add({.prompt = request.prompts[s],
                   .newTokens = request.newTokens,
                   .follow = std::move(follow),
                   .sampling = sampling});
  }
  DecodeReport report;
  Clock::time_point start = Clock::now();
  while (scheduler.prefilling()) scheduler.step();
  report.prefillSeconds = secondsSince(start);
  start = Clock::now();
  while (scheduler.step()) {
  }
  report.decodeSeconds = secondsSince(start);
  for (size_t s = 0; s < request.prompts.size(); ++s)
    report.sequences.push_back(scheduler.takeOutput(static_cast<int64_t>(s)));
  report.prefillPath = scheduler.prefillPath();
  report.decodePath = scheduler.decodePath();
  report.decodeSteps = scheduler.decodeSteps();
  return report;
}

}  // namespace reel::decode
