// reel chat MODEL.gguf: an interactive conversation on the CPU reference or the GPU runtime.
// User turns come from stdin line by line; each answer streams to stdout as it is generated.
#include "support/Diagnostics.h"
#include "text/ChatTemplate.h"
#include "tools/Args.h"
#include "tools/Commands.h"
#include "tools/RunFlags.h"
#include "tools/TextGen.h"

#include <fmt/format.h>

#include <unistd.h>

#include <iostream>

namespace reel::tools {
namespace {

/// `text` on one line for --verbose: backslashes, newlines, tabs and other control bytes escaped.
std::string oneLine(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out;
}

/// One conversation: its messages, the tokens its KV slot holds, and how it answers.
class Conversation {
 public:
  Conversation(const Args& args, const text::Tokenizer& tokenizer, const text::ChatTemplate& chat,
               decode::DecodeScheduler& scheduler, int64_t positions)
      : tokenizer_(tokenizer),
        chat_(chat),
        scheduler_(scheduler),
        positions_(positions),
        settings_(generationFromFlags(args, -1)),
        verbose_(args.has("--verbose")),
        reuse_(!args.has("--no-kv-reuse")) {
    if (std::optional<std::string> system = args.get("--system-prompt")) messages_.push_back({"system", *system});
    // The end of a turn is a token in the vocabularies of chat models; where it is not, its text stops the answer.
    if (!chat_.endOfTurnToken(tokenizer_.vocabulary())) settings_.stops.emplace_back(chat_.endOfTurn());
    if (std::string sampling = describeSampling(settings_.sampling); !sampling.empty())
      std::fprintf(stderr, "%s\n", sampling.c_str());
  }

  /// Answers one user message, streaming the answer to stdout.
  void answer(const std::string& message) {
    messages_.push_back({"user", message});
    const std::string prompt = chat_.render(messages_, true);
    std::vector<int32_t> ids = tokenizer_.encode(prompt);
    if (static_cast<int64_t>(ids.size()) >= positions_)
      failPlain(
          "reel chat: the conversation ({} tokens) fills the context of {} positions; start a new one or pass a "
          "larger --ctx",
          ids.size(), positions_);
    decode::SequenceRequest request = settings_.request(ids, tokenizer_.vocabulary(), positions_);
    if (std::optional<text::TokenId> endOfTurn = chat_.endOfTurnToken(tokenizer_.vocabulary()))
      request.stopTokens.push_back(*endOfTurn);
    if (reuse_) reuseCache(request, cached_, slot_);
    ++turn_;
    if (verbose_)
      std::fprintf(stderr, "turn %d: %zu prompt tokens, %lld in the KV cache; prompt: %s\n", turn_, ids.size(),
                   static_cast<long long>(request.cachedTokens), oneLine(prompt).c_str());
    const Generation generation = generateText(scheduler_, tokenizer_, std::move(request), settings_.stops, stdout);
    std::fputs("\n", stdout);
    std::fflush(stdout);
    if (verbose_) std::fprintf(stderr, "turn %d: %s\n", turn_, speedLine(generation).c_str());
    messages_.push_back({"assistant", generation.text});
    slot_ = generation.slot;
    cached_ = tokensInCache(ids, generation);
    if (generation.stop == decode::StopReason::Context)
      failPlain("reel chat: the context of {} positions is full; the answer is cut short (pass a larger --ctx)",
                positions_);
  }

 private:
  const text::Tokenizer& tokenizer_;
  const text::ChatTemplate& chat_;
  decode::DecodeScheduler& scheduler_;
  int64_t positions_;
  GenerationSettings settings_;
  bool verbose_;
  bool reuse_;  ///< prefill only what the KV cache does not hold (else the whole conversation)
  std::vector<text::ChatMessage> messages_;
  std::vector<int32_t> cached_;  ///< the tokens in the KV slot of the last answer
  int32_t slot_ = -1;            ///< that slot (-1 before the first answer)
  int turn_ = 0;
};

}  // namespace

int runChat(int argc, char** argv) {
  Args args("reel chat",
            "An interactive conversation with a chat model: each line of stdin is a user message (a prompt '> ' is\n"
            "shown when stdin is a terminal); the conversation is written with the model's chat template and the\n"
            "answer streams to stdout until the template's end of turn, an end-of-generation token, a --stop text\n"
            "or -n tokens. The KV cache keeps the conversation: each turn prefills only its new tokens. An empty\n"
            "line is skipped; /exit or the end of stdin ends the conversation. A conversation that outgrows the\n"
            "context (--ctx) ends with an error.");
  declareModelFlags(args);
  args.option("--tokens", "N", "the most tokens per answer (default -1: until the end of the turn)", "-n");
  args.option("--prefill", "MODE", "auto (default: @prefill when present), graph, or tokens (one token per step)");
  args.option("--chat-template", "NAME",
              fmt::format("the chat template instead of the one the file's tokenizer.chat_template names: {}",
                          text::knownChatTemplates()));
  args.option("--system-prompt", "TEXT", "the system message that starts the conversation", "-sys");
  declareGenerationFlags(args);
  args.flag("--no-kv-reuse", "prefill the whole conversation every turn (to compare with the KV cache kept)");
  args.flag("--verbose", "print each turn's prompt (rendered, on one line), its token counts and speeds to stderr");
  if (!args.parse(argc, argv, 2)) return 0;

  (void)generationFromFlags(args, -1);  // bad flags are reported before the model loads
  const GgufFile file = GgufFile::open(tokenizerFile(args));
  const text::Tokenizer tokenizer = loadTokenizer(file, args.command());
  const text::ChatTemplate chat =
      text::ChatTemplate::fromMetadata(file.metadata(), tokenizer.vocabulary(), args.getOr("--chat-template", ""));
  const std::unique_ptr<StepBackend> backend = openStepBackend(args, {});
  std::fprintf(stderr, "%s, chat template: %s\n", backend->description().c_str(), std::string(chat.name()).c_str());
  decode::DecodeScheduler scheduler(backend->executor(), {.prefill = prefillModeFromFlags(args)});
  Conversation conversation(args, tokenizer, chat, scheduler, backend->executor().kvGeometry().positions);

  const bool terminal = isatty(STDIN_FILENO) != 0;
  std::string line;
  for (;;) {
    if (terminal) {
      std::fputs("> ", stdout);
      std::fflush(stdout);
    }
    if (!std::getline(std::cin, line)) {
      if (terminal) std::fputs("\n", stdout);  // the prompt's line ends where Ctrl-D left it
      break;
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line == "/exit") break;
    if (line.empty()) continue;
    conversation.answer(line);
  }
  return 0;
}

}  // namespace reel::tools
