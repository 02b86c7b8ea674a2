"""A GGUF writer for test inputs and corpora: metadata of every value type, and tensors
whose data is a byte pattern. The C++ writer (runtime/gguf/GgufWriter.h) refuses what it
cannot represent; this one writes exactly what it is given, for inputs the reader must
judge (see tests/fuzz/make_gguf_corpus.py)."""

import struct

# GGUF value type ids.
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
SCALAR_FORMATS = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i",
                  F32: "<f", BOOL: "<?", U64: "<Q", I64: "<q", F64: "<d"}
# ggml tensor type ids -> (elements per block, bytes per block).
GGML = {"F32": (0, 1, 4), "F16": (1, 1, 2), "Q4_0": (2, 32, 18), "Q5_0": (6, 32, 22), "Q5_1": (7, 32, 24), "Q8_0": (8, 32, 34),
        "Q4_K": (12, 256, 144), "Q5_K": (13, 256, 176), "Q6_K": (14, 256, 210), "BF16": (30, 1, 2)}


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
