#!/usr/bin/env bash
# Encoding speed side by side: retune's `retune bench encode` (Burn model, fused CPU path, and the
# bf16 AMX path where the CPU has it) on the
# course eval transactions, between two measurements of this machine's fp32 GEMM rate (numpy's
# OpenBLAS, 2 threads, the encoder's largest product). The machines are shared and their speed
# drifts, so the table also scales sentence-transformers' anchor (283.6 texts/s at batch 32,
# measured when torch's GEMM ran at 357 GFLOP/s) to the GEMM rate measured now.
#
# With --st it also runs sentence-transformers itself (scripts/st/encode.py, installed on first
# use by scripts/st-venv.sh) and prints the measured ratio and both peak memories.
# CI does not run this.
#
# --model M (a folder or a Hub id in the Hugging Face cache; default all-MiniLM-L6-v2) measures
# another model; the scaled anchor is MiniLM's, so it is shown for MiniLM only.
#
#   scripts/bench-encode-side-by-side.sh [--model M] [--st]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${RETUNE_SHARED:-$root/../shared}
model="$shared/models/all-MiniLM-L6-v2"
if [ "${1:-}" = "--model" ]; then model="${2:?--model needs a folder or Hub id}"; shift 2; fi
. "$root/scripts/model-dir.sh"
bench_model "$model"
input="$shared/data/seed-week2/eval_transactions.jsonl"
. "$root/scripts/gemm-rate.sh"
cd "$root"
cargo build --release -q -p retune-examples --bin retune
g1=$(gemm_rate)
table=$(./target/release/retune bench encode --model "$model" --input "$input" --field input --repeats 5 2>/dev/null)
g2=$(gemm_rate)
echo "$table"
st32=""
if [ "${1:-}" = "--st" ]; then
  . "$root/scripts/st-venv.sh"
  py=$(st_python)
  # texts/s at batch 1, 8, 32 and peak RSS (MB), then retune alone (engine auto) for its RSS
  read -r st1 st8 st32 strss < <("$py" scripts/st/encode.py "$dir" "$input" input 5 2>/dev/null)
  rss_file=$(mktemp)
  /usr/bin/time -f %M -o "$rss_file" ./target/release/retune bench encode --model "$model" --input "$input" \
    --field input --repeats 1 --engine auto >/dev/null 2>&1
  rtrss=$(tail -1 "$rss_file"); rm -f "$rss_file"
  echo
  echo "sentence-transformers run now (same texts, batch 1 / 8 / 32): $st1 / $st8 / $st32 texts/s, peak RSS $strss MB"
  echo "retune (engine auto: fused where the family runs on it), peak RSS of the same bench alone: $((rtrss / 1024)) MB"
fi
printf '%s\n' "$table" | awk -F'|' -v g1="$g1" -v g2="$g2" -v st="$st32" -v fpt="$flops_per_token" -v minilm="$minilm" '
  $2 ~ /fused|burn/ && $3+0 == 32 {
    gsub(/ /, "", $2); rate[$2] = $7 + 0; tok = $5 + 0; sec[$2] = $6 + 0 }
  END {
    g = (g1 + g2) / 2; anchor = 283.6 * g / 357.0
    flops = tok * fpt / 1e9
    printf "\nGEMM rate now: %.1f / %.1f GFLOP/s (before / after)\n", g1, g2
    printf "| at batch 32 | texts/s | linear-layer GFLOP/s | share of the GEMM rate |\n|---|---|---|---|\n"
    for (e in rate) printf "| retune %s | %.1f | %.1f | %.0f%% |\n", e, rate[e], flops / sec[e], 100 * flops / sec[e] / g
    if (minilm) printf "| sentence-transformers anchor, scaled to this GEMM rate | %.1f | %.1f | 69%% |\n", anchor, 0.69 * g
    if (st != "") printf "| sentence-transformers, run now | %s | - | - |\n", st
    if (minilm) printf "\nfused / scaled anchor: %.2fx\n", rate["fused"] / anchor
    if (st != "") printf "fused / sentence-transformers run now: %.2fx\n", rate["fused"] / st
    if (minilm && "fused-bf16" in rate) printf "fused-bf16 (AMX; its GFLOP/s count the same f32-equivalent work) / scaled anchor: %.2fx\n", rate["fused-bf16"] / anchor
  }'
