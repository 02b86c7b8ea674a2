#include "text/ChatTemplate.h"

#include "support/Diagnostics.h"

#include <array>

namespace reel::text {

namespace {

constexpr std::string_view kTemplateKey = "tokenizer.chat_template";

struct TemplateInfo {
  ChatTemplateKind kind;
  std::string_view name;
  std::string_view bos;        ///< the BOS text the format begins with ("" for none)
  std::string_view endOfTurn;  ///< the text that ends an assistant turn
};

constexpr std::array<TemplateInfo, 5> kTemplates{{
    {ChatTemplateKind::Llama2, "llama2", "<s>", "</s>"},
    {ChatTemplateKind::Llama3, "llama3", "<|begin_of_text|>", "<|eot_id|>"},
    {ChatTemplateKind::ChatMl, "chatml", "", "<|im_end|>"},
    {ChatTemplateKind::Zephyr, "zephyr", "", "</s>"},
    {ChatTemplateKind::Mistral, "mistral", "<s>", "</s>"},
}};

const TemplateInfo& info(ChatTemplateKind kind) {
  for (const TemplateInfo& known : kTemplates)
    if (known.kind == kind) return known;
  failPlain("chat template kind {} is not known", static_cast<int>(kind));
}

enum class Role { System, User, Assistant };

Role parseRole(const ChatMessage& message, size_t index) {
  if (message.role == "system") return Role::System;
  if (message.role == "user") return Role::User;
  if (message.role == "assistant") return Role::Assistant;
  failPlain("chat message {}: unknown role {} (known: system, user, assistant)", index + 1,
            quoteForMessage(message.role));
}

/// The text less leading and trailing ASCII whitespace, as the Llama formats' `strip()` and
/// `trim` filters write it.
std::string_view trim(std::string_view text) {
  constexpr std::string_view kSpace = " \t\n\r\v\f";
  const size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(kSpace) - begin + 1);
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

/// The `[INST]` formats' state: the text so far and whether an `[INST]` is open.
struct InstRenderer {
  explicit InstRenderer(std::string& text) : out(text) {}

  std::string& out;
  bool inTurn = false;
  bool anyTurn = false;

  /// Opens an `[INST]` for a system or user message where none is open; `between` goes
  /// before each one but the first.
  void open(Role role, std::string_view between, std::string_view inst) {
    if (role == Role::Assistant || inTurn) return;
    if (anyTurn) out += between;
    out += inst;
    inTurn = anyTurn = true;
  }

  /// Llama 2, as Meta publishes it: each exchange is `<s>[INST] user [/INST] answer </s>`,
  /// the system text in a `<<SYS>>` block at the start of the first `[INST]`; the messages
  /// are stripped. The assistant prompt is the end of `[/INST]`: nothing to add.
  void llama2(Role role, std::string_view content) {
    open(role, "<s>", "[INST] ");
    if (role == Role::System) {
      out.append("<<SYS>>\n").append(trim(content)).append("\n<</SYS>>\n\n");
    } else if (role == Role::User) {
      out.append(trim(content)).append(" [/INST]");
    } else {
      out.append(" ").append(trim(content)).append(" </s>");
      inTurn = false;
    }
  }

