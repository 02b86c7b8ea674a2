#!/usr/bin/env python3
"""Writes a GGUF file (no tensors) carrying a vocabulary that dump.mjs dumped from a reference
tokenizer, with the test GGUF writer (tests/support/gguf_writer.py).

Usage: make-gguf.py VOCAB.json OUT.gguf
VOCAB.json: model ("llama" or "gpt2"), tokens, token_types, scores (llama) or merges (gpt2),
pre (gpt2), bos, eos, unk (optional), add_bos.
"""
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "support"))
import gguf_writer as writer  # noqa: E402


def metadata(vocab):
    keys = {"tokenizer.ggml.model": (writer.STRING, vocab["model"]),
            "tokenizer.ggml.tokens": (writer.ARRAY, (writer.STRING, vocab["tokens"])),
            "tokenizer.ggml.token_type": (writer.ARRAY, (writer.I32, vocab["token_types"])),
            "tokenizer.ggml.bos_token_id": (writer.U32, vocab["bos"]),
            "tokenizer.ggml.eos_token_id": (writer.U32, vocab["eos"]),
            "tokenizer.ggml.add_bos_token": (writer.BOOL, vocab["add_bos"])}
    if "unk" in vocab:
        keys["tokenizer.ggml.unknown_token_id"] = (writer.U32, vocab["unk"])
    if "scores" in vocab:
        keys["tokenizer.ggml.scores"] = (writer.ARRAY, (writer.F32, vocab["scores"]))
    if "merges" in vocab:
        keys["tokenizer.ggml.merges"] = (writer.ARRAY, (writer.STRING, vocab["merges"]))
    if "pre" in vocab:
        keys["tokenizer.ggml.pre"] = (writer.STRING, vocab["pre"])
    return keys


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: make-gguf.py VOCAB.json OUT.gguf")
    with open(sys.argv[1], encoding="utf-8") as source:
        vocab = json.load(source)
    entries = [("general.architecture", writer.STRING, "llama")]
    entries += [(key, *item) for key, item in metadata(vocab).items()]
    with open(sys.argv[2], "wb") as out:
        out.write(writer.gguf(entries, []))


main()
