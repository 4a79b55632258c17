#!/usr/bin/env bash
# Writes a random-weight model of a real family's size (for the side-by-side speed benchmarks'
# --model): xlm-roberta-base, modernbert-base or qwen3-0.6b. See scripts/reference/make_bench_model.py.
#
#   scripts/make-bench-model.sh modernbert-base /tmp/modernbert-base
#   scripts/bench-encode-side-by-side.sh --model /tmp/modernbert-base --st
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/st-venv.sh
. "$root/scripts/st-venv.sh"
exec "$(st_python)" "$root/scripts/reference/make_bench_model.py" "$@"