  /// Mistral (the v3 SentencePiece format): `[INST] user[/INST] answer</s>`, BOS only at the
  /// start, the system text and a blank line at the start of the first `[INST]`; the answers
  /// are trimmed.
  void mistral(Role role, std::string_view content) {
    open(role, "", "[INST] ");
    if (role == Role::System) {
      out.append(content).append("\n\n");
    } else if (role == Role::User) {
      out.append(content).append("[/INST]");
    } else {
      out.append(" ").append(trim(content)).append("</s>");
      inTurn = false;
    }
  }
};

std::string_view roleName(Role role) {
  switch (role) {
    case Role::System:
      return "system";
    case Role::User:
      return "user";
    case Role::Assistant:
      return "assistant";
  }
  return "";
}

}  // namespace

std::string_view chatTemplateName(ChatTemplateKind kind) {
  return info(kind).name;
}

std::string knownChatTemplates() {
  std::string text;
  for (const TemplateInfo& known : kTemplates) {
    if (!text.empty()) text += ", ";
    text += known.name;
  }
  return text;
}

ChatTemplateKind chatTemplateByName(std::string_view name) {
  for (const TemplateInfo& known : kTemplates)
    if (known.name == name) return known.kind;
  failPlain("unknown chat template {} (known: {})", quoteForMessage(name), knownChatTemplates());
}

std::optional<ChatTemplateKind> detectChatTemplate(std::string_view source) {
  // The order is llama.cpp's: ChatML's markers first, then the `[INST]` family, whose
  // Llama 2 members carry the `<<SYS>>` block.
  if (contains(source, "<|im_start|>")) return ChatTemplateKind::ChatMl;
  if (contains(source, "[INST]"))
    return contains(source, "<<SYS>>") ? ChatTemplateKind::Llama2 : ChatTemplateKind::Mistral;
  if (contains(source, "<|start_header_id|>")) return ChatTemplateKind::Llama3;
  // TinyLlama's template ends each message with `eos_token`, others write `</s>`.
  if (contains(source, "<|user|>") && (contains(source, "</s>") || contains(source, "eos_token")))
    return ChatTemplateKind::Zephyr;
  return std::nullopt;
}

ChatTemplate ChatTemplate::fromMetadata(const GgufMetadata& metadata, const Vocabulary& vocab, std::string_view name) {
  if (!name.empty()) return ChatTemplate(chatTemplateByName(name), vocab.addBos);
  if (!metadata.contains(kTemplateKey))
    failPlain("{}: metadata key {} is missing: the file names no chat template; pass --chat-template NAME (known: {})",
              metadata.source(), quoteForMessage(kTemplateKey), knownChatTemplates());
  const std::optional<ChatTemplateKind> kind = detectChatTemplate(metadata.getString(kTemplateKey));
  if (!kind)
    failPlain("{}: metadata key {}: the chat template is none reel knows; pass --chat-template NAME (known: {})",
              metadata.source(), quoteForMessage(kTemplateKey), knownChatTemplates());
  return ChatTemplate(*kind, vocab.addBos);
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages, bool addAssistantPrompt) const {
  std::vector<Role> roles;
  roles.reserve(messages.size());
  for (size_t i = 0; i < messages.size(); ++i) roles.push_back(parseRole(messages[i], i));

  std::string out(tokenizerAddsBos_ ? std::string_view() : info(kind_).bos);
  InstRenderer inst(out);
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string_view content = messages[i].content;
    const std::string_view role = roleName(roles[i]);
    switch (kind_) {
      case ChatTemplateKind::Llama2:
        inst.llama2(roles[i], content);
        break;
      case ChatTemplateKind::Mistral:
        inst.mistral(roles[i], content);
        break;
      case ChatTemplateKind::Llama3:
        // Meta's template trims each message.
        out.append("<|start_header_id|>").append(role).append("<|end_header_id|>\n\n");
        out.append(trim(content)).append("<|eot_id|>");
        break;
      case ChatTemplateKind::ChatMl:
        out.append("<|im_start|>").append(role).append("\n").append(content).append("<|im_end|>\n");
        break;
      case ChatTemplateKind::Zephyr:
        out.append("<|").append(role).append("|>\n").append(content).append("</s>\n");
        break;
    }
  }
  if (!addAssistantPrompt) return out;
  switch (kind_) {
    case ChatTemplateKind::Llama3:
      out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      break;
    case ChatTemplateKind::ChatMl:
      out += "<|im_start|>assistant\n";
      break;
    case ChatTemplateKind::Zephyr:
      out += "<|assistant|>\n";
      break;
    case ChatTemplateKind::Llama2:
    case ChatTemplateKind::Mistral:
      break;  // the answer follows `[/INST]`
  }
  return out;
}

std::string_view ChatTemplate::endOfTurn() const {
  return info(kind_).endOfTurn;
}

std::optional<TokenId> ChatTemplate::endOfTurnToken(const Vocabulary& vocab) const {
  return vocab.find(endOfTurn());
}

}  // namespace reel::text
