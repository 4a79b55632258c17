# Sourced by the side-by-side benchmarks: `gemm_rate` prints this machine's fp32 GEMM rate in
# GFLOP/s right now (numpy's OpenBLAS, 2 threads, the encoder's largest product, best of 5),
# from a virtualenv with numpy made in $venv on first use. The machines are shared and their
# speed drifts, so anchors measured elsewhere are scaled by it.
venv="$root/.retune-cache/bench-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet numpy
fi
gemm_rate() {
  OPENBLAS_NUM_THREADS=2 "$venv/bin/python" - <<'PY'
import time, numpy as np
a = np.random.rand(1344, 384).astype(np.float32); b = np.random.rand(384, 1536).astype(np.float32)
best = 0.0
for _ in range(5):
    t = time.perf_counter()
    for _ in range(10): a @ b
    best = max(best, 2 * 1344 * 384 * 1536 * 10 / (time.perf_counter() - t) / 1e9)
print(f"{best:.1f}")
PY
}
