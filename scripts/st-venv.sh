# Sourced by the side-by-side benchmarks' `--st` mode: `st_python` prints the path of a Python
# with torch and sentence-transformers 6.2 (the anchors' versions), installed on first use into
# .retune-cache/st-venv: torch's CPU wheel from download.pytorch.org where that index answers,
# else PyPI's default wheel (its CUDA libraries are unused on CPU; ~6 GB of disk).
st_python() {
  local st="$root/.retune-cache/st-venv"
  if [ ! -x "$st/bin/python" ] || ! "$st/bin/python" -c "import sentence_transformers, datasets" 2>/dev/null; then
    python3 -m venv "$st" >&2
    if curl -fsS -m 20 -o /dev/null https://download.pytorch.org/whl/cpu/torch/ 2>/dev/null; then
      "$st/bin/pip" install --quiet torch==2.15.0 --index-url https://download.pytorch.org/whl/cpu >&2
    else
      "$st/bin/pip" install --quiet torch==2.15.0 >&2
    fi
    "$st/bin/pip" install --quiet sentence-transformers==6.2.0 datasets accelerate >&2
  fi
  echo "$st/bin/python"
}
