# Sourced by the side-by-side benchmarks' `--model M`: where a model folder or a Hub id in the
# standard Hugging Face cache lies, and its linear layers' FLOPs per token.
model_dir() {
  if [ -d "$1" ]; then echo "$1"; return; fi
  local cache="${HF_HUB_CACHE:-${HF_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/huggingface}/hub}"
  local repo="$cache/models--${1//\//--}"
  [ -f "$repo/refs/main" ] || { echo "error: $1 is neither a folder nor in $cache (scripts/install-model.sh $1)" >&2; return 1; }
  echo "$repo/snapshots/$(cat "$repo/refs/main")"
}
# Forward linear-layer FLOPs per token: layers x 2 x (attention projections + feed-forward):
# 4 h^2 + 2 h i for BERT-shaped models, 4 h^2 + 3 h i for ModernBERT's GeGLU, and Qwen3's
# grouped query/key/value heads with a 3-matrix SwiGLU.
linear_flops_per_token() {
  python3 - "$1/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
h, i, t = c["hidden_size"], c["intermediate_size"], c.get("model_type")
if t == "modernbert":
    per = 4 * h * h + 3 * h * i
elif t == "qwen3":
    d = c.get("head_dim") or h // c["num_attention_heads"]
    q, kv = c["num_attention_heads"] * d, c.get("num_key_value_heads", c["num_attention_heads"]) * d
    per = 2 * h * q + 2 * h * kv + 3 * h * i
else:
    per = 4 * h * h + 2 * h * i
print(c["num_hidden_layers"] * 2 * per)
PY
}
# Sets `dir`, `flops_per_token` and `minilm` (1 for all-MiniLM-L6-v2, whose scaled anchors the
# benchmarks print) for the model argument $1.
bench_model() {
  dir=$(model_dir "$1")
  flops_per_token=$(linear_flops_per_token "$dir")
  minilm=0
  case "$1" in *all-MiniLM-L6-v2) minilm=1 ;; esac
}
