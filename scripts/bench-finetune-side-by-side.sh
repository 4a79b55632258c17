#!/usr/bin/env bash
# Whole fine-tunes of the course recipe side by side: sentence-transformers' SentenceTransformerTrainer
# (scripts/st/finetune.py, installed on first use by scripts/st-venv.sh) and retune's `finetune`
# with the same recipe (5 epochs, batch 16, lr 2e-5, warmup 0.1, NO_DUPLICATES / GROUP_BY_LABEL,
# the first 20% of the training file held out and validated after every epoch, seed 0, 2
# threads), alternating, ROUNDS times per loss. Prints training seconds, optimizer steps, eval
# R@1 and peak resident memory of every run, and retune's time over sentence-transformers'.
# CI does not run this.
#
#   scripts/bench-finetune-side-by-side.sh [ROUNDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${RETUNE_SHARED:-$root/../shared}
model="$shared/models/all-MiniLM-L6-v2"
data="$shared/data/seed-week2"
rounds=${1:-2}
. "$root/scripts/st-venv.sh"
cd "$root"
cargo build --release -q -p retune-examples --bin retune
py=$(st_python)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "| loss | round | system | training s | steps | eval R@1 | peak RSS MB |"
echo "|---|---|---|---|---|---|---|"
for loss in mnrl semihard; do
  flag=$([ "$loss" = mnrl ] && echo mnrl || echo batch-semi-hard)
  for r in $(seq "$rounds"); do
    read -r s steps r1 _ _ _ rss < <("$py" scripts/st/finetune.py "$model" "$data/train_transactions.jsonl" \
      "$data/categories.json" "$data/eval_transactions.jsonl" "$loss" validate 2>/dev/null | tail -1)
    echo "| $loss | $r | sentence-transformers | $s | $steps | $r1 | $rss |"
    /usr/bin/time -f %M -o "$out/rss" ./target/release/retune finetune --model "$model" \
      --train "$data/train_transactions.jsonl" --corpus "$data/categories.json" \
      --eval "$data/eval_transactions.jsonl" --output "$out/model" --checkpoints false --seed 0 \
      --loss "$flag" --epochs 5 --lr 2e-5 --warmup-ratio 0.1 --batch-size 16 --symmetric false \
      --corpus-negatives false --train-on-samples false --hard-negatives 0 >"$out/log" 2>&1
    # "trained 70 steps in 26.9s (...)" and the fine-tuned row of the eval table
    rs=$(sed -n 's/^trained \([0-9]*\) steps in \([0-9.]*\)s.*/\2 \1/p' "$out/log")
    rr1=$(awk -F'|' '$2 ~ /fine-tuned/ {print $3 + 0}' "$out/log")
    echo "| $loss | $r | retune | ${rs% *} | ${rs#* } | $rr1 | $(($(tail -1 "$out/rss") / 1024)) |"
    awk -v a="$s" -v b="${rs% *}" 'BEGIN { printf "| %s | %s | retune / sentence-transformers | %.2fx | | | |\n", "'"$loss"'", "'"$r"'", b / a }'
  done
done
