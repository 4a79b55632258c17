"""sentence-transformers' encoding speed on a JSONL field, for the side-by-side benchmarks.

Prints one line: texts/s at each batch size (best of N after a warm-up) and the process'
peak resident memory in MB.  python encode.py MODEL INPUT FIELD [REPEATS]
"""
import json, resource, sys, time

import torch
from sentence_transformers import SentenceTransformer

torch.set_num_threads(2)
model, path, field = sys.argv[1:4]
repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 5
m = SentenceTransformer(model, device="cpu")
texts = [json.loads(line)[field] for line in open(path)]
out = []
for batch in (1, 8, 32):
    m.encode(texts[:batch], batch_size=batch)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        m.encode(texts, batch_size=batch)
        best = min(best, time.perf_counter() - t)
    out.append(f"{len(texts) / best:.1f}")
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(" ".join(out), f"{rss:.0f}")
