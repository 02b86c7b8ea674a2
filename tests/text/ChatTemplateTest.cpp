// Chat templates: the text of each format for one conversation, detection from Jinja
// sources, BOS as the tokenizer's add_bos_token says, and the errors.
#include "TextTestSupport.h"
#include "text/ChatTemplate.h"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace reel;
using namespace reel::test;
using reel::text::ChatMessage;
using reel::text::ChatTemplate;
using reel::text::ChatTemplateKind;
using reel::text::detectChatTemplate;

namespace {

/// System, user, assistant, user: every role, and a second turn after a finished answer.
const std::vector<ChatMessage> kConversation{
    {"system", "You are terse."}, {"user", "Hi"}, {"assistant", "Hello."}, {"user", "Name a prime."}};

std::string render(ChatTemplateKind kind, bool tokenizerAddsBos = true) {
  return ChatTemplate(kind, tokenizerAddsBos).render(kConversation, true);
}

std::string errorOf(const auto& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

GgufMetadata withTemplate(GgufMetadata metadata, const std::string& source) {
  metadata.set("tokenizer.chat_template", source);
  return metadata;
}

}  // namespace

TEST_CASE("each chat template renders the published format", "[text][chat]") {
  // Llama 2, as Meta's model card and the Hugging Face template write it:
  //   <s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {answer} </s><s>[INST] {user} [/INST]
  // less the first <s>, which the tokenizer adds; the answer follows "[/INST]".
  CHECK(render(ChatTemplateKind::Llama2) ==
        "[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi [/INST] Hello. </s><s>[INST] Name a prime. [/INST]");
  // Llama 3: every message is a header, a blank line, the text and <|eot_id|>; the prompt
  // is an open assistant header (<|begin_of_text|> comes from the tokenizer).
  CHECK(render(ChatTemplateKind::Llama3) ==
        "<|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nName a prime.<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n");
  // ChatML: <|im_start|>{role}\n{text}<|im_end|>\n per message, an open assistant message.
  CHECK(render(ChatTemplateKind::ChatMl) ==
        "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nName a prime.<|im_end|>\n"
        "<|im_start|>assistant\n");
  // Zephyr (TinyLlama's template): <|{role}|>\n{text}</s>\n per message, <|assistant|>\n last.
  CHECK(render(ChatTemplateKind::Zephyr) ==
        "<|system|>\nYou are terse.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello.</s>\n"
        "<|user|>\nName a prime.</s>\n<|assistant|>\n");
  // Mistral (v3, SentencePiece): <s>[INST] {user}[/INST] {answer}</s>[INST] {user}[/INST],
  // BOS only at the start, the system text and a blank line opening the first [INST].
  CHECK(render(ChatTemplateKind::Mistral) ==
        "[INST] You are terse.\n\nHi[/INST] Hello.</s>[INST] Name a prime.[/INST]");
}

TEST_CASE("a chat template starts with BOS only where the tokenizer does not add it", "[text][chat]") {
  CHECK(render(ChatTemplateKind::Llama2, false) == "<s>" + render(ChatTemplateKind::Llama2));
  CHECK(render(ChatTemplateKind::Mistral, false) == "<s>" + render(ChatTemplateKind::Mistral));
  CHECK(render(ChatTemplateKind::Llama3, false) == "<|begin_of_text|>" + render(ChatTemplateKind::Llama3));
  // ChatML and Zephyr have no BOS in their text either way.
  CHECK(render(ChatTemplateKind::ChatMl, false) == render(ChatTemplateKind::ChatMl));
  CHECK(render(ChatTemplateKind::Zephyr, false) == render(ChatTemplateKind::Zephyr));

  // Through the tokenizer, the prompt starts with exactly one BOS either way; Llama 2's BOS
  // between turns is the control token.
  for (const bool addBos : {true, false}) {
    GgufMetadata metadata = withTemplate(spmMetadata(), "{{ bos_token + '[INST] <<SYS>>' }}");
    metadata.set("tokenizer.ggml.add_bos_token", addBos);
    const text::Tokenizer tokenizer(loadVocabulary(metadata));
    const ChatTemplate chat = ChatTemplate::fromMetadata(metadata, tokenizer.vocabulary());
    CHECK(chat.kind() == ChatTemplateKind::Llama2);
    CHECK(chat.tokenizerAddsBos() == addBos);
    const std::vector<text::TokenId> ids = tokenizer.encode(chat.render(kConversation, true));
    REQUIRE(ids.size() > 2);
    CHECK(ids[0] == 1);
    CHECK(ids[1] != 1);
    CHECK(std::count(ids.begin(), ids.end(), 1) == 2);
    CHECK(std::count(ids.begin(), ids.end(), 2) == 1);  // the </s> after the answer
  }
}

TEST_CASE("a chat template without the assistant prompt ends after the last message", "[text][chat]") {
  const std::vector<ChatMessage> user{{"user", "Hi"}};
  CHECK(ChatTemplate(ChatTemplateKind::ChatMl).render(user, false) == "<|im_start|>user\nHi<|im_end|>\n");
  CHECK(ChatTemplate(ChatTemplateKind::Zephyr).render(user, false) == "<|user|>\nHi</s>\n");
  CHECK(ChatTemplate(ChatTemplateKind::Llama3).render(user, false) ==
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
  CHECK(ChatTemplate(ChatTemplateKind::Llama2).render(user, false) == "[INST] Hi [/INST]");
  CHECK(ChatTemplate(ChatTemplateKind::Llama2).render({}, true).empty());
  // The Llama formats strip the messages (Meta's templates do); ChatML keeps them as they are.
  const std::vector<ChatMessage> spaced{{"user", "  Hi \n"}};
  CHECK(ChatTemplate(ChatTemplateKind::Llama3).render(spaced, false) ==
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
  CHECK(ChatTemplate(ChatTemplateKind::Llama2).render(spaced, false) == "[INST] Hi [/INST]");
  CHECK(ChatTemplate(ChatTemplateKind::ChatMl).render(spaced, false) == "<|im_start|>user\n  Hi \n<|im_end|>\n");
}

TEST_CASE("each chat template names its end-of-turn text and token", "[text][chat]") {
  CHECK(ChatTemplate(ChatTemplateKind::Llama2).endOfTurn() == "</s>");
  CHECK(ChatTemplate(ChatTemplateKind::Mistral).endOfTurn() == "</s>");
  CHECK(ChatTemplate(ChatTemplateKind::Zephyr).endOfTurn() == "</s>");
  CHECK(ChatTemplate(ChatTemplateKind::Llama3).endOfTurn() == "<|eot_id|>");
  CHECK(ChatTemplate(ChatTemplateKind::ChatMl).endOfTurn() == "<|im_end|>");
  const text::Vocabulary spm = loadVocabulary(spmMetadata());
  CHECK(ChatTemplate(ChatTemplateKind::Zephyr).endOfTurnToken(spm) == 2);
  CHECK(!ChatTemplate(ChatTemplateKind::ChatMl).endOfTurnToken(spm));
}

TEST_CASE("a chat template is detected from the signature of its Jinja source", "[text][chat]") {
  CHECK(detectChatTemplate("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
                           "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}") == ChatTemplateKind::ChatMl);
  CHECK(detectChatTemplate("{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + "
                           "message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + "
                           "'<|eot_id|>' }}{% endfor %}") == ChatTemplateKind::Llama3);
  CHECK(detectChatTemplate("{% if message['role'] == 'system' %}{{ '<<SYS>>\\n' + content + '\\n<</SYS>>\\n\\n' }}"
                           "{% elif message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + "
                           "' [/INST]' }}{% endif %}") == ChatTemplateKind::Llama2);
  CHECK(detectChatTemplate("{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
                           "{{ '[INST] ' + message['content'] + '[/INST]' }}{% else %}{{ ' ' + message['content'] + "
                           "eos_token }}{% endif %}{% endfor %}") == ChatTemplateKind::Mistral);
  // TinyLlama writes eos_token, other Zephyr templates the literal </s>.
  CHECK(detectChatTemplate("{% if message['role'] == 'user' %}{{ '<|user|>\\n' + message['content'] + eos_token }}"
                           "{% endif %}") == ChatTemplateKind::Zephyr);
  CHECK(detectChatTemplate("{{ '<|user|>\\n' + message['content'] + '</s>' }}") == ChatTemplateKind::Zephyr);
  CHECK(!detectChatTemplate("{{ '<|user|>\\n' + message['content'] }}"));
  CHECK(!detectChatTemplate("{% for message in messages %}{{ message['content'] }}{% endfor %}"));
  CHECK(!detectChatTemplate(""));
}

TEST_CASE("a chat template name overrides detection; unknown ones are one-line errors", "[text][chat]") {
  const GgufMetadata chatml = withTemplate(spmMetadata(), "{{ '<|im_start|>' }}");
  const text::Vocabulary vocab = loadVocabulary(chatml);
  CHECK(ChatTemplate::fromMetadata(chatml, vocab).kind() == ChatTemplateKind::ChatMl);
  CHECK(ChatTemplate::fromMetadata(chatml, vocab, "zephyr").kind() == ChatTemplateKind::Zephyr);
  CHECK(ChatTemplate::fromMetadata(spmMetadata(), vocab, "llama3").name() == "llama3");
  for (const char* name : {"llama2", "llama3", "chatml", "zephyr", "mistral"})
    CHECK(text::chatTemplateName(text::chatTemplateByName(name)) == name);

  const std::string known = "(known: llama2, llama3, chatml, zephyr, mistral)";
  CHECK(errorOf([&] { (void)ChatTemplate::fromMetadata(chatml, vocab, "vicuna"); }) ==
        "unknown chat template 'vicuna' " + known);
  CHECK(errorOf([&] { (void)ChatTemplate::fromMetadata(withTemplate(spmMetadata(), "{{ messages }}"), vocab); }) ==
        "vocab.gguf: metadata key 'tokenizer.chat_template': the chat template is none reel knows; "
        "pass --chat-template NAME " +
            known);
  CHECK(errorOf([&] { (void)ChatTemplate::fromMetadata(spmMetadata(), vocab); }) ==
        "vocab.gguf: metadata key 'tokenizer.chat_template' is missing: the file names no chat template; "
        "pass --chat-template NAME " +
            known);
  GgufMetadata notText = spmMetadata();
  notText.set("tokenizer.chat_template", uint32_t{7});
  CHECK_THAT(errorOf([&] { (void)ChatTemplate::fromMetadata(notText, vocab); }),
             Catch::Matchers::StartsWith("vocab.gguf: metadata key 'tokenizer.chat_template'"));
}

TEST_CASE("a chat message with an unknown role is an error naming it", "[text][chat]") {
  const std::vector<ChatMessage> messages{{"user", "Hi"}, {"bot", "Hello"}};
  for (const ChatTemplateKind kind : {ChatTemplateKind::Llama2, ChatTemplateKind::ChatMl}) {
    CHECK(errorOf([&] { (void)ChatTemplate(kind).render(messages, true); }) ==
          "chat message 2: unknown role 'bot' (known: system, user, assistant)");
  }
}
