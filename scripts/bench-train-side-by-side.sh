#!/usr/bin/env bash
# Training speed side by side: retune's `bench-train` (MNRL steps through Burn's autodiff and
# through the fused CPU path, batch 16 and 32, each in its own process) between two
# measurements of this machine's fp32 GEMM rate, with PyTorch's anchor (one MNRL step on
# 2 x 16 sequences of 64 tokens in 1.02 s, i.e. 2,010 tokens/s, when torch's GEMM ran at
# 357 GFLOP/s) scaled to the rate measured now.
#
# With --st it also times that PyTorch step itself (sentence-transformers' MNRL, AdamW, the same
# model, 2 threads), installing torch (CPU wheel) and sentence-transformers into
# .retune-cache/st-venv on first use. CI does not run this.
#
#   scripts/bench-train-side-by-side.sh [--st]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${RETUNE_SHARED:-$root/../shared}
model="$shared/models/all-MiniLM-L6-v2"
train="$shared/data/seed-week2/train_transactions.jsonl"
. "$root/scripts/gemm-rate.sh"
cd "$root"
cargo build --release -q -p retune-examples --bin bench-train
g1=$(gemm_rate)
table=$(./target/release/bench-train --model "$model" --train "$train" --steps 4 2>/dev/null)
g2=$(gemm_rate)
echo "$table"
st=""
if [ "${1:-}" = "--st" ]; then
  venv_st="$root/.retune-cache/st-venv"
  if [ ! -x "$venv_st/bin/python" ]; then
    python3 -m venv "$venv_st"
    "$venv_st/bin/pip" install --quiet torch --index-url https://download.pytorch.org/whl/cpu
    "$venv_st/bin/pip" install --quiet sentence-transformers
  fi
  st=$("$venv_st/bin/python" - "$model" <<'PY'
import sys, time, torch
from sentence_transformers import SentenceTransformer, losses
torch.set_num_threads(2)
m = SentenceTransformer(sys.argv[1], device="cpu"); m.max_seq_length = 64
loss = losses.MultipleNegativesRankingLoss(m)
opt = torch.optim.AdamW(m.parameters(), lr=2e-5)
text = "corporate card transaction at a software vendor for the annual plan " * 8
a = m.tokenize([f"{i} {text}" for i in range(16)]); p = m.tokenize([f"{text} {i}" for i in range(16)])
m.train(); best = float("inf")
for _ in range(4):
    t = time.perf_counter()
    opt.zero_grad(); loss([a, p], None).backward(); opt.step()
    best = min(best, time.perf_counter() - t)
print(f"{2 * 16 * 64 / best:.0f}")
PY
)
fi
printf '%s\n' "$table" | awk -F'|' -v g1="$g1" -v g2="$g2" -v st="$st" '
  $3 ~ /fused|burn/ {
    gsub(/ /, "", $3); b = $2 + 0; tok[b, $3] = $7 + 0; seen[b] = 1 }
  END {
    g = (g1 + g2) / 2; anchor = 2010 * g / 357.0
    per_token = 3 * 21233664   # forward + backward linear-layer FLOPs per token (MiniLM)
    printf "\nGEMM rate now: %.1f / %.1f GFLOP/s (before / after)\n", g1, g2
    printf "| batch | burn tokens/s | fused tokens/s | fused / burn | fused share of the GEMM rate | fused / scaled PyTorch |\n|---|---|---|---|---|---|\n"
    for (b in seen) printf "| %d | %.0f | %.0f | %.2fx | %.0f%% | %.2fx |\n", b, tok[b, "burn"], tok[b, "fused"], tok[b, "fused"] / tok[b, "burn"], 100 * tok[b, "fused"] * per_token / 1e9 / g, tok[b, "fused"] / anchor
    printf "\nPyTorch anchor scaled to this GEMM rate: %.0f tokens/s (%.0f%% of it)\n", anchor, 100 * 2010 * per_token / 1e9 / 357.0
    if (st != "") printf "PyTorch (sentence-transformers) run now: %s tokens/s\n", st
  }'
