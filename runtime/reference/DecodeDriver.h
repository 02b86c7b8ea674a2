#pragma once
/// \file
/// Greedy decoding on the CPU reference, shared by `reel run --device cpu` and the parity
/// tests. Each sequence's prompt is prefilled into its own KV-cache slot (through the
/// @prefill graph in chunks, or token by token through the M = 1 decode graph); then all
/// sequences decode together, one token each per step, through the smallest bucket graph
/// that holds them, padding rows (kv_len 0) filling the bucket. More sequences than the
/// largest bucket are split into several steps of at most that bucket. A sequence whose
/// context fills stops there (its stop reason says so); the others go on.

#include "ir/Graph.h"
#include "runtime/reference/WeightSource.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace reel::reference {

/// The step graphs of a module, found by their shape and phase.
struct StepGraphs {
  const ir::Graph* generic = nullptr;           ///< a decode graph generic in M (@step)
  std::map<int64_t, const ir::Graph*> buckets;  ///< decode graphs specialised to M rows
  const ir::Graph* prefill = nullptr;           ///< the prefill graph (phase = "prefill")
};

/// Classifies the graphs of `module`; throws if it has no decode graph.
StepGraphs findStepGraphs(const ir::Module& module);

enum class PrefillMode : uint8_t {
  Auto,         ///< the prefill graph when there is one, else token by token
  Graph,        ///< the prefill graph (an error without one)
  TokenByToken  ///< one token per step through the M = 1 decode graph
};

struct DecodeOptions {
  /// Bucket sizes for a generic graph (ignored when the module has bucket graphs).
  std::vector<int64_t> buckets{1, 2, 4, 8};
  PrefillMode prefill = PrefillMode::Auto;
  /// Rows per prefill step when the prefill graph is generic in M.
  int64_t prefillChunk = 64;
  /// Run the decode steps through the bucket of this M (>= the sequences' count), instead
  /// of the smallest that holds them: tests use it to put padding rows in every bucket.
  int64_t decodeRows = 0;
  /// Keep the logits row of every generated token (tests compare them).
  bool keepLogits = false;
  unsigned threads = 2;
  /// KV positions one sequence may use (the context; 0: as many as the request needs). A
  /// prompt longer than this, or more new tokens than this, is refused before anything runs.
  int64_t maxContext = 0;
};

struct DecodeRequest {
  std::vector<std::vector<int32_t>> prompts;  ///< one non-empty prompt per sequence
  int64_t newTokens = 16;                     ///< tokens to generate per sequence (>= 1)
  /// Teacher forcing: where given (per sequence), token s of it is fed back after step s
  /// instead of the greedy choice, so two runs can be compared logits for logits along one
  /// path even where their argmaxes differ. Empty = greedy.
  std::vector<std::vector<int32_t>> followTokens;
};

/// Why a sequence stopped generating.
enum class StopReason : uint8_t {
  Length,   ///< it has the tokens the request asked for
  Context,  ///< its KV positions are used up (DecodeOptions::maxContext)
};

struct SequenceOutput {
  std::vector<int32_t> tokens;             ///< the generated tokens
  std::vector<std::vector<float>> logits;  ///< with keepLogits: the logits of each
  StopReason stop = StopReason::Length;
};

/// "context full (64 positions): stopped after 9 of 16 tokens", or "" for a sequence that
/// stopped at its length.
std::string describeStop(const SequenceOutput& sequence, int64_t maxContext, int64_t newTokens);

struct DecodeReport {
  std::vector<SequenceOutput> sequences;
  std::string prefillPath;  ///< "@prefill (chunks of 64)" or "token by token through @decode.m1"
  std::string decodePath;   ///< "@decode.m4 (3 live rows + 1 padding)"
  double prefillSeconds = 0;
  double decodeSeconds = 0;
  int64_t decodeSteps = 0;  ///< steps of the decode loop (each gives every sequence a token)
};

/// Prefills every prompt, then decodes request.newTokens tokens per sequence greedily.
DecodeReport runGreedyDecode(const StepGraphs& graphs, const WeightSource& weights, const DecodeRequest& request,
                             const DecodeOptions& options);

}  // namespace reel::reference
