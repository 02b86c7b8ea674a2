#!/usr/bin/env python3
"""Writes one float32 value into an f32 tensor of a GGUF file, in place, for tests of what
reel does with damaged weights.

Usage: poke-gguf.py FILE.gguf TENSOR ELEMENT VALUE   (VALUE: a float, nan or inf)
"""
import pathlib
import struct
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "support"))
from gguf_reader import Reader  # noqa: E402


def main():
    path, name, element, value = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    data = bytearray(open(path, "rb").read())
    reader = Reader(data)
    magic, _version, tensor_count, kv_count = reader.take("4sIQQ")
    assert magic == b"GGUF", f"{path}: not a GGUF file"
    alignment = 32
    for _ in range(kv_count):
        key = reader.string()
        kind = reader.take("I")
        if key == "general.alignment":
            alignment = reader.take("I")
        else:
            reader.skip_value(kind)
    found = None
    for _ in range(tensor_count):
        tensor = reader.string()
        dims = reader.take("I")
        reader.at += 8 * dims
        ggml_type, offset = reader.take("IQ")
        if tensor == name:
            assert ggml_type == 0, f"{path}: tensor {name} is not f32"
            found = offset
    assert found is not None, f"{path}: no tensor {name}"
    data_start = (reader.at + alignment - 1) // alignment * alignment
    struct.pack_into("<f", data, data_start + found + 4 * element, value)
    open(path, "wb").write(data)


main()
