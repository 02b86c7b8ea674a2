#pragma once
/// \file
/// The decode scheduler: the one loop that turns requests into steps, for the CPU reference
/// and the GPU runtime alike (over decode::StepExecutor). Each sequence holds a KV slot from
/// the moment it is added until it stops.
///
/// A step works within a budget of rows (SchedulerOptions::stepTokens): first one decode step
/// that gives every prefilled sequence one token, through the smallest bucket that holds them
/// (more sequences than the largest bucket decode in groups); then, with the rows the budget
/// has left, prefill of the oldest sequences whose prompts are not yet in their KV caches. By
/// the prefill graph, the prompt rows of several sequences pack into prefill steps of at most
/// the executor's largest prefill step (a step past one whole chunk of budget takes whole
/// chunks only: a prefill step runs its padded chunk whatever its live rows); token by token,
/// each waiting sequence adds one row at its next prompt position to the decode step (one row
/// per KV slot: the decode graphs' attention reads each row's own sequence only). A prompt
/// never starves: a step whose running sequences leave no room in the budget still prefills
/// one row. So a long prompt does not stall the running sequences: they get a token on
/// every step while it prefills.
///
/// A sequence stops when it has its tokens (StopReason::Length), when it generates one of its
/// stop tokens (StopReason::EndOfGeneration), when its context is full (StopReason::Context)
/// or when the front end ends it (finish(), StopReason::StopString); its slot is free again at
/// once. A front end that streams reads output(id) after each step().
///
/// A finished sequence's KV slot keeps what it wrote, its prompt and every generated token
/// but the last, until another sequence writes there: a later sequence that asks for that
/// slot with `cachedTokens` of its prompt equal to them prefills only the rest (a chat's
/// next turn).
///
/// Usage (a batch):
///   decode::DecodeReport report = decode::runDecode(executor, request, {});
/// or step by step:
///   decode::DecodeScheduler scheduler(executor, {});
///   int64_t id = scheduler.add({prompt, 16, {}});
///   while (scheduler.step()) {}
///   scheduler.output(id).tokens;

#include "runtime/decode/StepExecutor.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace reel::decode {

enum class PrefillMode : uint8_t {
  Auto,         ///< the prefill graph when there is one, else token by token
  Graph,        ///< the prefill graph (an error without one)
  TokenByToken  ///< one token per step through the M = 1 decode graph
};

struct SchedulerOptions {
  PrefillMode prefill = PrefillMode::Auto;
  /// Decode through a bucket of at least this many rows (tests put padding rows in every
  /// bucket).
  int64_t minDecodeRows = 0;
  /// Keep the logits row of every generated token (tests compare them).
  bool keepLogits = false;
  /// The rows one step may run, decode and prefill together (at least 1; `reel serve
  /// --step-tokens`); absent: defaultStepTokens(). The decode rows of the running sequences
  /// are never cut: where they fill the budget, the step still prefills one prompt row.
  std::optional<int64_t> stepTokens{};
};

/// The default step budget: the largest decode bucket plus one prefill chunk (the prefill
/// graph's rows, or token by token a largest decode bucket of prompt rows), so that a full
/// decode batch and one full prefill chunk share a step (docs/serving.md says how it was
/// chosen).
int64_t defaultStepTokens(const StepExecutor& executor, PrefillMode mode);

/// What the last step ran, for metrics.
struct StepSummary {
  int64_t decodeRows = 0;   ///< running sequences that got a token
  int64_t prefillRows = 0;  ///< prompt tokens it wrote to the KV cache
  /// The last executor step of the decode phase: its live rows and the rows of its graph
  /// (0, 0 where the step ran none).
  int64_t lastDecodeLive = 0;
  int64_t lastDecodeGraphRows = 0;
};

/// Why a sequence stopped generating.
enum class StopReason : uint8_t {
  Length,           ///< it has the tokens it asked for
  Context,          ///< its KV positions are used up
  EndOfGeneration,  ///< it generated one of its stop tokens (kept as its last token)
  StopString,       ///< the front end ended it (finish(): a stop string in its text)
};

