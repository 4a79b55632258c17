"""PyTorch's MNRL training steps, shaped as retune's `bench-train` shapes them.

Same-category pairs of distinct transactions from a course file (file order), one untimed
warm-up step on the first batch, then STEPS timed optimizer steps (MNRL scale 20, AdamW lr 2e-5
with 10% warmup, clipping at 1.0, dropout on) over the next STEPS batches. Prints one line:
seconds per step, tokens/s (tokens without padding, as retune counts them) and the process'
peak resident memory in MB.  python train_step.py MODEL TRAIN BATCH STEPS
"""
import json, resource, sys, time

import torch
from sentence_transformers import SentenceTransformer, losses
from transformers import get_linear_schedule_with_warmup

torch.set_num_threads(2)
torch.manual_seed(0)
model, path, batch, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
items = [json.loads(line) for line in open(path)]
pairs = []
for i, a in enumerate(items):
    cat = a["expected"][0]
    order = items[i + 1:] + items[:i]
    partner = next((b for b in order if b["expected"][0] == cat and b["input"] != a["input"]), None)
    if partner is not None:
        pairs.append((a["input"], partner["input"]))
need = batch * (steps + 1)
assert len(pairs) >= need, f"{len(pairs)} pairs, {need} needed"
m = SentenceTransformer(model, device="cpu")
loss = losses.MultipleNegativesRankingLoss(m, scale=20.0)
opt = torch.optim.AdamW(m.parameters(), lr=2e-5, eps=1e-6, weight_decay=0.01)
sched = get_linear_schedule_with_warmup(opt, max(1, int(0.1 * steps)), steps)
m.train()


def step(chunk):
    a = m.tokenize([x for x, _ in chunk])
    p = m.tokenize([y for _, y in chunk])
    opt.zero_grad()
    loss([a, p], None).backward()
    torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
    opt.step()
    sched.step()


step(pairs[:batch])
timed = pairs[batch:need]
tok = m.tokenizer
tokens = sum(len(tok(x)["input_ids"]) + len(tok(y)["input_ids"]) for x, y in timed)
t = time.perf_counter()
for s in range(steps):
    step(timed[s * batch:(s + 1) * batch])
seconds = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{seconds / steps:.3f} {tokens / seconds:.0f} {rss:.0f}")
