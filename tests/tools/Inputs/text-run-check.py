#!/usr/bin/env python3
"""Checks `reel run MODEL -p TEXT` against the id path: the prompt's ids (reel tokenize), the
ids `reel run --prompt-tokens` generates for them, and their text by text-model.py's own
decoder. Prints one "OK ..." line per check, or fails with what differed.

Usage: text-run-check.py REEL MODEL.gguf
  stream: -p's streamed text is the text of the ids (up to the first end-of-generation id)
  stop:   --stop TEXT (two tokens' text from the middle of the answer) cuts the text before it
  eog:    a file whose EOS is the fifth generated token stops where the model first makes it
  limit:  -n 3 gives the text of the first three ids
"""
import importlib.util
import pathlib
import subprocess
import sys

here = pathlib.Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("text_model", here / "text-model.py")
text_model = importlib.util.module_from_spec(spec)
spec.loader.exec_module(text_model)

PROMPT = "Hello world, say"
END_IDS = (2, 4)  # </s> and <|im_end|>
COMMON = ["--device", "cpu", "--threads", "1"]


def run(args):
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(args)}\n{done.stderr}")
    return done.stdout, done.stderr


def generated_ids(reel, model, count):
    ids_text, _ = run([reel, "tokenize", model, "-p", PROMPT, "--ids-only"])
    prompt_ids = ",".join(str(i) for i in text_model.ids_of(ids_text))
    out, _ = run([reel, "run", model, *COMMON, "-n", str(count), "--prompt-tokens", prompt_ids])
    line = next(l for l in out.splitlines() if l.startswith("sequence 0"))
    return text_model.ids_of(line.split(":", 1)[1])


def text_run(reel, model, *flags):
    return run([reel, "run", model, *COMMON, "-p", PROMPT, "--no-display-prompt", *flags])


def expect(what, got, wanted):
    if got != wanted:
        sys.exit(f"{what}: got {got!r}, expected {wanted!r}")


def main():
    reel, model = sys.argv[1:3]
    ids = generated_ids(reel, model, 8)
    for mode in ("stream", "stop", "eog", "limit"):
        check(mode, reel, model, ids)


def check(mode, reel, model, ids):
    size = text_model.vocab_size(model)
    count = str(len(ids))
    until_end = ids
    for i, token in enumerate(ids):
        if token in END_IDS:
            until_end = ids[:i]
            break
    full = text_model.decode(until_end, size)
    if mode == "stream":
        out, err = text_run(reel, model, "-n", count)
        expect(f"text of {ids}", out, full + "\n")
        if "prompt eval: " not in err or "; eval: " not in err:
            sys.exit(f"no speeds on stderr:\n{err}")
        print(f"OK stream: {len(ids)} ids, {len(full)} characters")
    elif mode == "stop":
        windows = [text_model.decode(ids[i:i + 2], size) for i in range(3, len(until_end) - 1)]
        stop = next((w for w in windows if w.strip()), None)
        if stop is None:
            sys.exit(f"no text to stop at in {ids}")
        out, err = text_run(reel, model, "-n", count, "--stop", stop, "--stop", "never-generated")
        expect(f"text of {ids} cut at {stop!r}", out, full[:full.find(stop)] + "\n")
        expect("why it stopped", err.splitlines()[1], "stopped: a stop string (--stop)")
        print("OK stop: the text ends before the stop string")
    elif mode == "eog":
        target = model + ".eos.gguf"
        text_model.write(model, target, [f"eos={ids[4]}"])
        first = ids.index(ids[4])  # the first time the model generates that token
        out, err = text_run(reel, target, "-n", count)
        expect(f"text of {ids} up to EOS {ids[4]}", out, text_model.decode(ids[:first], size) + "\n")
        expect("why it stopped", err.splitlines()[1].split(" (")[0], "stopped: end of generation")
        print("OK eog: stopped at the file's EOS")
    elif mode == "limit":
        out, err = text_run(reel, model, "-n", "3")
        if any(token in END_IDS for token in ids[:3]):
            sys.exit(f"an end-of-generation id among the first three of {ids}")
        expect(f"text of {ids[:3]}", out, text_model.decode(ids[:3], size) + "\n")
        expect("why it stopped", err.splitlines()[1], "stopped: 3 tokens (-n)")
        print("OK limit: three tokens")


main()
