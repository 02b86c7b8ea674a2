#!/usr/bin/env python3
"""Writes one float32 value into an f32 tensor of a GGUF file, in place, for tests of what
reel does with damaged weights.

Usage: poke-gguf.py FILE.gguf TENSOR ELEMENT VALUE   (VALUE: a float, nan or inf)
"""
import struct
import sys

# Sizes of the fixed-size GGUF metadata value types (type id -> bytes); 8 is a string and
# 9 an array.
SCALAR_BYTES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, fmt):
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values[0] if len(values) == 1 else values

    def string(self):
        length = self.take("Q")
        self.at += length
        return self.data[self.at - length:self.at].decode("utf-8")

    def skip_value(self, kind):
        if kind == 8:
            self.string()
        elif kind == 9:
            element, count = self.take("IQ")
            for _ in range(count):
                self.skip_value(element)
        else:
            self.at += SCALAR_BYTES[kind]


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
