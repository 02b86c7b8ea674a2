#!/usr/bin/env python3
"""Writes the seed corpus of the GGUF fuzz target: tiny valid files covering every value
type and every supported tensor type, and tiny invalid ones (each a different defect).
Run from anywhere: python3 tests/fuzz/make_gguf_corpus.py. Files have no .gguf suffix
(the repository ignores *.gguf) and are each under 4 KiB."""

import pathlib
import struct

OUT = pathlib.Path(__file__).resolve().parent / "corpus" / "gguf"

# GGUF value type ids.
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
SCALAR_FORMATS = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i",
                  F32: "<f", BOOL: "<?", U64: "<Q", I64: "<q", F64: "<d"}
# ggml tensor type ids -> (elements per block, bytes per block).
GGML = {"F32": (0, 1, 4), "F16": (1, 1, 2), "Q5_0": (6, 32, 22), "Q8_0": (8, 32, 34),
        "Q4_K": (12, 256, 144), "Q6_K": (14, 256, 210), "BF16": (30, 1, 2)}


def string(text):
    data = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(data)) + data


def value(kind, payload):
    """Encodes a value without its type tag; arrays are (element kind, [elements])."""
    if kind == STRING:
        return string(payload)
    if kind == ARRAY:
        element_kind, elements = payload
        out = struct.pack("<IQ", element_kind, len(elements))
        return out + b"".join(value(element_kind, e) for e in elements)
    return struct.pack(SCALAR_FORMATS[kind], payload)


def gguf(metadata, tensors, version=3, alignment=32):
    """metadata: [(key, kind, payload)]; tensors: [(name, type name, ne)] with data made
    of a byte pattern. Tensors are laid out in order, each padded to the alignment."""
    header = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(metadata))
    for key, kind, payload in metadata:
        header += string(key) + struct.pack("<I", kind) + value(kind, payload)
    data = b""
    for index, (name, type_name, ne) in enumerate(tensors):
        type_id, block_elems, block_bytes = GGML[type_name]
        count = 1
        for dim in ne:
            count *= dim
        size = count // block_elems * block_bytes
        header += string(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
        header += struct.pack("<IQ", type_id, len(data))
        data += bytes((index * 31 + i) % 251 for i in range(size))
        data += b"\0" * (-len(data) % alignment)
    header += b"\0" * (-len(header) % alignment)
    return header + data


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