struct SequenceOutput {
  std::vector<int32_t> tokens;             ///< the generated tokens
  std::vector<std::vector<float>> logits;  ///< with keepLogits: the logits of each
  StopReason stop = StopReason::Length;
};

/// "context full (64 positions): stopped after 9 of 16 tokens", or "" for a sequence that
/// stopped at its length.
std::string describeStop(const SequenceOutput& sequence, int64_t maxContext, int64_t newTokens);

/// One sequence to generate.
struct SequenceRequest {
  std::vector<int32_t> prompt;  ///< at least one token
  int64_t newTokens = 16;       ///< tokens to generate (>= 1)
  /// Teacher forcing: where given, token s of it is fed back after decode step s instead of
  /// the generated one, so that two runs can be compared logits for logits along one path.
  std::vector<int32_t> follow = {};
  /// Tokens that end the sequence when generated (StopReason::EndOfGeneration): a model's
  /// end-of-generation tokens.
  std::vector<int32_t> stopTokens = {};
  /// The KV slot to run in (-1: the lowest free one); it must be free.
  int32_t slot = -1;
  /// The first `cachedTokens` prompt tokens are in `slot`'s KV cache already (an earlier
  /// sequence of the slot wrote them): prefill starts after them. Less than the prompt's
  /// length, and only with a slot.
  int64_t cachedTokens = 0;
  /// How the next tokens are chosen (greedy by default).
  SamplingParams sampling{};
};

/// A batch: sequences that start together and share a token count.
struct DecodeRequest {
  std::vector<std::vector<int32_t>> prompts;  ///< one non-empty prompt per sequence
  int64_t newTokens = 16;                     ///< tokens to generate per sequence (>= 1)
  /// Teacher forcing per sequence (SequenceRequest::follow); empty = none.
  std::vector<std::vector<int32_t>> followTokens;
  /// Sampling per sequence (SequenceRequest::sampling): one each, or empty (all greedy).
  std::vector<SamplingParams> sampling{};
};

struct DecodeReport {
  std::vector<SequenceOutput> sequences;
  /// "@prefill (chunks of 64 rows)", "@prefill.m16, @prefill (chunks of 64 rows)" (every prefill graph
  /// that ran) or "token by token through @decode.m1 (M = 1)"
  std::string prefillPath;
  std::string decodePath;   ///< "@decode.m4 (M = 4: 3 live rows, 1 padding; CUDA graph)"
  double prefillSeconds = 0;
  double decodeSeconds = 0;
  int64_t decodeSteps = 0;  ///< decode steps (each gives every running sequence a token)
};

/// Throws a one-line reel::Error when `request` cannot run on a KV cache of `kv`: no
/// sequences, more than its slots, an empty prompt, a prompt or a token count that does not
/// fit a sequence's positions, sampling not given one per sequence or not valid.
void validateRequest(const DecodeRequest& request, const KvGeometry& kv);

class DecodeScheduler {
 public:
  /// `executor` must outlive the scheduler. Throws when `options` ask for what the executor
  /// cannot do (PrefillMode::Graph without a prefill graph).
  DecodeScheduler(StepExecutor& executor, const SchedulerOptions& options);

  /// Queues a sequence in a free KV slot; returns its id (0, 1, ... in the order added).
  /// Throws when no slot is free or the sequence cannot fit its context.
  int64_t add(SequenceRequest request);
  /// Runs one step (see the file comment); false when no sequence has anything left to run.
  bool step();
  /// Runs the prefill of one step alone, with the whole budget and no decode rows; false when
  /// no prompt is left to prefill. runDecode prefills a batch this way before its first decode
  /// step, so that its report times the two phases apart.
  bool prefillStep();
  /// True while some sequence's prompt is not yet prefilled.
  [[nodiscard]] bool prefilling() const;
  /// True when the sequence has stopped.
  [[nodiscard]] bool finished(int64_t id) const;
  [[nodiscard]] const SequenceOutput& output(int64_t id) const;
  /// Stops a sequence that is still running (StopReason::StopString) and frees its slot; a
  /// finished sequence keeps its reason.
  void finish(int64_t id);
  /// The KV slot the sequence runs (or ran) in.
  [[nodiscard]] int32_t slot(int64_t id) const;
  /// Moves the sequence's output out (its tokens and logits; the id stays valid, empty).
  SequenceOutput takeOutput(int64_t id);
  /// Forgets a finished sequence: its id is no longer valid and nothing of it is kept (a
  /// server's scheduler runs for ever and steps only over the sequences it keeps). Throws for
  /// a sequence still running.
  void release(int64_t id);
  /// The sequences added and not released.
  [[nodiscard]] int64_t kept() const { return static_cast<int64_t>(sequences_.size()); }

