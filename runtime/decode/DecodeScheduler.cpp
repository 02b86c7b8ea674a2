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

/// True when `mode` prefills through the executor's prefill graph (Auto with one, or Graph).
bool prefillsThroughGraph(const StepExecutor& executor, PrefillMode mode) {
  return mode != PrefillMode::TokenByToken && executor.largestRows(Phase::Prefill) > 0;
}

}  // namespace

int64_t defaultStepTokens(const StepExecutor& executor, PrefillMode mode) {
  const int64_t decodeRows = executor.largestRows(Phase::Decode);
  return decodeRows + (prefillsThroughGraph(executor, mode) ? executor.largestRows(Phase::Prefill) : decodeRows);
}

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
  budget_ = options_.stepTokens.value_or(defaultStepTokens(executor_, options_.prefill));
  if (budget_ < 1) failPlain("decode: a step budget of {} tokens (--step-tokens); a step needs at least 1", budget_);
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
  return runStep(true);
}

bool DecodeScheduler::prefillStep() {
  return runStep(false);
}

bool DecodeScheduler::prefillsByGraph() const {
  return prefillsThroughGraph(executor_, options_.prefill);
}

bool DecodeScheduler::runStep(bool decode) {
  last_ = {};
  std::vector<Row> rows;
  if (decode)
    for (Sequence* sequence : runningSequences()) rows.push_back({sequence, nextPosition(*sequence), false});
  const std::vector<Row> prompt = prefillRows(static_cast<int64_t>(rows.size()));
  last_.decodeRows = static_cast<int64_t>(rows.size());
  last_.prefillRows = static_cast<int64_t>(prompt.size());
  if (rows.empty() && prompt.empty()) return false;
  const int64_t largestDecode = executor_.largestRows(Phase::Decode);
  if (prefillsByGraph()) {
    runRows(Phase::Decode, rows, largestDecode);
    runRows(Phase::Prefill, prompt, executor_.largestRows(Phase::Prefill));
  } else {
    // Token by token the prompt rows join the decode step (one row per slot).
    rows.insert(rows.end(), prompt.begin(), prompt.end());
    runRows(Phase::Decode, rows, largestDecode);
  }
  if (last_.decodeRows > 0) ++decodeSteps_;
  return true;
}

std::vector<DecodeScheduler::Row> DecodeScheduler::prefillRows(int64_t running) {
  const bool graph = prefillsByGraph();
  const int64_t chunk = graph ? executor_.largestRows(Phase::Prefill) : 1;
  // The budget's rest, at least one row; past one chunk, whole chunks (a prefill step costs
  // its padded chunk whatever its live rows).
  int64_t share = std::max<int64_t>(1, budget_ - running);
  if (graph && share > chunk) share -= share % chunk;
  std::vector<Row> rows;
  for (auto& entry : sequences_) {
    Sequence& sequence = entry.second;
    const auto promptSize = static_cast<int64_t>(sequence.request.prompt.size());
    if (sequence.done || sequence.prefilled >= promptSize) continue;
    const int64_t wanted = graph ? promptSize - sequence.prefilled : 1;
    const int64_t count = std::min(wanted, share - static_cast<int64_t>(rows.size()));
    for (int64_t position = sequence.prefilled; position < sequence.prefilled + count; ++position)
      rows.push_back({&sequence, position, true});
    if (static_cast<int64_t>(rows.size()) == share) break;
  }
  return rows;
}

void DecodeScheduler::runRows(Phase phase, const std::vector<Row>& rows, int64_t groupSize) {
  const auto total = static_cast<int64_t>(rows.size());
  for (int64_t first = 0; first < total; first += groupSize) {
    const int64_t count = std::min(groupSize, total - first);
    StepRows step;
    std::vector<const Sequence*> owners;
    std::vector<int64_t> positions;
    GroupInfo group{.live = count, .total = total};
    for (int64_t index = first; index < first + count; ++index) {
      const Row& row = rows[static_cast<size_t>(index)];
      const Sequence& sequence = *row.sequence;
      const int32_t token =
          row.prompt ? sequence.request.prompt[static_cast<size_t>(row.position)] : fedToken(sequence);
      step.add(token, static_cast<int32_t>(row.position), sequence.slot);
      owners.push_back(&sequence);
      positions.push_back(row.position);
      (row.prompt ? group.prompts : group.decodes) = true;
    }
    // Prompt rows alone run through the smallest graph that holds them.
    if (group.decodes) step.minBucketRows = options_.minDecodeRows;
    addSampling(step, owners, positions);
    const std::vector<int32_t> next = executor_.step(phase, step);
    group.info = executor_.lastStep();
    describePaths(phase, group);
    if (phase == Phase::Decode) {
      last_.lastDecodeLive = count;
      last_.lastDecodeGraphRows = group.info.rows;
    }
    for (int64_t index = 0; index < count; ++index)
      finishRow(rows[static_cast<size_t>(first + index)], next[static_cast<size_t>(index)], index);
  }
}

void DecodeScheduler::describePaths(Phase phase, const GroupInfo& group) {
  const StepInfo& info = group.info;
  if (phase == Phase::Prefill) {
    // Every prefill graph the steps ran, in the order of first use.
    if (std::find(prefillGraphs_.begin(), prefillGraphs_.end(), info.graph) != prefillGraphs_.end()) return;
    prefillGraphs_.push_back(info.graph);
    prefillPath_ =
        fmt::format("@{} (chunks of {} rows)", fmt::join(prefillGraphs_, ", @"), executor_.largestRows(Phase::Prefill));
    return;
  }
  if (group.prompts && prefillPath_.empty())
    prefillPath_ = fmt::format("token by token through @{} (M = {})", info.graph, info.rows);
  if (!group.decodes || !decodePath_.empty()) return;
  decodePath_ =
      fmt::format("@{} (M = {}: {} live row{}, {} padding{})", info.graph, info.rows, group.live,
                  group.live == 1 ? "" : "s", info.rows - group.live, info.how.empty() ? "" : "; " + info.how);
  if (group.total > group.live)
    decodePath_ += fmt::format("; {} sequences exceed the largest bucket, so each token takes {} steps", group.total,
                               (group.total + group.live - 1) / group.live);
}

void DecodeScheduler::finishRow(const Row& row, int32_t token, int64_t index) {
  Sequence& sequence = *row.sequence;
  if (row.prompt) {
    sequence.prefilled = row.position + 1;
    if (sequence.prefilled < static_cast<int64_t>(sequence.request.prompt.size())) return;
  }
  take(sequence, token, index);
}

std::vector<DecodeScheduler::Sequence*> DecodeScheduler::runningSequences() {
  std::vector<Sequence*> running;
  for (auto& entry : sequences_) {
    Sequence& sequence = entry.second;
    if (sequence.done || sequence.prefilled < static_cast<int64_t>(sequence.request.prompt.size())) continue;
    if (nextPosition(sequence) >= kv_.positions)
      stop(sequence, StopReason::Context);
    else
      running.push_back(&sequence);
  }
  return running;
}

int64_t DecodeScheduler::nextPosition(const Sequence& sequence) {
  // The fed token goes to the position after the prompt and the tokens fed so far.
  return static_cast<int64_t>(sequence.request.prompt.size() + sequence.out.tokens.size()) - 1;
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
  while (scheduler.prefillStep()) {
  }
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
