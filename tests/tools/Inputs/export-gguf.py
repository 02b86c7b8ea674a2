#!/usr/bin/env python3
"""Writes a tiny Llama model through scripts/gguf_export.py (the exporter of
scripts/train-small-model) and a FileCheck file of the tokens reel must generate from it.

Usage: export-gguf.py OUT.gguf OUT.check PROMPT_IDS N

The model has random weights (fixed seed) and a hand-made byte-level BPE vocabulary laid out as
the trained tokenizer's: the specials <|begin_of_text|> (0, BOS), <|end_of_text|> (1, EOS),
<|im_start|> (2), <|im_end|> (3), then byte b as token 4 + b in GPT-2's byte map, then
de (260), def (261), re (262), ĠĠ (263), ĠĠĠĠ (264), Ġre (265), 42 (266) from the merges
"d e", "de f", "r e", "Ġ Ġ", "ĠĠ ĠĠ", "Ġ re", "4 2".

The expected tokens come from a plain-Python forward pass of the model as train-small-model's
PyTorch model computes it (RMSNorm, RoPE on the pairs (2i, 2i+1), query head h reading KV head
h // group, SwiGLU) on the Q8_0 weights of the file, greedy, N tokens after PROMPT_IDS. The check
fails where reel reads a tensor in another orientation, rotates other pairs or maps the heads
otherwise. The script refuses a seed whose top two logits lie closer than reel's f16 rounding
could reorder.
"""
import math
import pathlib
import random
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "scripts"))
import gguf_export  # noqa: E402

DIM, LAYERS, HEADS, KV_HEADS, FFN, CTX = 64, 2, 4, 2, 96, 64
HEAD_DIM = DIM // HEADS
EPS, ROPE_BASE = 1e-5, 10000.0
MIN_GAP = 0.1


def vocabulary():
    chars = gguf_export.byte_to_unicode()
    tokens = ["<|begin_of_text|>", "<|end_of_text|>", "<|im_start|>", "<|im_end|>"]
    tokens += [chars[b] for b in range(256)]
    merges = ["d e", "de f", "r e", "Ġ Ġ", "ĠĠ ĠĠ", "Ġ re", "4 2"]
    tokens += [m.replace(" ", "") for m in merges]
    types = [gguf_export.TOKEN_CONTROL] * 4 + [gguf_export.TOKEN_NORMAL] * (len(tokens) - 4)
    return {"tokens": tokens, "token_types": types, "merges": merges, "bos_id": 0, "eos_id": 1,
            "pre": gguf_export.QWEN2_PRE_NAME, "chat_template": gguf_export.CHATML_TEMPLATE}


def random_matrix(rng, rows, cols, gain):
    std = gain / math.sqrt(cols)
    return [[rng.gauss(0.0, std) for _ in range(cols)] for _ in range(rows)]


def make_tensors(rng, vocab_size):
    """{name: (shape, rows)}: matrices as lists of rows, norms as lists."""
    def norm():
        return [1.0 + rng.gauss(0.0, 0.2) for _ in range(DIM)]

    t = {"token_embd.weight": random_matrix(rng, vocab_size, DIM, math.sqrt(DIM)),
         "output_norm.weight": norm(), "output.weight": random_matrix(rng, vocab_size, DIM, 3.0)}
    for i in range(LAYERS):
        t[f"blk.{i}.attn_norm.weight"] = norm()
        t[f"blk.{i}.attn_q.weight"] = random_matrix(rng, HEADS * HEAD_DIM, DIM, 2.0)
        t[f"blk.{i}.attn_k.weight"] = random_matrix(rng, KV_HEADS * HEAD_DIM, DIM, 2.0)
        t[f"blk.{i}.attn_v.weight"] = random_matrix(rng, KV_HEADS * HEAD_DIM, DIM, 1.0)
        t[f"blk.{i}.attn_output.weight"] = random_matrix(rng, DIM, HEADS * HEAD_DIM, 1.0)
        t[f"blk.{i}.ffn_norm.weight"] = norm()
        t[f"blk.{i}.ffn_gate.weight"] = random_matrix(rng, FFN, DIM, 1.0)
        t[f"blk.{i}.ffn_up.weight"] = random_matrix(rng, FFN, DIM, 1.0)
        t[f"blk.{i}.ffn_down.weight"] = random_matrix(rng, DIM, FFN, 1.0)
    return {name: ((len(v), len(v[0])) if isinstance(v[0], list) else (len(v),), v) for name, v in t.items()}


