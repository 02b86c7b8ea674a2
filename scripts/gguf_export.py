"""Writes a Llama-architecture model as a GGUF v3 file the way llama.cpp's converter does for
arch `llama`: its metadata keys, a byte-level BPE ("gpt2") tokenizer, llama.cpp's tensor names,
F32 norm weights and Q8_0 matrices.

Used by scripts/train-small-model; needs neither torch nor numpy (numpy only makes the Q8_0
quantizer fast), so tests/tools/Inputs/export-gguf.py can exercise it on any host.

Tensors are given in PyTorch's order (a matrix is [rows, cols] = [out_features, in_features]);
GGUF lists the dimensions the other way round (ne[0] = cols).
"""

import math
import os
import struct

try:
    import numpy as np
except ImportError:  # the pure-Python quantizer below takes over
    np = None

# GGUF metadata value types.
T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STRING, T_ARRAY, T_U64, T_I64, T_F64 = range(13)
# ggml tensor types.
GGML_F32 = 0
GGML_Q8_0 = 8
# llama.cpp's LLAMA_FTYPE_MOSTLY_Q8_0 (general.file_type).
FILE_TYPE_Q8_0 = 7
QK8_0 = 32
ALIGNMENT = 32

# Qwen2's pre-tokenizer regex, as reel (text/PreTokenize.cpp) and llama.cpp run it for
# tokenizer.ggml.pre = "qwen2". A tokenizer trained with this split (then ByteLevel without its
# own regex) is the tokenizer reel reproduces: "qwen2" applies the merges to every word, as the
# tokenizers library does (the Llama 3 names skip the merges for words already in the vocabulary).
QWEN2_PRE_NAME = "qwen2"
QWEN2_PRE_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
                   r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

# A ChatML template (Qwen's, without tools): reel recognises it by "<|im_start|>".
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")

TOKEN_NORMAL = 1
TOKEN_CONTROL = 3


def _flat_floats(values):
    """A flat list of Python floats from a numpy array or a (nested) sequence."""
    if np is not None and isinstance(values, np.ndarray):
        return values.astype(np.float32).ravel().tolist()
    out = []
    stack = [values]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        else:
            out.append(float(item))
    return out


def _round_half_away(x):
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def quantize_q8_0(values):
    """Q8_0 blocks of 32 values as llama.cpp's quantize_row_q8_0_ref: d = amax / 127 stored as
    f16, q = round(x / d) as int8 (34 bytes a block). The element count must be a multiple of 32."""
    if np is not None:
        data = np.ascontiguousarray(np.asarray(values, dtype=np.float32)).ravel()
        if data.size % QK8_0 != 0:
            raise ValueError(f"Q8_0: {data.size} values is not a multiple of {QK8_0}")
        if not np.all(np.isfinite(data)):
            raise ValueError("Q8_0: the values are not all finite")
        blocks = data.reshape(-1, QK8_0)
        d = np.abs(blocks).max(axis=1) / 127.0
        inv = np.divide(1.0, d, out=np.zeros_like(d), where=d > 0)
        scaled = blocks * inv[:, None]
        q = np.clip(np.trunc(scaled + np.copysign(0.5, scaled)), -127, 127).astype(np.int8)
        out = np.empty(blocks.shape[0], dtype=[("d", "<f2"), ("q", "i1", (QK8_0,))])
        out["d"] = d.astype(np.float16)
        out["q"] = q
        return out.tobytes()
    data = _flat_floats(values)
    if len(data) % QK8_0 != 0:
        raise ValueError(f"Q8_0: {len(data)} values is not a multiple of {QK8_0}")
    out = bytearray()
    for start in range(0, len(data), QK8_0):
        block = data[start:start + QK8_0]
        if not all(math.isfinite(x) for x in block):
            raise ValueError("Q8_0: the values are not all finite")
        d = max(abs(x) for x in block) / 127.0
        inv = 1.0 / d if d > 0 else 0.0
        out += struct.pack("<e", d)
        out += struct.pack("<32b", *(max(-127, min(127, int(_round_half_away(x * inv)))) for x in block))
    return bytes(out)


