#include "text/Tokenizer.h"

#include "support/Diagnostics.h"
#include "text/ByteMap.h"
#include "text/Utf8.h"

#include <algorithm>
#include <queue>

namespace reel::text {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581, SentencePiece's space

/// A run of bytes of the text being merged: a linked list over the text's characters.
struct Symbol {
  size_t start = 0;
  size_t length = 0;  ///< 0 once merged into the symbol on its left
  int prev = -1;
  int next = -1;
};

/// Two adjacent symbols and the priority of merging them.
struct Bigram {
  double priority = 0;  ///< higher merges first (a score, or a negated rank)
  int left = 0;
  int right = 0;
  size_t length = 0;  ///< bytes of the merged piece, to notice symbols that changed since
};

struct BigramOrder {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.priority < b.priority || (a.priority == b.priority && a.left > b.left);
  }
};

/// The text split into symbols of one UTF-8 character each; a byte that does not start a
/// well-formed character is a symbol of its own.
std::vector<Symbol> characterSymbols(std::string_view text) {
  std::vector<Symbol> symbols;
  for (size_t at = 0; at < text.size();) {
    const Utf8Char c = scanUtf8(text, at);
    const size_t length = c.status == Utf8Status::Complete ? c.length : 1;
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({at, length, index - 1, at + length < text.size() ? index + 1 : -1});
    at += length;
  }
  return symbols;
}

/// Merges adjacent symbols while `priorityOf(left text, right text)` names a merge, the
/// highest priority first, and returns the surviving symbols' texts in order.
template <typename PriorityOf>
std::vector<std::string_view> mergeSymbols(std::string_view text, PriorityOf&& priorityOf) {
  std::vector<Symbol> symbols = characterSymbols(text);
  std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
  const auto tryAdd = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[static_cast<size_t>(left)];
    const Symbol& r = symbols[static_cast<size_t>(right)];
    const std::optional<double> priority = priorityOf(text.substr(l.start, l.length), text.substr(r.start, r.length));
    if (priority) queue.push({*priority, left, right, l.length + r.length});
  };
  for (size_t i = 1; i < symbols.size(); ++i) tryAdd(static_cast<int>(i) - 1, static_cast<int>(i));
  while (!queue.empty()) {
    const Bigram bigram = queue.top();
    queue.pop();
    Symbol& left = symbols[static_cast<size_t>(bigram.left)];
    Symbol& right = symbols[static_cast<size_t>(bigram.right)];
    if (left.length == 0 || right.length == 0 || left.length + right.length != bigram.length) continue;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = bigram.left;
    tryAdd(left.prev, bigram.left);
    tryAdd(bigram.left, left.next);
  }
  std::vector<std::string_view> pieces;
  for (int i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[static_cast<size_t>(i)].next)
    pieces.push_back(text.substr(symbols[static_cast<size_t>(i)].start, symbols[static_cast<size_t>(i)].length));
  return pieces;
}

/// The byte of a `<0xNN>` piece.
std::optional<uint8_t> parseByteToken(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return std::nullopt;
  unsigned value = 0;
  for (char c : text.substr(3, 2)) {
    value <<= 4;
    if (c >= '0' && c <= '9') {
      value |= static_cast<unsigned>(c - '0');
    } else if (c >= 'A' && c <= 'F') {
      value |= static_cast<unsigned>(c - 'A' + 10);
    } else {
      return std::nullopt;
    }
  }
  return static_cast<uint8_t>(value);
}

std::string replaceAll(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  for (size_t at = 0; at < text.size();) {
    if (text.substr(at, from.size()) == from) {
      out += to;
      at += from.size();
    } else {
      out += text[at++];
    }
  }
  return out;
}

}  // namespace

