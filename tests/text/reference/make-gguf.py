#!/usr/bin/env python3
"""Writes a GGUF file (no tensors) carrying a vocabulary that dump.mjs dumped from a reference
tokenizer, with the GGUF writer of tests/tools/Inputs/vocab-gguf.py.

Usage: make-gguf.py VOCAB.json OUT.gguf
VOCAB.json: model ("llama" or "gpt2"), tokens, token_types, scores (llama) or merges (gpt2),
pre (gpt2), bos, eos, unk (optional), add_bos.
"""
import importlib.util
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
WRITER_PATH = os.path.join(HERE, "..", "..", "tools", "Inputs", "vocab-gguf.py")
SPEC = importlib.util.spec_from_file_location("vocab_gguf", WRITER_PATH)
writer = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(writer)


def metadata(vocab):
    keys = {"tokenizer.ggml.model": (writer.STRING, vocab["model"]),
            "tokenizer.ggml.tokens": (writer.ARRAY, (writer.STRING, vocab["tokens"])),
            "tokenizer.ggml.token_type": (writer.ARRAY, (writer.INT32, vocab["token_types"])),
            "tokenizer.ggml.bos_token_id": (writer.UINT32, vocab["bos"]),
            "tokenizer.ggml.eos_token_id": (writer.UINT32, vocab["eos"]),
            "tokenizer.ggml.add_bos_token": (writer.BOOL, vocab["add_bos"])}
    if "unk" in vocab:
        keys["tokenizer.ggml.unknown_token_id"] = (writer.UINT32, vocab["unk"])
    if "scores" in vocab:
        keys["tokenizer.ggml.scores"] = (writer.ARRAY, (writer.FLOAT32, vocab["scores"]))
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
    entries = [writer.entry("general.architecture", writer.STRING, "llama")]
    entries += [writer.entry(key, *item) for key, item in metadata(vocab).items()]
    with open(sys.argv[2], "wb") as out:
        out.write(b"GGUF" + writer.struct.pack("<IQQ", 3, 0, len(entries)) + b"".join(entries))


main()
