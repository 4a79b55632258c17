#!/usr/bin/env bash
# Real clients against a running `retune serve`: the `openai` Python SDK's
# `client.embeddings.create` (base64, its default, and float) and huggingface_hub's
# `InferenceClient(base_url).feature_extraction`, each checked against what `retune embed`
# wrote for the same texts.
#
#   scripts/serve-clients.sh URL EXPECTED.jsonl     # key, if the server has one: RETUNE_API_KEY
#
# The clients are installed on first use into .retune-cache/client-venv (pinned versions, about
# 100 MB, from PyPI).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
url="${1:?usage: serve-clients.sh URL EXPECTED.jsonl}"
expected="${2:?usage: serve-clients.sh URL EXPECTED.jsonl}"
venv="$root/.retune-cache/client-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import openai, huggingface_hub, numpy" 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet "openai==3.63.0" "huggingface_hub==2.5.0" "numpy==2.4.6" >&2
fi
exec "$venv/bin/python" "$root/scripts/serve/clients.py" "$url" "$expected"
