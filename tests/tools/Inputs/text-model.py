#!/usr/bin/env python3
"""A tiny text model for the tests of `reel run -p` and `reel chat`: a model GGUF file of
`reel synth` (random weights, no vocabulary) copied with a hand-made SentencePiece vocabulary
of as many tokens as the model's, and a decoder of that vocabulary, independent of reel's
(for text-run-check.py).

Usage:
  text-model.py write IN.gguf OUT.gguf [eos=ID] [template=TEXT]

The vocabulary: <unk> (0, unknown), <s> (1, BOS), </s> (2, EOS), <|im_start|> (3) and
<|im_end|> (4) (control), then U+2581, a newline, the letters, digits and some punctuation,
U+2581 before each letter, pairs of small letters, then U+2581 before each pair, until the
model's vocabulary size. There are no byte tokens: every token is ASCII text, so any sequence
of ids decodes to whole characters.
`template` puts a tokenizer.chat_template (default: a ChatML one).
"""
import itertools
import pathlib
import string
import struct
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "support"))
from gguf_reader import Reader  # noqa: E402
from gguf_writer import ARRAY, F32, I32, STRING, U32, string as gguf_string, value  # noqa: E402

SPACE = "\u2581"
CHATML = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"


def vocabulary(size):
    """[(text, score, type)] of `size` tokens."""
    tokens = [("<unk>", 0, 2), ("<s>", 0, 3), ("</s>", 0, 3), ("<|im_start|>", 0, 3), ("<|im_end|>", 0, 3)]
    singles = [SPACE, "\n"] + list(string.ascii_letters + string.digits + ".,!?:;'-")
    tokens += [(t, -10.0, 1) for t in singles]
    tokens += [(SPACE + c, -5.0, 1) for c in string.ascii_letters]
    pairs = ["".join(p) for p in itertools.product(string.ascii_lowercase, repeat=2)]
    for piece in pairs + [SPACE + p for p in pairs]:
        if len(tokens) == size:
            break
        tokens.append((piece, -1.0 - len(tokens) / 1000, 1))
    assert len(tokens) == size, f"the model's vocabulary of {size} is larger than this one's"
    return tokens


def decode(ids, size, continuation=True):
    """The text of `ids` as a SentencePiece detokenizer gives it: control and unknown tokens
    give nothing, U+2581 is a space; the first piece's leading space is dropped unless the ids
    continue a text (a generation after its prompt, printed as llama.cpp prints it)."""
    tokens = vocabulary(size)
    text, first = "", not continuation
    for i in ids:
        piece, _, kind = tokens[i]
        if kind != 1:
            continue
        piece = piece.replace(SPACE, " ")
        if first and piece:
            first = False
            if piece.startswith(" "):
                piece = piece[1:]
        text += piece
    return text


def read(source):
    """The metadata entries (raw bytes) but tokenizer.*, the tensor infos (raw), the tensor data,
    the vocabulary size and the alignment of a GGUF file."""
    data = open(source, "rb").read()
    reader = Reader(data)
    magic, version, tensor_count, kv_count = reader.take("4sIQQ")
    assert magic == b"GGUF", f"{source}: not a GGUF file"
    kept, size, alignment = [], None, 32
    for _ in range(kv_count):
        start = reader.at
        key = reader.string()
        kind = reader.take("I")
        value_start = reader.at
        reader.skip_value(kind)
        if key.endswith(".vocab_size"):
            size = struct.unpack_from("<I", data, value_start)[0]
        if key == "general.alignment":
            alignment = struct.unpack_from("<I", data, value_start)[0]
        if not key.startswith("tokenizer."):
            kept.append(data[start:reader.at])
    infos_start = reader.at
    for _ in range(tensor_count):
        reader.string()
        dims = reader.take("I")
        reader.at += 8 * dims + 12
    infos = data[infos_start:reader.at]
    data_start = (reader.at + alignment - 1) // alignment * alignment
    return version, kept, tensor_count, infos, data[data_start:], size, alignment


def vocab_size(source):
    return read(source)[5]


def write(source, target, options):
    version, kept, tensor_count, infos, tensor_data, size, alignment = read(source)
    tokens = vocabulary(size)
    keys = {"tokenizer.ggml.model": (STRING, "llama"),
            "tokenizer.ggml.tokens": (ARRAY, (STRING, [t for t, _, _ in tokens])),
            "tokenizer.ggml.scores": (ARRAY, (F32, [s for _, s, _ in tokens])),
            "tokenizer.ggml.token_type": (ARRAY, (I32, [k for _, _, k in tokens])),
            "tokenizer.ggml.bos_token_id": (U32, 1), "tokenizer.ggml.eos_token_id": (U32, 2),
            "tokenizer.ggml.unknown_token_id": (U32, 0),
            "tokenizer.chat_template": (STRING, CHATML)}
    for option in options:
        key, text = option.split("=", 1)
        if key == "eos":
            keys["tokenizer.ggml.eos_token_id"] = (U32, int(text))
        elif key == "template":
            keys["tokenizer.chat_template"] = (STRING, text)
    added = [gguf_string(k) + struct.pack("<I", kind) + value(kind, payload) for k, (kind, payload) in keys.items()]
    header = b"GGUF" + struct.pack("<IQQ", version, tensor_count, len(kept) + len(added))
    header += b"".join(kept) + b"".join(added) + infos
    header += b"\0" * (-len(header) % alignment)
    open(target, "wb").write(header + tensor_data)


def ids_of(text):
    return [int(t) for t in text.replace("[", " ").replace("]", " ").replace(",", " ").split()]


def main():
    if sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3], sys.argv[4:])


if __name__ == "__main__":
    main()