  [[nodiscard]] const std::string& prefillPath() const { return prefillPath_; }
  [[nodiscard]] const std::string& decodePath() const { return decodePath_; }
  [[nodiscard]] int64_t decodeSteps() const { return decodeSteps_; }
  /// The rows one step may run (SchedulerOptions::stepTokens or its default).
  [[nodiscard]] int64_t stepTokens() const { return budget_; }
  [[nodiscard]] const StepSummary& lastStep() const { return last_; }

 private:
  struct Sequence {
    int64_t id = 0;
    SequenceRequest request;
    int32_t slot = 0;
    int64_t prefilled = 0;  ///< prompt tokens in the KV cache
    bool done = false;
    SequenceOutput out;
  };

  /// One row of a step: a sequence's fed token (decode) or one of its prompt tokens.
  struct Row {
    Sequence* sequence = nullptr;
    int64_t position = 0;
    bool prompt = false;
  };

  /// What one executor step of a scheduler step ran, for the paths of the report.
  struct GroupInfo {
    int64_t live = 0;      ///< its rows
    int64_t total = 0;     ///< the rows of its phase in this scheduler step
    bool decodes = false;  ///< it has a decode row
    bool prompts = false;  ///< it has a prompt row
    StepInfo info{};
  };

  bool runStep(bool decode);
  /// The prompt rows a step prefills beside `running` decode rows, oldest sequence first.
  std::vector<Row> prefillRows(int64_t running);
  /// Runs `rows` through steps of `phase`, at most `groupSize` rows each.
  void runRows(Phase phase, const std::vector<Row>& rows, int64_t groupSize);
  /// Gives a row's next token to its sequence: a decode row's, or a prompt row's where it is
  /// the prompt's last.
  void finishRow(const Row& row, int32_t token, int64_t index);
  void describePaths(Phase phase, const GroupInfo& group);
  /// The position of the token a prefilled sequence feeds next.
  [[nodiscard]] static int64_t nextPosition(const Sequence& sequence);
  /// The prefilled sequences with room for their next token; those without room stop.
  std::vector<Sequence*> runningSequences();
  void take(Sequence& sequence, int32_t token, int64_t row);
  void stop(Sequence& sequence, StopReason reason);
  [[nodiscard]] int32_t fedToken(const Sequence& sequence) const;
  /// The last kMaxPenaltyLastN tokens of the sequence's context up to `position` (prompt, then
  /// the tokens fed back).
  [[nodiscard]] std::vector<int32_t> history(const Sequence& sequence, int64_t position) const;
  /// Adds every row's sampling to `rows` when some sequence of `sequences` samples.
  void addSampling(StepRows& rows, const std::vector<const Sequence*>& sequences,
                   const std::vector<int64_t>& positions) const;
  [[nodiscard]] bool prefillsByGraph() const;

  Sequence& find(int64_t id);
  [[nodiscard]] const Sequence& find(int64_t id) const;

  StepExecutor& executor_;
  SchedulerOptions options_;
  KvGeometry kv_;
  std::map<int64_t, Sequence> sequences_;  ///< by id: the oldest first
  int64_t nextId_ = 0;
  std::vector<int32_t> freeSlots_;  ///< a stack: the lowest slot on top
  std::string prefillPath_;
  std::vector<std::string> prefillGraphs_;  ///< the prefill graphs run so far, in order
  std::string decodePath_;
  int64_t decodeSteps_ = 0;
  int64_t budget_ = 0;
  StepSummary last_;
};

/// Adds every sequence of `request`, prefills all of them, then decodes until each stops.
DecodeReport runDecode(StepExecutor& executor, const DecodeRequest& request, const SchedulerOptions& options);

}  // namespace reel::decode
