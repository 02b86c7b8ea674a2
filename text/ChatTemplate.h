#pragma once
/// \file
/// Chat templates: a conversation of system, user and assistant messages as the prompt text
/// an instruction-tuned model was trained on. reel knows the common formats by name and
/// writes them in C++; it does not run the Jinja source a GGUF file carries in
/// `tokenizer.chat_template`, it recognises the format from signature substrings of that
/// source, as llama.cpp does:
///   `<|im_start|>`                  chatml   (Qwen and others)
///   `[INST]` with `<<SYS>>`         llama2
///   `[INST]` without `<<SYS>>`      mistral
///   `<|start_header_id|>`           llama3
///   `<|user|>` with `</s>` or `eos_token`  zephyr  (TinyLlama)
/// A name given by the user (`--chat-template NAME`) overrides the detection.
///
/// BOS: the rendered text starts without the BOS token where the tokenizer adds it
/// (`add_bos_token`, Tokenizer::encode with addSpecial), so that the prompt has exactly one;
/// where the tokenizer does not add it, the text starts with the BOS text the format
/// begins with (`<s>`, `<|begin_of_text|>`; ChatML and Zephyr begin with none). A BOS the
/// format puts between turns (Llama 2's `</s><s>[INST]`) is always part of the text; the
/// tokenizer reads it as the control token.
///
/// Usage:
///   ChatTemplate chat = ChatTemplate::fromMetadata(file.metadata(), tokenizer.vocabulary());
///   std::string prompt = chat.render({{"system", "Be brief."}, {"user", "Hi"}}, true);
///   std::optional<TokenId> stop = chat.endOfTurnToken(tokenizer.vocabulary());

#include "runtime/gguf/GgufMetadata.h"
#include "text/Vocabulary.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace reel::text {

enum class ChatTemplateKind {
  Llama2,   ///< "llama2": `[INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST]`
  Llama3,   ///< "llama3": `<|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>`
  ChatMl,   ///< "chatml": `<|im_start|>role\n...<|im_end|>\n`
  Zephyr,   ///< "zephyr": `<|role|>\n...</s>\n`
  Mistral,  ///< "mistral": `[INST] ...[/INST]`, the system text in the first `[INST]`
};

/// One message of a conversation. `role` is "system", "user" or "assistant"; any other is
/// an error when rendering.
struct ChatMessage {
  std::string role;
  std::string content;
};

/// The template's name as `--chat-template` takes it: "llama2", "chatml", ...
[[nodiscard]] std::string_view chatTemplateName(ChatTemplateKind kind);
/// The known names, for messages: "llama2, llama3, chatml, zephyr, mistral".
[[nodiscard]] std::string knownChatTemplates();
/// The template of a name; throws a reel::Error listing the known names for any other.
[[nodiscard]] ChatTemplateKind chatTemplateByName(std::string_view name);
/// The template whose signature the Jinja source carries, or nullopt.
[[nodiscard]] std::optional<ChatTemplateKind> detectChatTemplate(std::string_view source);

class ChatTemplate {
 public:
  /// `tokenizerAddsBos`: whether the tokenizer puts BOS before the rendered text (then the
  /// text starts without it).
  explicit ChatTemplate(ChatTemplateKind kind, bool tokenizerAddsBos = true)
      : kind_(kind), tokenizerAddsBos_(tokenizerAddsBos) {}

  /// The template `name` names, or else the one detected from `tokenizer.chat_template`;
  /// BOS as `vocab.addBos` says. Throws a one-line reel::Error for an unknown name, a
  /// missing or unrecognised template (naming the file and the key, listing the known
  /// names and saying to pass --chat-template NAME).
  [[nodiscard]] static ChatTemplate fromMetadata(const GgufMetadata& metadata, const Vocabulary& vocab,
                                                 std::string_view name = {});

  /// The prompt text of `messages`; with `addAssistantPrompt` it ends where the assistant's
  /// reply begins. Throws a reel::Error naming the message for a role that is not system,
  /// user or assistant.
  [[nodiscard]] std::string render(const std::vector<ChatMessage>& messages, bool addAssistantPrompt) const;

  /// The text that ends an assistant turn: `<|eot_id|>`, `<|im_end|>` or `</s>`.
  [[nodiscard]] std::string_view endOfTurn() const;
  /// The token of endOfTurn() in `vocab`, or nullopt where the vocabulary has none.
  [[nodiscard]] std::optional<TokenId> endOfTurnToken(const Vocabulary& vocab) const;

  [[nodiscard]] ChatTemplateKind kind() const { return kind_; }
  [[nodiscard]] std::string_view name() const { return chatTemplateName(kind_); }
  [[nodiscard]] bool tokenizerAddsBos() const { return tokenizerAddsBos_; }

 private:
  ChatTemplateKind kind_;
  bool tokenizerAddsBos_;
};

}  // namespace reel::text
