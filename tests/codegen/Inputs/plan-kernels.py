#!/usr/bin/env python3
"""Prints what a plan launches, one line per bucket: its graph, rows, smallest context and
the kernel of each step in order, e.g. "decode.m4 m=4 min_context=0: embed_q4_k rms_norm ...".
With --launches, the GEMV, mmq, mma_f16, dequant and HGEMM steps of the first bucket one per
line instead: the kernel, its grid (x, and y for mmq; x, y and z and the shared memory for
mma_f16; none for the library's HGEMM) and its int arguments, e.g. "gemv_dp4a_q4_k grid=64
ints=[256, 256, 4, 1]", "mmq_q4_k grid=1x16 ints=[256, 256, 4]"; the dequant and HGEMM steps also their pointers as kind+offset (weights: slot:offset),
e.g. "dequant_f16_q4_k grid=8 ints=[256, 256] ptrs=[weight5:0, arena+14336]".

Usage: plan-kernels.py [--launches] PLAN.json   (or '-' for standard input)
"""
import json
import sys

args = sys.argv[1:]
launches = args and args[0] == "--launches"
if launches:
    args = args[1:]
source = sys.stdin if args[0] == "-" else open(args[0])
plan = json.load(source)
if launches:
    for step in plan["buckets"][0]["steps"]:
        grid = step["dims"]["grid"]
        if step["kernel"].startswith("gemv_"):
            print(f'{step["kernel"]} grid={grid[0]} ints={step["ints"]}')
        if step["kernel"].startswith("mmq_"):
            print(f'{step["kernel"]} grid={grid[0]}x{grid[1]} ints={step["ints"]}')
        if step["kernel"].startswith("mma_f16_"):
            print(f'{step["kernel"]} grid={grid[0]}x{grid[1]}x{grid[2]} smem={step["dims"]["smem"]} '
                  f'ints={step["ints"]}')
        ptrs = ", ".join(f"{kind}{slot}:{offset}" if kind == "weight" else f"{kind}+{offset}"
                         for kind, slot, offset in step["ptrs"])
        if step["kernel"].startswith("dequant_"):
            print(f'{step["kernel"]} grid={grid[0]} ints={step["ints"]} ptrs=[{ptrs}]')
        if step["kernel"] == "hgemm_cublas":
            print(f'{step["kernel"]} ints={step["ints"]} ptrs=[{ptrs}]')
    sys.exit(0)
for bucket in plan["buckets"]:
    kernels = " ".join(step["kernel"] for step in bucket["steps"])
    print(f'{bucket["graph"]} m={bucket["m"]} min_context={bucket["min_context"]}: {kernels}')
