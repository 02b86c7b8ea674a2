#!/usr/bin/env python3
"""Checks `reel tokenize` against the reference tokenizers' ids (expected-*.json, written by
dump.mjs from the corpus.txt lines).

Usage: compare.py REEL [CACHE]
CACHE (default: $REEL_TOKENIZERS_DIR, else build/tokenizers under the source tree) holds the
vocabularies that scripts/fetch-tokenizers dumps (vocab-llama2.json, vocab-llama3.json,
vocab-qwen.json); the GGUF files are made from them there. Prints every line whose ids differ,
then "NAME: E/T lines equal" per tokenizer; exits 1 on any difference or missing vocabulary and
77 (skipped) when no vocabulary is fetched.
Each line is tokenized as the reference does it: special tokens are not parsed, and BOS follows
the vocabulary's add_bos (which dump.mjs takes from the reference).
"""
import concurrent.futures
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
TOKENIZERS = ["llama2", "llama3", "qwen"]
SKIP = 77


def unescape(line):
    """The bytes a corpus line stands for (dump.mjs's escapes: \\n \\t \\r \\\\ and \\xNN)."""
    table = {"n": b"\n", "t": b"\t", "r": b"\r", "\\": b"\\"}
    out, at = bytearray(), 0
    while at < len(line):
        if line[at] == "\\" and at + 1 < len(line) and line[at + 1] in table:
            out += table[line[at + 1]]
            at += 2
        elif line.startswith("\\x", at) and re.fullmatch(r"[0-9a-fA-F]{2}", line[at + 2:at + 4]):
            out.append(int(line[at + 2:at + 4], 16))
            at += 4
        else:
            out += line[at].encode("utf-8")
            at += 1
    return bytes(out)


def gguf_for(cache, name):
    vocab = os.path.join(cache, "vocab-%s.json" % name)
    gguf = os.path.join(cache, "%s.gguf" % name)
    if not os.path.exists(gguf) or os.path.getmtime(gguf) < os.path.getmtime(vocab):
        subprocess.run([sys.executable, os.path.join(HERE, "make-gguf.py"), vocab, gguf], check=True)
    return gguf


def reel_ids(reel, gguf, text):
    run = subprocess.run([reel, "tokenize", gguf, "-p", text, "--ids-only", "--no-parse-special"],
                         capture_output=True, check=False)
    if run.returncode != 0:
        return "error: " + run.stderr.decode("utf-8", "replace").strip()
    return json.loads(run.stdout)


def compare(reel, cache, name):
    with open(os.path.join(HERE, "expected-%s.json" % name), encoding="utf-8") as source:
        cases = json.load(source)
    gguf = gguf_for(cache, name)
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = list(pool.map(lambda case: reel_ids(reel, gguf, unescape(case["line"])), cases))
    equal = 0
    for case, got in zip(cases, results):
        if got == case["ids"]:
            equal += 1
        else:
            print("%s: mismatch on %s\n  reel:      %s\n  reference: %s" % (name, json.dumps(case["line"], ensure_ascii=False), got, case["ids"]))
    print("%s: %d/%d lines equal" % (name, equal, len(cases)))
    return equal == len(cases)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: compare.py REEL [CACHE]")
    default = os.environ.get("REEL_TOKENIZERS_DIR", os.path.join(SOURCE_ROOT, "build", "tokenizers"))
    cache = sys.argv[2] if len(sys.argv) == 3 else default
    present = [n for n in TOKENIZERS if os.path.exists(os.path.join(cache, "vocab-%s.json" % n))]
    if not present:
        print("no reference vocabulary in %s: run scripts/fetch-tokenizers" % cache)
        return SKIP
    # A cache fetched before a tokenizer joined the list lacks its vocabulary: that fails rather
    # than leave the tokenizer unchecked.
    missing = [n for n in TOKENIZERS if n not in present]
    for name in missing:
        print("%s: no vocabulary in %s: run scripts/fetch-tokenizers" % (name, cache))
    results = [compare(sys.argv[1], cache, name) for name in present]
    return 0 if all(results) and not missing else 1


sys.exit(main())
