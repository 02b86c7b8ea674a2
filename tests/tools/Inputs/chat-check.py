#!/usr/bin/env python3
"""Checks a two-turn `reel chat --verbose` (ChatML): stdout holds the two answers, each ended
by a newline; stderr's "turn N: T prompt tokens, C in the KV cache; prompt: P" lines hold the
rendered prompts. Checks that turn 2's prompt is turn 1's, the first answer, the end of turn
and the second user message; that turn 2 reuses the KV cache; and that the first answer is
what `reel run -p` generates for turn 1's prompt. Prints one "OK ..." line per check.

Usage: chat-check.py REEL MODEL.gguf TOKENS STDOUT STDERR SECOND_MESSAGE
"""
import re
import subprocess
import sys


def unescape(text):
    return re.sub(r"\\(n|t|\\|x[0-9a-f]{2})",
                  lambda m: {"n": "\n", "t": "\t", "\\": "\\"}.get(m.group(1)) or chr(int(m.group(1)[1:], 16)), text)


def main():
    reel, model, tokens, out_path, err_path, second = sys.argv[1:7]
    out = open(out_path, encoding="utf-8").read()
    turns = [re.match(r"turn (\d+): (\d+) prompt tokens, (\d+) in the KV cache; prompt: (.*)$", line)
             for line in open(err_path, encoding="utf-8").read().splitlines()]
    turns = [(int(m.group(2)), int(m.group(3)), unescape(m.group(4))) for m in turns if m]
    if len(turns) != 2:
        sys.exit(f"expected two turns on stderr, got {len(turns)}")
    (tokens1, cached1, prompt1), (tokens2, cached2, prompt2) = turns
    if not prompt2.startswith(prompt1):
        sys.exit(f"turn 2's prompt does not start with turn 1's:\n{prompt1!r}\n{prompt2!r}")
    tail = f"<|im_end|>\n<|im_start|>user\n{second}<|im_end|>\n<|im_start|>assistant\n"
    if not prompt2.endswith(tail):
        sys.exit(f"turn 2's prompt does not end with the second message: {prompt2!r}")
    answer1 = prompt2[len(prompt1):len(prompt2) - len(tail)]
    if not out.startswith(answer1 + "\n"):
        sys.exit(f"stdout does not start with the first answer {answer1!r}: {out!r}")
    print(f"OK turn 2's prompt holds the first answer ({len(answer1)} characters)")
    if cached1 != 0 or not 0 < cached2 < tokens2 or tokens2 <= tokens1:
        sys.exit(f"KV cache: turn 1 {cached1} of {tokens1}, turn 2 {cached2} of {tokens2}")
    print("OK turn 2 prefills only its new tokens")
    done = subprocess.run([reel, "run", model, "--device", "cpu", "--threads", "1", "-n", tokens, "-p", prompt1,
                           "--no-display-prompt"], capture_output=True, text=True)
    if done.returncode != 0 or done.stdout != answer1 + "\n":
        sys.exit(f"reel run -p gives {done.stdout!r} for turn 1's prompt, chat {answer1!r}\n{done.stderr}")
    print("OK the first answer is reel run -p's")


main()