def q8_0_values(matrix):
    """The matrix as the file holds it: each value through Q8_0 and back."""
    cols = len(matrix[0])
    flat = gguf_export.dequantize_q8_0(gguf_export.quantize_q8_0(matrix))
    flat = [float(x) for x in flat]
    return [flat[r * cols:(r + 1) * cols] for r in range(len(matrix))]


def matvec(matrix, x):
    return [sum(w * v for w, v in zip(row, x)) for row in matrix]


def rms_norm(x, weight):
    scale = 1.0 / math.sqrt(sum(v * v for v in x) / len(x) + EPS)
    return [v * scale * w for v, w in zip(x, weight)]


def rope(vec, heads, position):
    out = list(vec)
    for h in range(heads):
        base = h * HEAD_DIM
        for i in range(HEAD_DIM // 2):
            angle = position * ROPE_BASE ** (-2.0 * i / HEAD_DIM)
            c, s = math.cos(angle), math.sin(angle)
            a, b = vec[base + 2 * i], vec[base + 2 * i + 1]
            out[base + 2 * i] = a * c - b * s
            out[base + 2 * i + 1] = a * s + b * c
    return out


def forward(w, ids):
    """The logits of the last token of ids."""
    x_rows = [list(w["token_embd.weight"][i]) for i in ids]
    group = HEADS // KV_HEADS
    for layer in range(LAYERS):
        p = f"blk.{layer}."
        keys, values, out_rows = [], [], []
        for pos, x in enumerate(x_rows):
            h = rms_norm(x, w[p + "attn_norm.weight"])
            q = rope(matvec(w[p + "attn_q.weight"], h), HEADS, pos)
            keys.append(rope(matvec(w[p + "attn_k.weight"], h), KV_HEADS, pos))
            values.append(matvec(w[p + "attn_v.weight"], h))
            attn = []
            for head in range(HEADS):
                kv = head // group
                qh = q[head * HEAD_DIM:(head + 1) * HEAD_DIM]
                scores = [sum(a * b for a, b in zip(qh, k[kv * HEAD_DIM:(kv + 1) * HEAD_DIM])) / math.sqrt(HEAD_DIM)
                          for k in keys]
                top = max(scores)
                probs = [math.exp(s - top) for s in scores]
                total = sum(probs)
                attn += [sum(pr * v[kv * HEAD_DIM + d] for pr, v in zip(probs, values)) / total
                         for d in range(HEAD_DIM)]
            x = [a + b for a, b in zip(x, matvec(w[p + "attn_output.weight"], attn))]
            h = rms_norm(x, w[p + "ffn_norm.weight"])
            gate = matvec(w[p + "ffn_gate.weight"], h)
            up = matvec(w[p + "ffn_up.weight"], h)
            act = [g / (1.0 + math.exp(-g)) * u for g, u in zip(gate, up)]
            out_rows.append([a + b for a, b in zip(x, matvec(w[p + "ffn_down.weight"], act))])
        x_rows = out_rows
    return matvec(w["output.weight"], rms_norm(x_rows[-1], w["output_norm.weight"]))


def main():
    out_gguf, out_check, prompt, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    vocab = vocabulary()
    tensors = make_tensors(random.Random(10), len(vocab["tokens"]))
    config = {"name": "export-test", "context_length": CTX, "embedding_length": DIM, "block_count": LAYERS,
              "feed_forward_length": FFN, "head_count": HEADS, "head_count_kv": KV_HEADS,
              "rope_freq_base": ROPE_BASE, "rms_norm_eps": EPS}
    gguf_export.export_llama(out_gguf, config, tensors, vocab)

    weights = {name: (q8_0_values(v) if len(shape) == 2 else v) for name, (shape, v) in tensors.items()}
    ids = [int(t) for t in prompt.split(",")]
    generated = []
    for _ in range(count):
        logits = forward(weights, ids + generated)
        ranked = sorted(range(len(logits)), key=lambda i: -logits[i])
        if logits[ranked[0]] - logits[ranked[1]] < MIN_GAP:
            sys.exit(f"export-gguf.py: top two logits within {MIN_GAP}: pick another seed")
        generated.append(ranked[0])
    with open(out_check, "w", encoding="utf-8") as out:
        out.write(f"CHECK: sequence 0 ({len(ids)} prompt tokens): {' '.join(map(str, generated))}{{{{$}}}}\n")


if __name__ == "__main__":
    main()