Tokenizer::Tokenizer(Vocabulary vocab) : vocab_(std::move(vocab)) {
  for (size_t id = 0; id < vocab_.size(); ++id) {
    const TokenType type = vocab_.types[id];
    if ((type == TokenType::Control || type == TokenType::UserDefined) && !vocab_.tokens[id].empty())
      specials_.push_back(static_cast<TokenId>(id));
  }
  std::stable_sort(specials_.begin(), specials_.end(), [&](TokenId a, TokenId b) {
    return vocab_.tokens[static_cast<size_t>(a)].size() > vocab_.tokens[static_cast<size_t>(b)].size();
  });
  if (vocab_.model == TokenizerModel::SentencePiece) {
    byteTokens_.assign(256, -1);
    for (size_t byte = 0; byte < 256; ++byte)
      if (std::optional<TokenId> id = vocab_.find(fmt::format("<0x{:02X}>", byte))) byteTokens_[byte] = *id;
  } else {
    splitter_.emplace(vocab_.pre);
  }
}

std::vector<TokenId> Tokenizer::encode(std::string_view given, const EncodeOptions& options) const {
  const std::string wellFormed = replaceIllFormed(given);
  const std::string_view text = wellFormed;
  std::vector<TokenId> out;
  if (options.addSpecial && vocab_.addBos) out.push_back(*vocab_.bos);
  bool afterSpecial = true;  // the start of the input counts as following a special token
  const auto encodePlain = [&](std::string_view plain) {
    if (plain.empty()) return;
    if (vocab_.model == TokenizerModel::SentencePiece) {
      encodeSentencePiece(plain, afterSpecial, out);
    } else {
      encodeBpe(plain, out);
    }
    afterSpecial = false;
  };
  size_t plainStart = 0;
  for (size_t at = 0; at < text.size();) {
    std::optional<TokenId> special;
    for (TokenId id : specials_) {
      if (!options.parseSpecial && vocab_.type(id) != TokenType::UserDefined) continue;
      if (text.substr(at).starts_with(vocab_.tokens[static_cast<size_t>(id)])) {
        special = id;
        break;
      }
    }
    if (!special) {
      ++at;
      continue;
    }
    encodePlain(text.substr(plainStart, at - plainStart));
    out.push_back(*special);
    afterSpecial = true;
    at += vocab_.tokens[static_cast<size_t>(*special)].size();
    plainStart = at;
  }
  encodePlain(text.substr(plainStart));
  if (options.addSpecial && vocab_.addEos) out.push_back(*vocab_.eos);
  return out;
}

void Tokenizer::encodeSentencePiece(std::string_view text, bool afterSpecial, std::vector<TokenId>& out) const {
  const std::string escaped =
      replaceAll(vocab_.addSpacePrefix && afterSpecial ? " " + std::string(text) : std::string(text), " ", kSpaceMark);
  const auto score = [&](std::string_view left, std::string_view right) -> std::optional<double> {
    std::string merged;
    merged.reserve(left.size() + right.size());
    merged.append(left).append(right);
    if (std::optional<TokenId> id = vocab_.find(merged)) return vocab_.scores[static_cast<size_t>(*id)];
    return std::nullopt;
  };
  for (std::string_view piece : mergeSymbols(escaped, score)) {
    if (std::optional<TokenId> id = vocab_.find(piece)) {
      out.push_back(*id);
    } else {
      pushBytes(piece, out);
    }
  }
}

void Tokenizer::pushBytes(std::string_view bytes, std::vector<TokenId>& out) const {
  for (char c : bytes) {
    const auto byte = static_cast<uint8_t>(c);
    if (byteTokens_[byte] >= 0) {
      out.push_back(byteTokens_[byte]);
    } else if (vocab_.unk) {
      out.push_back(*vocab_.unk);
    } else {
      failPlain("cannot encode byte 0x{:02X}: the vocabulary has neither <0x{:02X}> nor an unknown token", byte, byte);
    }
  }
}

void Tokenizer::encodeBpe(std::string_view text, std::vector<TokenId>& out) const {
  for (std::string_view word : splitter_->split(text)) encodeBpeWord(word, out);
}

