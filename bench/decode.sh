#!/usr/bin/env bash
# Decode throughput of the bundled Llama models on the GPU, per bucket (reel bench, synthetic
# Q4_K_M weights written once under $TMPDIR and reused), as markdown tables for
# docs/performance.md. Compare with llama-bench's `-p 0 -n 128` figures (docs/design.md, "Anchors").
# Usage: bench/decode.sh [REEL] [MODEL...]   (defaults: stage/bin/reel; llama-2-7b tinyllama-1.1b llama-3-8b)
set -euo pipefail

reel=${1:-stage/bin/reel}
shift || true
models=("$@")
[[ ${#models[@]} -gt 0 ]] || models=(llama-2-7b tinyllama-1.1b llama-3-8b)

echo "# reel bench, $(date -u +%Y-%m-%d), $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)"
for model in "${models[@]}"; do
  echo
  echo "## $model"
  "$reel" bench "$model" --synthetic --buckets 1,2,4,8 -n 128 --gpu h100 -o md
done
