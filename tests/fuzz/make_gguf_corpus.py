#!/usr/bin/env python3
"""Writes the seed corpus of the GGUF fuzz target: tiny valid files covering every value
type and every supported tensor type, and tiny invalid ones (each a different defect).
Run from anywhere: python3 tests/fuzz/make_gguf_corpus.py. Files have no .gguf suffix
(the repository ignores *.gguf) and are each under 4 KiB."""

import pathlib
import struct
import sys

OUT = pathlib.Path(__file__).resolve().parent / "corpus" / "gguf"

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "support"))
from gguf_writer import (  # noqa: E402
    ARRAY, BOOL, F32, F64, I8, I16, I32, I64, STRING, U8, U16, U32, U64, gguf)

ALL_TYPES_METADATA = [
    ("general.architecture", STRING, "llama"),
    ("general.alignment", U32, 32),
    ("v.u8", U8, 7), ("v.i8", I8, -7), ("v.u16", U16, 700), ("v.i16", I16, -700),
    ("v.i32", I32, -70000), ("v.f32", F32, 0.5), ("v.bool", BOOL, True),
    ("v.u64", U64, 1 << 40), ("v.i64", I64, -(1 << 40)), ("v.f64", F64, 0.25),
    ("tokenizer.ggml.model", STRING, "no_vocab"),
    ("tokenizer.ggml.tokens", ARRAY, (STRING, ["<unk>", "<s>", ""])),
    ("a.f32", ARRAY, (F32, [1.0, -2.0])),
    ("a.bool", ARRAY, (BOOL, [True, False])),
    ("a.nested", ARRAY, (ARRAY, [(U16, [1, 2]), (STRING, ["x"])])),
]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    files = {
        "valid-empty": gguf([], []),
        "valid-all-value-types": gguf(ALL_TYPES_METADATA, [("norm", "F32", [8])]),
        "valid-small-types": gguf([("general.architecture", STRING, "llama")],
                                  [("a", "F32", [4, 2]), ("b", "F16", [6]), ("c", "BF16", [2, 2, 2]),
                                   ("d", "Q8_0", [32, 2]), ("e", "Q5_0", [32, 1, 1, 2])]),
        "valid-k-quants-align64": gguf([("general.alignment", U32, 64)],
                                       [("q4k", "Q4_K", [256]), ("q6k", "Q6_K", [256, 2])],
                                       alignment=64),
        "valid-v2": gguf([("tokenizer.ggml.tokens", ARRAY, (STRING, ["a", "b"]))],
                         [("t", "F32", [2])], version=2),
    }
    valid = files["valid-small-types"]
    files["invalid-truncated"] = valid[: len(valid) // 2]
    files["invalid-huge-tensor-count"] = b"GGUF" + struct.pack("<IQQ", 3, (1 << 63) - 1, 0)
    files["invalid-alignment-3"] = gguf([("general.alignment", U32, 3)], [])
    bad_offset = bytearray(gguf([], [("a", "F32", [8]), ("b", "F32", [8])]))
    # Make b's data offset (the last 8 bytes of its tensor info) point into a's data.
    info_end = 24 + (8 + 1 + 4 + 8 + 4 + 8) * 2
    bad_offset[info_end - 8:info_end] = struct.pack("<Q", 0)
    files["invalid-overlap"] = bytes(bad_offset)
    for name, data in files.items():
        assert len(data) < 4096, name
        (OUT / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
