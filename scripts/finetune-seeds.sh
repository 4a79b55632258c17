#!/usr/bin/env bash
# One recipe of `finetune` on the course data over several seeds, the way docs/benchmarks.md
# ranks recipes: train on train_transactions.jsonl (its first 20% held out for validation),
# measure on eval_transactions.jsonl against the 27 category names. Prints one table row per
# seed (best validation MRR@10 and its step, eval R@1 / R@3 / R@5 / MRR@5, training seconds)
# and the means. Extra arguments go to `finetune` as they are. CI does not run this.
#
#   SEEDS="0 1 2" scripts/finetune-seeds.sh [finetune flags...]
# MODEL=M runs another base model (a folder or a Hub id in the Hugging Face cache; default
# all-MiniLM-L6-v2).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${RETUNE_SHARED:-$root/../shared}
data="$shared/data/seed-week2"
seeds=${SEEDS:-0 1 2}
cd "$root"
cargo build --release -q -p retune-examples --bin retune
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "| flags | seed | best validation MRR@10 (step) | eval R@1 | R@3 | R@5 | MRR@5 | validated run's eval R@1 | training s |"
echo "|---|---|---|---|---|---|---|---|---|"
rows=()
for s in $seeds; do
  log="$out/run-$s.log"
  target/release/retune finetune --model "${MODEL:-$shared/models/all-MiniLM-L6-v2}" \
    --train "$data/train_transactions.jsonl" --corpus "$data/categories.json" \
    --eval "$data/eval_transactions.jsonl" --output "$out/model-$s" --checkpoints false \
    --seed "$s" "$@" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
  # "trained N steps in S s (...); best validation mrr@10: VALUE at step STEP"
  read -r secs step val < <(sed -nE 's/^trained [0-9]+ steps in ([0-9.]+)s .*: ([0-9.]+) at step ([0-9]+)$/\1 \3 \2/p' "$log")
  # The last "fine-tuned" row is the saved model (the refit, when there is one).
  read -r r1 r3 r5 m5 < <(awk -F'|' '/^\| fine-tuned/{r = $3 " " $4 " " $5 " " $6} END {print r}' "$log")
  # With a refit, the validated run (the model it would have saved without) is measured too.
  v1=$(awk -F'|' '/^\| fine-tuned, validated run/{print $3}' "$log")
  refit=$(sed -nE 's/^refit: trained [0-9]+ steps in ([0-9.]+)s.*/\1/p' "$log")
  printf '| %s | %s | %.4f (step %s) | %s | %s | %s | %s | %s | %s%s |\n' "$*" "$s" "$val" "$step" "$r1" "$r3" "$r5" "$m5" "${v1:- -}" "$secs" "${refit:+ + $refit}"
  rows+=("$val $r1 $r3 $r5 $m5 ${v1:-0}")
done
printf '%s\n' "${rows[@]}" | awk -v flags="$*" '{for (i = 1; i <= 6; i++) s[i] += $i; n++}
  END {printf "| **%s, mean of %d** | | **%.4f** | **%.4f** | %.4f | %.4f | %.4f | %.4f | |\n", flags, n, s[1]/n, s[2]/n, s[3]/n, s[4]/n, s[5]/n, s[6]/n}'
