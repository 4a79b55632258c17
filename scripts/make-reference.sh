#!/usr/bin/env bash
# Rewrites fixtures/reference/ (the tests' reference outputs) with the real tools:
# sentence-transformers and torch from scripts/st-venv.sh, trec_eval through pytrec_eval-terrier,
# and the real all-MiniLM-L6-v2 / all-mpnet-base-v2 from scripts/install-model.sh. Seeded: the
# same versions write the same values. Pass parts to rewrite only those:
#
#   scripts/make-reference.sh                   # everything
#   scripts/make-reference.sh trec losses       # parts: trec losses minilm mpnet tiny modernbert qwen3
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/st-venv.sh
. "$root/scripts/st-venv.sh"
py="$(st_python)"
"$py" -c "import pytrec_eval" 2>/dev/null || "$(dirname "$py")/pip" install --quiet pytrec-eval-terrier==0.5.11 >&2
for id in sentence-transformers/all-MiniLM-L6-v2 sentence-transformers/all-mpnet-base-v2; do
  "$root/scripts/install-model.sh" "$id"
done
exec "$py" "$root/scripts/reference/make_reference.py" "$@"
