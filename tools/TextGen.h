#pragma once
/// \file
/// Text in, text out for `reel run -p` and `reel chat`: the tokenizer of a model file, the
/// step executor of the device the flags pick (StepBackend, opened in Run.cpp and RunGpu.cpp),
/// and generateText, which runs one sequence through the decode scheduler and streams its
/// text as the tokens come: whole UTF-8 characters only (text::StreamDecoder), a tail that may
/// become a stop string held back (text::StopStringFilter), stopping on an end-of-generation
/// token, a stop string, the token limit or a full context.
///
/// Sampling: the request of every text generation is made in one place,
/// GenerationSettings::request, which carries the sampling flags' parameters
/// (tools/SamplingFlags.h; greedy without any).

#include "runtime/decode/DecodeScheduler.h"
#include "runtime/gguf/GgufFile.h"
#include "text/Tokenizer.h"
#include "tools/Args.h"
#include "tools/SamplingFlags.h"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace reel::tools {

/// What the text commands generate with, from their flags.
struct GenerationSettings {
  /// -n: tokens to generate per answer; -1: until an end of generation or a full context.
  int64_t maxTokens = -1;
  std::vector<std::string> stops;   ///< --stop: text that ends an answer (not printed)
  decode::SamplingParams sampling;  ///< the sampling flags (greedy without any)

  /// The request for one answer to `prompt` in a context of `positions` positions per
  /// sequence: the token limit, the end-of-generation tokens of `vocab` as stop tokens.
  [[nodiscard]] decode::SequenceRequest request(std::vector<int32_t> prompt, const text::Vocabulary& vocab,
                                                int64_t positions) const;
};

/// Declares --stop (repeatable); -n is the command's.
void declareGenerationFlags(Args& args);

/// The settings of the flags: -n (`--tokens`: -1 or 1 and up; `defaultTokens` when absent)
/// and --stop (never empty).
GenerationSettings generationFromFlags(const Args& args, int64_t defaultTokens);

/// The GGUF file whose tokenizer the text commands use: MODEL when it is a .gguf file, else
/// --weights. A one-line error without one.
std::string tokenizerFile(const Args& args);

/// The tokenizer of `file`; a one-line error naming the file when it carries none.
text::Tokenizer loadTokenizer(const GgufFile& file, const std::string& command);

/// A step executor on the device the flags pick, and what it needs alive.
class StepBackend {
 public:
  StepBackend() = default;
  StepBackend(const StepBackend&) = delete;
  StepBackend& operator=(const StepBackend&) = delete;
  virtual ~StepBackend() = default;
  [[nodiscard]] virtual decode::StepExecutor& executor() = 0;
  /// "model: tiny (2 layers), weights: ..., device: cpu (reference executor)".
  [[nodiscard]] virtual std::string description() const = 0;
};

/// The flags of the model, its weights and the device, shared by `reel run` and `reel chat`:
/// --weights, --synthetic, --check-tensors, --device, --quant, --threads, --ctx, the GPU and
/// pass flags.
void declareModelFlags(Args& args);

/// What a command needs of its executor.
struct BackendNeeds {
  /// The KV positions a sequence needs (0: the whole context, --ctx or the model's, at most
  /// kDefaultTextContext by default).
  int64_t positions = 0;
  int64_t slots = 1;  ///< sequences the KV cache holds at once (at least)
  /// Build the steps to sample (they end in `sample`) without a sampling flag: requests bring
  /// their own parameters.
  bool sampling = false;
};

/// Compiles (or reads) the model of the flags and opens an executor on the device they pick,
/// as `needs` says.
std::unique_ptr<StepBackend> openStepBackend(const Args& args, const BackendNeeds& needs);

/// The default context of the text commands (llama.cpp's): the model's, at most this.
inline constexpr int64_t kDefaultTextContext = 4096;

/// The CPU reference backend (Run.cpp) and the GPU one (RunGpu.cpp; an error without CUDA).
std::unique_ptr<StepBackend> openCpuBackend(const Args& args, const BackendNeeds& needs);
std::unique_ptr<StepBackend> openGpuBackend(const Args& args, const BackendNeeds& needs);

/// One answer: what was generated and how fast.
struct Generation {
  std::vector<int32_t> tokens;  ///< every generated token, an end-of-generation one included
  std::string text;             ///< the text that went out (without a stop string)
  decode::StopReason stop = decode::StopReason::Length;
  int64_t promptTokens = 0;  ///< the prompt tokens prefilled (not those cached)
  double promptSeconds = 0;  ///< the prefill, up to the first token
  int64_t evalTokens = 0;    ///< tokens of decode steps (all but the first)
  double evalSeconds = 0;
  int32_t slot = -1;  ///< the KV slot it ran in, which holds tokensInCache() after it
};

/// Runs `request` on `scheduler` to its end and writes its text to `out` as it comes (flushed
/// per token); stops early at a stop string of `stops`.
Generation generateText(decode::DecodeScheduler& scheduler, const text::Tokenizer& tokenizer,
                        decode::SequenceRequest request, const std::vector<std::string>& stops, std::FILE* out);

/// "prompt eval: 5 tokens in 0.012 s, 416.7 tok/s; eval: 15 tokens in 0.120 s, 125.0 tok/s".
std::string speedLine(const Generation& generation);

/// The tokens a finished sequence left in its KV slot: its prompt and all its tokens but the
/// last (decode::DecodeScheduler's file comment).
std::vector<int32_t> tokensInCache(const std::vector<int32_t>& prompt, const Generation& generation);

/// The request for `prompt` that reuses the KV cache holding `cached` (in `slot`, -1 for
/// none): the longest common prefix, less one where it is all of the prompt.
void reuseCache(decode::SequenceRequest& request, const std::vector<int32_t>& cached, int32_t slot);

}  // namespace reel::tools
