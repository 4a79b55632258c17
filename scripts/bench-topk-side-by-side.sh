#!/usr/bin/env bash
# Exact top-k side by side: retune's bench-topk on both kernels (f32 gemm; AMX bf16 screen +
# exact rescore, which falls back to gemm on CPUs without AMX) and numpy's
# chunked `q @ d.T` + `argpartition`, same sizes, same machine, one after the other.
# Installs numpy into .retune-cache/bench-venv on first use. CI does not run this.
#
#   scripts/bench-topk-side-by-side.sh [QUERIES] [DOCS] [DIM] [K]
set -euo pipefail
q=${1:-20000}; d=${2:-200000}; dim=${3:-384}; k=${4:-10}
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.retune-cache/bench-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet numpy
fi
cd "$root"
cargo build --release -q -p retune-examples --bin retune
secs() { printf '%s\n' "$1" | tail -1 | awk -F'|' '{gsub(/ /, "", $8); print $8}'; }
gemm=$(./target/release/retune bench topk --queries "$q" --docs "$d" --dim "$dim" --k "$k" --kernel gemm | tee /dev/stderr)
amx=$(./target/release/retune bench topk --queries "$q" --docs "$d" --dim "$dim" --k "$k" --kernel amx | tee /dev/stderr)
rs=$(secs "$gemm")
ra=$(secs "$amx")
np=$("$venv/bin/python" - "$q" "$d" "$dim" "$k" <<'PY'
import sys, time
import numpy as np
q, d, dim, k = map(int, sys.argv[1:])
rng = np.random.default_rng(0)
def unit(n):
    x = rng.uniform(-1, 1, size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)
Q, D = unit(q), unit(d)
t = time.perf_counter()
chunk = 256
for s in range(0, q, chunk):
    scores = Q[s:s + chunk] @ D.T
    idx = np.argpartition(-scores, k, axis=1)[:, :k]
    top = np.take_along_axis(scores, idx, axis=1)
    order = np.argsort(-top, axis=1)
    np.take_along_axis(idx, order, axis=1)
print(f"{time.perf_counter() - t:.2f}")
PY
)
gflop=$(python3 -c "print(2*$q*$d*$dim/1e9)")
printf '\n| engine | seconds | GFLOP/s |\n|---|---|---|\n'
printf '| retune (gemm, f32) | %s | %.1f |\n' "$rs" "$(python3 -c "print($gflop/$rs)")"
printf '| retune (%s) | %s | %.1f |\n' "$(printf '%s\n' "$amx" | tail -1 | awk -F'|' '{gsub(/ /, "", $2); print $2}')" "$ra" "$(python3 -c "print($gflop/$ra)")"
printf '| numpy %s | %s | %.1f |\n' "$("$venv/bin/python" -c 'import numpy; print(numpy.__version__)')" "$np" "$(python3 -c "print($gflop/$np)")"
printf 'numpy / retune time ratio: %.2f (gemm), %.2f (amx)\n' "$(python3 -c "print($np/$rs)")" "$(python3 -c "print($np/$ra)")"
