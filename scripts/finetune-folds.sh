#!/usr/bin/env bash
# One recipe of `finetune` on the course data, cross-validated: the training file's rows are cut
# into FOLDS equal blocks and each block in turn is moved to the front and held out as the
# validation split (`--validation-ratio 1/FOLDS`), so every training row validates once. 52
# validation rows carry about +-0.03 of MRR@10; FOLDS blocks together carry sqrt(FOLDS) times
# less. Prints one row per fold (best validation MRR@10, eval R@1) and the means. Fold 0 is
# `finetune`'s own split (the first 20% with FOLDS=5). Extra arguments go to `finetune`. CI
# does not run this.
#
#   FOLDS=5 ONLY="1 2 3 4" scripts/finetune-folds.sh [finetune flags...]
# MODEL=M runs another base model (a folder or a Hub id in the Hugging Face cache; default
# all-MiniLM-L6-v2).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${RETUNE_SHARED:-$root/../shared}
data="$shared/data/seed-week2"
folds=${FOLDS:-5}
only=${ONLY:-$(seq 0 $((folds - 1)))}
cd "$root"
cargo build --release -q -p retune-examples --bin retune
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
n=$(wc -l <"$data/train_transactions.jsonl")
echo "| flags | fold | validation rows | best validation MRR@10 (step) | eval R@1 | R@5 | validated run's eval R@1 | training s |"
echo "|---|---|---|---|---|---|---|---|"
rows=()
for k in $only; do
  lo=$((k * n / folds)); hi=$(((k + 1) * n / folds))
  # The fold's rows first, then the others in their order.
  { sed -n "$((lo + 1)),${hi}p" "$data/train_transactions.jsonl"
    sed "$((lo + 1)),${hi}d" "$data/train_transactions.jsonl"; } >"$out/train-$k.jsonl"
  ratio=$(awk -v h=$((hi - lo)) -v n="$n" 'BEGIN {printf "%.6f", h / n}')
  log="$out/run-$k.log"
  target/release/retune finetune --model "${MODEL:-$shared/models/all-MiniLM-L6-v2}" \
    --train "$out/train-$k.jsonl" --validation-ratio "$ratio" --corpus "$data/categories.json" \
    --eval "$data/eval_transactions.jsonl" --output "$out/model-$k" --checkpoints false \
    "$@" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
  grep -q "validation $((hi - lo)) " "$log" || { echo "fold $k: expected $((hi - lo)) validation rows" >&2; cat "$log" >&2; exit 1; }
  read -r secs step val < <(sed -nE 's/^trained [0-9]+ steps in ([0-9.]+)s .*: ([0-9.]+) at step ([0-9]+)$/\1 \3 \2/p' "$log")
  # The last "fine-tuned" row is the saved model (the refit, when there is one).
  read -r r1 r5 < <(awk -F'|' '/^\| fine-tuned/{r = $3 " " $5} END {print r}' "$log")
  # With a refit, the validated run (the model it would have saved without) is measured too.
  v1=$(awk -F'|' '/^\| fine-tuned, validated run/{print $3}' "$log")
  refit=$(sed -nE 's/^refit: trained [0-9]+ steps in ([0-9.]+)s.*/\1/p' "$log")
  printf '| %s | %s | %s | %.4f (step %s) | %s | %s | %s | %s%s |\n' "$*" "$k" "$((hi - lo))" "$val" "$step" "$r1" "$r5" "${v1:- -}" "$secs" "${refit:+ + $refit}"
  rows+=("$val $r1 $r5 ${v1:-0}")
done
printf '%s\n' "${rows[@]}" | awk -v flags="$*" '{for (i = 1; i <= 4; i++) s[i] += $i; n++}
  END {printf "| **%s, mean of %d folds** | | | **%.4f** | %.4f | %.4f | %.4f | |\n", flags, n, s[1]/n, s[2]/n, s[3]/n, s[4]/n}'
