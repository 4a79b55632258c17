#!/usr/bin/env bash
# Training speed side by side: `retune bench train` (MNRL steps through Burn's autodiff and
# through the fused CPU path, batch 16 and 32, each in its own process) between two
# measurements of this machine's fp32 GEMM rate, with PyTorch's anchor (one MNRL step on
# 2 x 16 sequences of 64 tokens in 1.02 s, i.e. 2,010 tokens/s, when torch's GEMM ran at
# 357 GFLOP/s) scaled to the rate measured now.
#
# With --st it also times PyTorch's step itself on the same pairs (scripts/st/train_step.py:
# sentence-transformers' MNRL, AdamW, clipping, 2 threads; installed on first use by
# scripts/st-venv.sh), each batch size beside a fused bench-train child, and prints the measured
# ratio and PyTorch's peak memory. CI does not run this.
#
# Each side times STEPS steps after one warm-up (default 7: the most the course file's 260 pairs
# allow at batch 32; 4 steps of 32 proved within the drift of a shared host, docs/benchmarks.md).
#
# --model M (a folder or a Hub id in the Hugging Face cache; default all-MiniLM-L6-v2) measures
# another model; the scaled PyTorch anchor is MiniLM's, so it is shown for MiniLM only.
#
#   [STEPS=N] scripts/bench-train-side-by-side.sh [--model M] [--st]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${RETUNE_SHARED:-$root/../shared}
model="$shared/models/all-MiniLM-L6-v2"
if [ "${1:-}" = "--model" ]; then model="${2:?--model needs a folder or Hub id}"; shift 2; fi
. "$root/scripts/model-dir.sh"
bench_model "$model"
train="$shared/data/seed-week2/train_transactions.jsonl"
. "$root/scripts/gemm-rate.sh"
steps=${STEPS:-7}
cd "$root"
cargo build --release -q -p retune-examples --bin retune
g1=$(gemm_rate)
table=$(./target/release/retune bench train --model "$dir" --train "$train" --steps "$steps" 2>/dev/null)
g2=$(gemm_rate)
echo "$table"
if [ "${1:-}" = "--st" ]; then
  . "$root/scripts/st-venv.sh"
  py=$(st_python)
  echo
  echo "| batch | PyTorch s/step | PyTorch tokens/s | PyTorch peak RSS MB | retune fused tokens/s | fused / PyTorch |"
  echo "|---|---|---|---|---|---|"
  for b in 16 32; do
    # the same pairs, warm-up and step count as bench-train, in PyTorch, beside a fused child
    read -r sps tps rss < <("$py" scripts/st/train_step.py "$dir" "$train" "$b" "$steps" 2>/dev/null | tail -1)
    fused=$(./target/release/retune bench train --model "$dir" --train "$train" --steps "$steps" --batch-sizes "$b" \
      --engines fused 2>/dev/null | awk -F'|' '$3 ~ /fused/ {print $7 + 0}')
    awk -v b="$b" -v s="$sps" -v t="$tps" -v r="$rss" -v f="$fused" \
      'BEGIN { printf "| %d | %.3f | %.0f | %.0f | %.0f | %.2fx |\n", b, s, t, r, f, f / t }'
  done
fi
printf '%s\n' "$table" | awk -F'|' -v g1="$g1" -v g2="$g2" -v fpt="$flops_per_token" -v minilm="$minilm" '
  $3 ~ /fused|burn/ {
    gsub(/ /, "", $3); b = $2 + 0; tok[b, $3] = $7 + 0; seen[b] = 1 }
  END {
    g = (g1 + g2) / 2; anchor = 2010 * g / 357.0
    per_token = 3 * fpt   # forward + backward linear-layer FLOPs per token
    printf "\nGEMM rate now: %.1f / %.1f GFLOP/s (before / after)\n", g1, g2
    printf "| batch | burn tokens/s | fused tokens/s | fused / burn | fused share of the GEMM rate | fused / scaled PyTorch (MiniLM) |\n|---|---|---|---|---|---|\n"
    for (b in seen) printf "| %d | %.0f | %.0f | %.2fx | %.0f%% | %s |\n", b, tok[b, "burn"], tok[b, "fused"], tok[b, "fused"] / tok[b, "burn"], 100 * tok[b, "fused"] * per_token / 1e9 / g, minilm ? sprintf("%.2fx", tok[b, "fused"] / anchor) : "-"
    if (minilm) printf "\nPyTorch anchor scaled to this GEMM rate: %.0f tokens/s (%.0f%% of it)\n", anchor, 100 * 2010 * per_token / 1e9 / 357.0
  }'
