#!/usr/bin/env python3
"""Prints what a plan launches, one line per bucket: its graph, rows, smallest context and
the kernel of each step in order, e.g. "decode.m4 m=4 min_context=0: embed_q4_k rms_norm ...".

Usage: plan-kernels.py PLAN.json   (or '-' for standard input)
"""
import json
import sys

source = sys.stdin if sys.argv[1] == "-" else open(sys.argv[1])
plan = json.load(source)
for bucket in plan["buckets"]:
    kernels = " ".join(step["kernel"] for step in bucket["steps"])
    print(f'{bucket["graph"]} m={bucket["m"]} min_context={bucket["min_context"]}: {kernels}')
