#!/usr/bin/env bash
# Real clients against a running `retune serve`: the `openai` Python SDK's
# `client.embeddings.create` (base64, its default, and float) and huggingface_hub's
# `InferenceClient(base_url).feature_extraction`, each checked against what `retune embed`
# wrote for the same texts.
#
#   scripts/serve-clients.sh URL EXPECTED.jsonl     # key, if the server has one: RETUNE_API_KEY
#
# The clients are installed on first use from PyPI (pinned versions, about 100 MB) into
# .retune-cache/client-venv, or, where Python has no venv module, into .retune-cache/client-py.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
url="${1:?usage: serve-clients.sh URL EXPECTED.jsonl}"
expected="${2:?usage: serve-clients.sh URL EXPECTED.jsonl}"
packages=("openai==3.63.0" "huggingface_hub==2.5.0" "numpy==2.4.6")
check='import openai, huggingface_hub, numpy'
venv="$root/.retune-cache/client-venv"
target="$root/.retune-cache/client-py"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$check" 2>/dev/null; then
  python="$venv/bin/python"
elif [ -d "$target" ] && PYTHONPATH="$target" python3 -c "$check" 2>/dev/null; then
  python=python3; export PYTHONPATH="$target"
elif python3 -m venv "$venv" >&2 2>/dev/null && [ -x "$venv/bin/pip" ]; then
  "$venv/bin/pip" install --quiet "${packages[@]}" >&2
  python="$venv/bin/python"
else
  rm -rf "$venv"
  python3 -m pip install --quiet --target "$target" "${packages[@]}" >&2
  python=python3; export PYTHONPATH="$target"
fi
exec "$python" "$root/scripts/serve/clients.py" "$url" "$expected"