void Tokenizer::encodeBpeWord(std::string_view word, std::vector<TokenId>& out) const {
  std::string mapped;
  for (char c : word) mapped += bpeByteChars()[static_cast<uint8_t>(c)];
  if (vocab_.ignoreMerges) {
    if (std::optional<TokenId> id = vocab_.find(mapped)) {
      out.push_back(*id);
      return;
    }
  }
  // The lowest rank merges first: its negation is the highest priority.
  const auto rank = [&](std::string_view left, std::string_view right) -> std::optional<double> {
    if (std::optional<int32_t> r = vocab_.mergeRank(left, right)) return -static_cast<double>(*r);
    return std::nullopt;
  };
  for (std::string_view piece : mergeSymbols(mapped, rank)) {
    if (std::optional<TokenId> id = vocab_.find(piece)) {
      out.push_back(*id);
      continue;
    }
    // A piece no token spells: its characters one by one (each stands for one byte).
    for (size_t at = 0; at < piece.size();) {
      const size_t length = scanUtf8(piece, at).length;
      if (std::optional<TokenId> id = vocab_.find(piece.substr(at, length))) {
        out.push_back(*id);
      } else if (vocab_.unk) {
        out.push_back(*vocab_.unk);
      } else {
        failPlain("cannot encode {}: the vocabulary has no token for it and no unknown token",
                  quoteForMessage(piece.substr(at, length)));
      }
      at += length;
    }
  }
}

std::string Tokenizer::piece(TokenId id, bool renderSpecial) const {
  if (id < 0 || static_cast<size_t>(id) >= vocab_.size())
    failPlain("token id {} is out of range (the vocabulary has {} tokens)", id, vocab_.size());
  const std::string& text = vocab_.tokens[static_cast<size_t>(id)];
  switch (vocab_.type(id)) {
    case TokenType::Control:
    case TokenType::Unknown:
    case TokenType::Unused:
      return renderSpecial ? text : std::string();
    case TokenType::UserDefined:
      return text;
    case TokenType::Byte:
      if (std::optional<uint8_t> byte = parseByteToken(text)) return std::string(1, static_cast<char>(*byte));
      break;
    case TokenType::Undefined:
    case TokenType::Normal:
      break;
  }
  if (vocab_.model == TokenizerModel::SentencePiece) return replaceAll(text, kSpaceMark, " ");
  std::string bytes;
  for (size_t at = 0; at < text.size();) {
    const Utf8Char c = scanUtf8(text, at);
    std::optional<uint8_t> byte;
    if (c.status == Utf8Status::Complete) byte = bpeCharByte(decodeUtf8(text, at, c.length));
    if (byte) {
      bytes += static_cast<char>(*byte);
    } else {
      bytes.append(text, at, c.length);  // not a character of the byte map: kept as written
    }
    at += c.length;
  }
  return bytes;
}

std::string Tokenizer::decode(const std::vector<TokenId>& ids, bool renderSpecial) const {
  StreamDecoder stream(*this);
  std::string text;
  for (TokenId id : ids) text += stream.pushRaw(id, renderSpecial);
  return text;
}

std::string StreamDecoder::pushRaw(TokenId id, bool renderSpecial) {
  std::string piece = tokenizer_.piece(id, renderSpecial);
  if (first_ && !piece.empty()) {
    first_ = false;
    const Vocabulary& vocab = tokenizer_.vocabulary();
    if (vocab.model == TokenizerModel::SentencePiece && vocab.addSpacePrefix && piece.front() == ' ') piece.erase(0, 1);
  }
  return piece;
}

std::string StreamDecoder::push(TokenId id) {
  pending_ += pushRaw(id, false);
  std::string out;
  size_t at = 0;
  while (at < pending_.size()) {
    const Utf8Char c = scanUtf8(pending_, at);
    if (c.status == Utf8Status::Incomplete) break;
    if (c.status == Utf8Status::Complete) {
      out.append(pending_, at, c.length);
    } else {
      out += kReplacementChar;
    }
    at += c.length;
  }
  pending_.erase(0, at);
  return out;
}

std::string StreamDecoder::finish() {
  std::string out = pending_.empty() ? std::string() : std::string(kReplacementChar);
  pending_.clear();
  return out;
}

}  // namespace reel::text
