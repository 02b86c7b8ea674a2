#!/usr/bin/env python3
"""Writes a GGUF file (no tensors) carrying a small hand-made tokenizer, for the tests of
`reel tokenize`.

Usage: vocab-gguf.py OUT.gguf spm|bpe [KEY=VALUE ...]
  spm: a SentencePiece ("llama") vocabulary: <unk>, <s>, </s>, the 256 <0xNN> byte tokens
       (id 3 + byte), then U+2581, h, e, l, o (259..263) and he -1, ll -2, lo -0.5,
       U+2581 he -3 (264..267).
  bpe: a byte-level BPE ("gpt2", pre "llama-bpe") vocabulary: token b (0..255) is byte b in
       GPT-2's byte-to-unicode map, then "he" (256) and "hell" (257) from the merges
       "h e", "l l", "he ll", and "<|begin_of_text|>" (258, control, BOS).
  KEY=VALUE overrides a string key (e.g. tokenizer.ggml.model=bert).
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "support"))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "scripts"))
from gguf_export import byte_to_unicode  # noqa: E402
from gguf_writer import ARRAY, BOOL, F32, I32, STRING, U32, gguf  # noqa: E402


def byte_chars():
    chars = byte_to_unicode()
    return [chars[b] for b in range(256)]


def spm():
    tokens = [("<unk>", 0, 2), ("<s>", 0, 3), ("</s>", 0, 3)]
    tokens += [("<0x%02X>" % b, 0, 6) for b in range(256)]
    tokens += [(t, -10, 1) for t in ["\u2581", "h", "e", "l", "o"]]
    tokens += [("he", -1, 1), ("ll", -2, 1), ("lo", -0.5, 1), ("\u2581he", -3, 1)]
    keys = {"tokenizer.ggml.model": (STRING, "llama"),
            "tokenizer.ggml.bos_token_id": (U32, 1), "tokenizer.ggml.eos_token_id": (U32, 2),
            "tokenizer.ggml.unknown_token_id": (U32, 0)}
    return tokens, keys


def bpe():
    tokens = [(c, 0, 1) for c in byte_chars()] + [("he", 0, 1), ("hell", 0, 1), ("<|begin_of_text|>", 0, 3)]
    keys = {"tokenizer.ggml.model": (STRING, "gpt2"), "tokenizer.ggml.pre": (STRING, "llama-bpe"),
            "tokenizer.ggml.merges": (ARRAY, (STRING, ["h e", "l l", "he ll"])),
            "tokenizer.ggml.bos_token_id": (U32, 258), "tokenizer.ggml.add_bos_token": (BOOL, True)}
    return tokens, keys


def main():
    path, kind = sys.argv[1], sys.argv[2]
    tokens, keys = spm() if kind == "spm" else bpe()
    keys["tokenizer.ggml.tokens"] = (ARRAY, (STRING, [t for t, _, _ in tokens]))
    keys["tokenizer.ggml.scores"] = (ARRAY, (F32, [s for _, s, _ in tokens]))
    keys["tokenizer.ggml.token_type"] = (ARRAY, (I32, [k for _, _, k in tokens]))
    for override in sys.argv[3:]:
        key, text = override.split("=", 1)
        keys[key] = (STRING, text)
    metadata = [("general.architecture", STRING, "llama")] + [(k, *v) for k, v in keys.items()]
    with open(path, "wb") as out:
        out.write(gguf(metadata, []))


if __name__ == "__main__":
    main()