def dequantize_q8_0(data):
    """The values of Q8_0 blocks (numpy array when numpy is present, else a list)."""
    if np is not None:
        blocks = np.frombuffer(data, dtype=[("d", "<f2"), ("q", "i1", (QK8_0,))])
        return (blocks["q"].astype(np.float32) * blocks["d"].astype(np.float32)[:, None]).ravel()
    out = []
    for start in range(0, len(data), 2 + QK8_0):
        (d,) = struct.unpack_from("<e", data, start)
        out.extend(d * q for q in struct.unpack_from("<32b", data, start + 2))
    return out


def f32_bytes(values):
    if np is not None:
        return np.ascontiguousarray(np.asarray(values, dtype=np.float32)).ravel().astype("<f4").tobytes()
    data = _flat_floats(values)
    return struct.pack(f"<{len(data)}f", *data)


class GgufWriter:
    """Collects metadata and tensors, then writes one GGUF v3 file (alignment 32)."""

    def __init__(self):
        self.metadata = []  # (key, encoded type + value)
        self.tensors = []  # (name, ne, ggml type, data)
        self._keys = set()

    # Metadata.
    @staticmethod
    def _string(text):
        data = text.encode("utf-8")
        return struct.pack("<Q", len(data)) + data

    def _add(self, key, kind, payload):
        if key in self._keys:
            raise ValueError(f"GGUF metadata key {key!r} is given twice")
        self._keys.add(key)
        self.metadata.append((key, struct.pack("<I", kind) + payload))

    def add_string(self, key, text):
        self._add(key, T_STRING, self._string(text))

    def add_u32(self, key, value):
        self._add(key, T_U32, struct.pack("<I", value))

    def add_f32(self, key, value):
        self._add(key, T_F32, struct.pack("<f", value))

    def add_bool(self, key, value):
        self._add(key, T_BOOL, struct.pack("<?", bool(value)))

    def add_string_array(self, key, items):
        self._add(key, T_ARRAY, struct.pack("<IQ", T_STRING, len(items)) + b"".join(self._string(s) for s in items))

    def add_i32_array(self, key, items):
        self._add(key, T_ARRAY, struct.pack("<IQ", T_I32, len(items)) + struct.pack(f"<{len(items)}i", *items))

    # Tensors.
    def add_tensor(self, name, shape, ggml_type, data):
        """shape in PyTorch order (rows, cols); data: the encoded bytes."""
        if any(t[0] == name for t in self.tensors):
            raise ValueError(f"tensor {name!r} is given twice")
        count = 1
        for dim in shape:
            count *= dim
        expected = count * 4 if ggml_type == GGML_F32 else count // QK8_0 * (2 + QK8_0)
        if len(data) != expected:
            raise ValueError(f"tensor {name!r}: {len(data)} bytes for shape {tuple(shape)}, expected {expected}")
        self.tensors.append((name, list(reversed(shape)), ggml_type, data))

    def write(self, path):
        header = bytearray(b"GGUF")
        header += struct.pack("<IQQ", 3, len(self.tensors), len(self.metadata))
        for key, encoded in self.metadata:
            header += self._string(key) + encoded
        offset = 0
        offsets = []
        for _, _, _, data in self.tensors:
            offsets.append(offset)
            offset += len(data) + (-len(data) % ALIGNMENT)
        for (name, ne, ggml_type, _), at in zip(self.tensors, offsets):
            header += self._string(name) + struct.pack("<I", len(ne))
            header += b"".join(struct.pack("<Q", d) for d in ne)
            header += struct.pack("<IQ", ggml_type, at)
        header += b"\0" * (-len(header) % ALIGNMENT)
        with open(path, "wb") as out:
            out.write(header)
            for _, _, _, data in self.tensors:
                out.write(data)
                out.write(b"\0" * (-len(data) % ALIGNMENT))


