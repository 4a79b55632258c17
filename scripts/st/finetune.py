"""sentence-transformers' recipe on the course data, timed: the anchors' run, reproduced here.

Train on TRAIN minus its first 20% (held out as retune holds out its validation split), pairs
(input, expected[0]) or (input, label) for BatchSemiHardTripletLoss; 5 epochs, batch 16, lr 2e-5,
warmup 0.1, NO_DUPLICATES (GROUP_BY_LABEL for the triplet loss), seed 0, 2 threads. Then
evaluates on EVAL against the category names of CORPUS (cosine). Prints one line: training
seconds, steps, R@1, R@3, R@5, MRR@5 and the process' peak resident memory in MB.
With a sixth argument `validate`, the held-out rows are also evaluated (MRR@10 against the
category names) after every epoch, as retune's `finetune` validates, so both do the same work.
python finetune.py MODEL TRAIN CORPUS EVAL mnrl|semihard [validate]
"""
import json, resource, sys, time

import torch
from datasets import Dataset
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer import losses
from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator
from sentence_transformers.sentence_transformer.trainer import SentenceTransformerTrainer
from sentence_transformers.sentence_transformer.training_args import (
    BatchSamplers,
    SentenceTransformerTrainingArguments,
)

torch.set_num_threads(2)
model_dir, train_path, corpus_path, eval_path, loss_name = sys.argv[1:6]
rows = [json.loads(line) for line in open(train_path)]
held_out, rows = rows[:len(rows) // 5], rows[len(rows) // 5:]
validate = len(sys.argv) > 6 and sys.argv[6] == "validate"
names = [c["category"] for c in json.load(open(corpus_path))]
m = SentenceTransformer(model_dir, device="cpu")
if loss_name == "mnrl":
    data = Dataset.from_dict({"anchor": [r["input"] for r in rows],
                              "positive": [r["expected"][0] for r in rows]})
    loss = losses.MultipleNegativesRankingLoss(m)
    sampler = BatchSamplers.NO_DUPLICATES
else:
    data = Dataset.from_dict({"sentence": [r["input"] for r in rows],
                              "label": [names.index(r["expected"][0]) for r in rows]})
    loss = losses.BatchSemiHardTripletLoss(m)
    sampler = BatchSamplers.GROUP_BY_LABEL
evaluator = None
if validate:
    evaluator = InformationRetrievalEvaluator(
        queries={str(i): r["input"] for i, r in enumerate(held_out)},
        corpus={str(j): n for j, n in enumerate(names)},
        relevant_docs={str(i): {str(names.index(r["expected"][0]))} for i, r in enumerate(held_out)},
        mrr_at_k=[10], ndcg_at_k=[10], accuracy_at_k=[1, 3, 5, 10], precision_recall_at_k=[1, 3, 5, 10],
        map_at_k=[10], show_progress_bar=False)
args = SentenceTransformerTrainingArguments(
    output_dir="/tmp/st-finetune", num_train_epochs=5, per_device_train_batch_size=16,
    learning_rate=2e-5, warmup_ratio=0.1, batch_sampler=sampler, seed=0, save_strategy="no",
    report_to=[], logging_steps=1000, use_cpu=True, disable_tqdm=True, eval_strategy="epoch" if validate else "no")
trainer = SentenceTransformerTrainer(model=m, args=args, train_dataset=data, loss=loss,
                                     evaluator=evaluator)
t = time.perf_counter()
out = trainer.train()
seconds = time.perf_counter() - t
m.eval()
ev = [json.loads(line) for line in open(eval_path)]
q = m.encode([r["input"] for r in ev], normalize_embeddings=True, convert_to_tensor=True)
d = m.encode(names, normalize_embeddings=True, convert_to_tensor=True)
order = (q @ d.T).argsort(dim=1, descending=True)
ranks = [order[i].tolist().index(names.index(r["expected"][0])) + 1 for i, r in enumerate(ev)]
r_at = lambda k: sum(r <= k for r in ranks) / len(ranks)
mrr5 = sum(1 / r for r in ranks if r <= 5) / len(ranks)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{seconds:.1f} {out.global_step} {r_at(1):.4f} {r_at(3):.4f} {r_at(5):.4f} {mrr5:.4f} {rss:.0f}")
