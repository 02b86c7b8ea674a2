#include "tools/TextGen.h"

#include "support/Diagnostics.h"
#include "text/StopStrings.h"
#include "tools/RunGpu.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

namespace reel::tools {
namespace {

using Clock = std::chrono::steady_clock;

/// The most tokens -n accepts.
constexpr int64_t kMaxTextTokens = int64_t{1} << 24;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void emit(std::FILE* out, const std::string& text) {
  if (text.empty()) return;
  std::fwrite(text.data(), 1, text.size(), out);
  std::fflush(out);
}

}  // namespace

decode::SequenceRequest GenerationSettings::request(std::vector<int32_t> prompt, const text::Vocabulary& vocab,
                                                    int64_t positions) const {
  decode::SequenceRequest request;
  request.prompt = std::move(prompt);
  // Without a limit, as many as the context holds (it stops the sequence first).
  request.newTokens = maxTokens > 0 ? std::min(maxTokens, positions) : positions;
  request.stopTokens = vocab.endOfGenerationTokens();
  request.sampling = sampling;
  return request;
}

void declareGenerationFlags(Args& args) {
  args.option("--stop", "TEXT", "stop when the generated text contains TEXT, which is not printed (repeatable)", "",
              true);
}

GenerationSettings generationFromFlags(const Args& args, int64_t defaultTokens) {
  GenerationSettings settings;
  settings.maxTokens = args.getInt("--tokens", defaultTokens, {-1, kMaxTextTokens});
  if (settings.maxTokens == 0) failPlain("{}: -n 0: expected -1 (no limit) or at least 1 token", args.command());
  settings.stops = args.getAll("--stop");
  settings.sampling = samplingFromFlags(args);
  for (const std::string& stop : settings.stops)
    if (stop.empty()) failPlain("{}: --stop: the stop text is empty", args.command());
  return settings;
}

std::string tokenizerFile(const Args& args) {
  const std::string model = *args.get("MODEL");
  if (std::filesystem::path(model).extension() == ".gguf") return model;
  if (std::optional<std::string> weights = args.get("--weights")) return *weights;
  failPlain("{}: model '{}' is not a GGUF file, so it has no tokenizer: pass a .gguf model or --weights FILE.gguf",
            args.command(), model);
}

text::Tokenizer loadTokenizer(const GgufFile& file, const std::string& command) {
  if (!file.metadata().contains("tokenizer.ggml.tokens"))
    failPlain("{}: {} has no tokenizer (no tokenizer.ggml.* metadata)", command, file.name());
  return text::Tokenizer(text::Vocabulary::fromMetadata(file.metadata()));
}

std::unique_ptr<StepBackend> openStepBackend(const Args& args, const BackendNeeds& needs) {
  if (resolveDevice(args.getOr("--device", "auto")) == "cuda") return openGpuBackend(args, needs);
  return openCpuBackend(args, needs);
}

Generation generateText(decode::DecodeScheduler& scheduler, const text::Tokenizer& tokenizer,
                        decode::SequenceRequest request, const std::vector<std::string>& stops, std::FILE* out) {
  Generation generation;
  generation.promptTokens = static_cast<int64_t>(request.prompt.size()) - request.cachedTokens;
  const int64_t id = scheduler.add(std::move(request));
  generation.slot = scheduler.slot(id);
  Clock::time_point start = Clock::now();
  while (scheduler.prefilling()) scheduler.step();
  generation.promptSeconds = secondsSince(start);

  text::StreamDecoder decoder(tokenizer, true);  // the answer continues its prompt
  text::StopStringFilter filter(stops);
  const text::Vocabulary& vocab = tokenizer.vocabulary();
  size_t seen = 0;
  // Streams the tokens the last step gave; the end-of-generation token prints nothing.
  auto drain = [&] {
    const std::vector<int32_t>& tokens = scheduler.output(id).tokens;
    for (; seen < tokens.size() && !filter.stopped(); ++seen) {
      if (vocab.isEndOfGeneration(tokens[seen])) continue;
      const std::string text = filter.push(decoder.push(tokens[seen]));
      generation.text += text;
      emit(out, text);
    }
    if (filter.stopped()) scheduler.finish(id);
  };
  drain();
  start = Clock::now();
  while (!scheduler.finished(id) && scheduler.step()) drain();
  generation.evalSeconds = secondsSince(start);
  if (!filter.stopped()) {
    std::string rest = filter.push(decoder.finish());
    rest += filter.finish();
    generation.text += rest;
    emit(out, rest);
  }
  generation.tokens = scheduler.output(id).tokens;
  generation.stop = scheduler.output(id).stop;
  generation.evalTokens = std::max<int64_t>(0, static_cast<int64_t>(generation.tokens.size()) - 1);
  return generation;
}

std::string speedLine(const Generation& generation) {
  auto rate = [](int64_t tokens, double seconds) { return seconds > 0 ? static_cast<double>(tokens) / seconds : 0.0; };
  return fmt::format("prompt eval: {} tokens in {:.3f} s, {:.1f} tok/s; eval: {} tokens in {:.3f} s, {:.1f} tok/s",
                     generation.promptTokens, generation.promptSeconds,
                     rate(generation.promptTokens, generation.promptSeconds), generation.evalTokens,
                     generation.evalSeconds, rate(generation.evalTokens, generation.evalSeconds));
}

std::vector<int32_t> tokensInCache(const std::vector<int32_t>& prompt, const Generation& generation) {
  std::vector<int32_t> cached = prompt;
  if (!generation.tokens.empty()) cached.insert(cached.end(), generation.tokens.begin(), generation.tokens.end() - 1);
  return cached;
}

void reuseCache(decode::SequenceRequest& request, const std::vector<int32_t>& cached, int32_t slot) {
  if (slot < 0) return;
  const auto mismatch = std::mismatch(cached.begin(), cached.end(), request.prompt.begin(), request.prompt.end());
  const auto common = static_cast<int64_t>(mismatch.first - cached.begin());
  request.slot = slot;
  // At least the prompt's last token is run: its logits give the first new token.
  request.cachedTokens = std::min(common, static_cast<int64_t>(request.prompt.size()) - 1);
}

}  // namespace reel::tools