def byte_to_unicode():
    """GPT-2's map from bytes to the printable characters byte-level BPE pieces are made of."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars, extra = {}, 0
    for byte in range(256):
        if byte in keep:
            chars[byte] = chr(byte)
        else:
            chars[byte] = chr(256 + extra)
            extra += 1
    return chars


def tensor_names(layers):
    """Every tensor of a Llama model with untied output, as llama.cpp names them."""
    names = ["token_embd.weight", "output_norm.weight", "output.weight"]
    for i in range(layers):
        names += [f"blk.{i}.{part}.weight" for part in (
            "attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down")]
    return names


def export_llama(path, config, tensors, vocab):
    """Writes a llama GGUF file.

    config: name, context_length, embedding_length, block_count, feed_forward_length, head_count,
      head_count_kv, rope_freq_base, rms_norm_eps.
    tensors: {llama.cpp name: (shape in PyTorch order, values)}; norms (1-D) are written F32,
      matrices Q8_0 (their columns must be a multiple of 32). Every name of tensor_names().
    vocab: tokens (pieces in GPT-2's byte map), token_types, merges ("left right" strings),
      bos_id, eos_id, pre (tokenizer.ggml.pre), chat_template (optional).
    Returns the file's size in bytes."""
    layers = config["block_count"]
    missing = [n for n in tensor_names(layers) if n not in tensors]
    if missing:
        raise ValueError(f"export_llama: missing tensors {missing}")
    tokens = list(vocab["tokens"])
    types = list(vocab["token_types"])
    if len(types) != len(tokens):
        raise ValueError(f"export_llama: {len(types)} token types for {len(tokens)} tokens")
    for merge in vocab["merges"]:
        if merge.count(" ") != 1 or merge.startswith(" ") or merge.endswith(" "):
            raise ValueError(f"export_llama: merge {merge!r} is not two pieces separated by one space")
    embd_shape = tensors["token_embd.weight"][0]
    if embd_shape != (len(tokens), config["embedding_length"]):
        raise ValueError(f"export_llama: token_embd.weight is {embd_shape}, the vocabulary has {len(tokens)} tokens")

    w = GgufWriter()
    w.add_string("general.architecture", "llama")
    w.add_string("general.name", config["name"])
    w.add_u32("general.quantization_version", 2)
    w.add_u32("general.file_type", FILE_TYPE_Q8_0)
    w.add_u32("llama.context_length", config["context_length"])
    w.add_u32("llama.embedding_length", config["embedding_length"])
    w.add_u32("llama.block_count", layers)
    w.add_u32("llama.feed_forward_length", config["feed_forward_length"])
    w.add_u32("llama.attention.head_count", config["head_count"])
    w.add_u32("llama.attention.head_count_kv", config["head_count_kv"])
    w.add_u32("llama.rope.dimension_count", config["embedding_length"] // config["head_count"])
    w.add_f32("llama.rope.freq_base", config["rope_freq_base"])
    w.add_f32("llama.attention.layer_norm_rms_epsilon", config["rms_norm_eps"])
    w.add_u32("llama.vocab_size", len(tokens))
    w.add_string("tokenizer.ggml.model", "gpt2")
    w.add_string("tokenizer.ggml.pre", vocab["pre"])
    w.add_string_array("tokenizer.ggml.tokens", tokens)
    w.add_i32_array("tokenizer.ggml.token_type", types)
    w.add_string_array("tokenizer.ggml.merges", list(vocab["merges"]))
    w.add_u32("tokenizer.ggml.bos_token_id", vocab["bos_id"])
    w.add_u32("tokenizer.ggml.eos_token_id", vocab["eos_id"])
    w.add_bool("tokenizer.ggml.add_bos_token", True)
    w.add_bool("tokenizer.ggml.add_eos_token", False)
    if vocab.get("chat_template"):
        w.add_string("tokenizer.chat_template", vocab["chat_template"])

    for name in tensor_names(layers):
        shape, values = tensors[name]
        shape = tuple(int(d) for d in shape)
        if len(shape) == 1:
            w.add_tensor(name, shape, GGML_F32, f32_bytes(values))
        else:
            if shape[-1] % QK8_0 != 0:
                raise ValueError(f"export_llama: {name} has {shape[-1]} columns, not a multiple of {QK8_0}")
            w.add_tensor(name, shape, GGML_Q8_0, quantize_q8_0(values))
    w.write(path)
    return os.path.getsize(path)
