"""Writes the reference outputs the tests compare against, with the real tools, into fixtures/reference/.

Run through scripts/make-reference.sh, which supplies a Python with torch, sentence-transformers and
pytrec_eval-terrier (scripts/st-venv.sh). Every output is seeded and names the versions that made it;
rerunning on the same versions rewrites the same values (the tiny models' tokenizers are trained once
and kept; see tokenizer()). Inputs are the project's own fixtures
(fixtures/domain/), never the course's data.

  trec_eval_cases.json          random qrels/runs and trec_eval's per-query values (pytrec_eval)
  st_loss_cases.json            sentence-transformers' losses and input gradients on fixed embeddings (float64)
  minilm_embeddings.json        all-MiniLM-L6-v2's embeddings of the texts below
  mpnet_embeddings.json         all-mpnet-base-v2's embeddings of the same texts
  arch/tiny-mpnet/, arch/tiny-xlm-roberta/, arch/tiny-xlm-roberta-reranker/,
  arch/tiny-modernbert/, arch/tiny-modernbert-reranker/, arch/tiny-qwen3/
                                seeded random models with tokenizers trained on the fixture texts,
  arch/NAME.reference.json      their token ids, embeddings (or re-ranker scores), MNRL loss,
  arch/NAME.mnrl_grads.safetensors  and every parameter's gradient of that loss
"""

import hashlib
import json
import os
import random
import sys
from pathlib import Path

import numpy as np
import pytrec_eval
import sentence_transformers
import torch
import transformers
from safetensors.torch import save_file
from sentence_transformers import CrossEncoder, SentenceTransformer, models
from sentence_transformers.sentence_transformer import losses
from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors, trainers
from tokenizers import models as tok_models

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "fixtures" / "reference"
VERSIONS = (
    f"transformers {transformers.__version__}, sentence-transformers {sentence_transformers.__version__}, "
    f"torch {torch.__version__}, pytrec_eval-terrier {getattr(pytrec_eval, '__version__', '0.5.11')}"
)
MADE_BY = f"scripts/reference/make_reference.py with {VERSIONS}"


def write_json(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, ensure_ascii=False, indent=None) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes)", file=sys.stderr)


# ---------------------------------------------------------------- texts


def render(t):
    """The course's rendering of a transaction (retune_data::Transaction::render)."""
    trip = t["trip_name"] if t["trip_name"] is not None else "unknown"
    return (
        f"\nName : {t['merchant_name']}\nCategory: {', '.join(t['merchant_category'])}\n"
        f"Department: {t['department']}\nLocation: {t['location']}\nAmount: {t['amount']!r}\n"
        f"Card: {t['spend_program_name']}\nTrip Name: {trip}\n"
    )


def domain():
    rows = [json.loads(l) for l in (ROOT / "fixtures/domain/transactions.jsonl").read_text().splitlines() if l]
    cats = [c["category"] for c in json.loads((ROOT / "fixtures/domain/categories.json").read_text())]
    return rows, cats


def reference_texts():
    """Transactions, category names, other scripts with emoji, the empty string, one letter, and a
    text far longer than any max_seq_length here."""
    rows, cats = domain()
    long = " ".join(["recurring cloud invoice for the analytics cluster and its backups"] * 60)
    return (
        [render(r) for r in rows[:12]]
        + cats[:4]
        + ["Überweisung an Müller GmbH — Büromaterial, 12,50 €", "東京駅 タクシー 2,400円 🚕", "", "a", long]
    )


def training_pairs(n):
    rows, _ = domain()
    return [(render(r), r["expense_category"]) for r in rows[:n]]


# ---------------------------------------------------------------- trec_eval

CUTS = [1, 3, 5, 10]


def trec_case(rng, case_id, graded):
    qrels, run = {}, {}
    for q in range(rng.randint(2, 4)):
        qid = f"q{q}"
        ndocs = rng.randint(3, 22)
        scores = rng.sample(range(100, 10000), ndocs)
        run[qid] = {f"d{i}": s / 100 for i, s in enumerate(scores)}
        rel = {}
        for d in rng.sample(range(ndocs), rng.randint(1, min(5, ndocs))):
            rel[f"d{d}"] = rng.randint(1, 3) if graded else 1
        if graded and rng.random() < 0.5:
            rel[f"d{rng.randrange(ndocs)}"] = 0
        if rng.random() < 0.4:
            rel["missing1"] = rng.randint(1, 3) if graded else 1
        if not any(v > 0 for v in rel.values()):
            rel["d0"] = 1
        qrels[qid] = rel
    cut = ",".join(map(str, CUTS))
    measures = {f"P.{cut}", f"recall.{cut}", f"ndcg_cut.{cut}", f"map_cut.{cut}", f"success.{cut}", "map", "recip_rank", "ndcg"}
    full = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    expected = {}
    for qid, values in full.items():
        e = {}
        for k in CUTS:
            top = dict(sorted(run[qid].items(), key=lambda kv: -kv[1])[:k])
            rr = pytrec_eval.RelevanceEvaluator({qid: qrels[qid]}, {"recip_rank"}).evaluate({qid: top})
            e.update(
                {
                    f"precision@{k}": values[f"P_{k}"],
                    f"recall@{k}": values[f"recall_{k}"],
                    f"ndcg@{k}": values[f"ndcg_cut_{k}"],
                    f"map@{k}": values[f"map_cut_{k}"],
                    f"hit_rate@{k}": values[f"success_{k}"],
                    f"mrr@{k}": rr[qid]["recip_rank"] if rr else 0.0,
                }
            )
        e.update({"map": values["map"], "mrr": values["recip_rank"], "ndcg": values["ndcg"]})
        expected[qid] = e
    return {"id": case_id, "graded": graded, "qrels": qrels, "run": run, "expected": expected}


def trec_eval_cases():
    rng = random.Random(20261207)
    cases = [trec_case(rng, i, graded=i % 2 == 1) for i in range(40)]
    write_json(
        OUT / "trec_eval_cases.json",
        {
            "generator": f"trec_eval via {MADE_BY}",
            "notes": "scores are distinct (no ties); @k metrics use trec_eval's cut measures (P_k, recall_k, "
            "ndcg_cut_k, map_cut_k, success_k); mrr@k is recip_rank on the run truncated to its top k; recall "
            "denominators count every relevant doc in qrels, retrieved or not (missing1 is never retrieved); "
            "grade 0 is judged non-relevant; ndcg's gain is the grade with a log2(rank+1) discount",
            "cases": cases,
        },
    )


# ---------------------------------------------------------------- losses


def loss_cases(model):
    torch.manual_seed(7)
    cases = []
    for batch, dim in [(4, 8), (8, 16)]:
        labels = [i % (batch // 2) for i in range(batch)]
        specs = [
            ("mnrl", {"scale": 20.0, "similarity": "cosine"}, 2),
            ("mnrl", {"scale": 20.0, "similarity": "cosine"}, 3),
            ("mnrl", {"scale": 50.0, "similarity": "cosine"}, 3),
            ("triplet", {"distance": "euclidean", "margin": 5.0}, 3),
            ("triplet", {"distance": "cosine", "margin": 0.5}, 3),
            ("batch_semi_hard_triplet", {"distance": "euclidean", "margin": 5.0}, 1),
            ("batch_hard_triplet", {"distance": "euclidean", "margin": 5.0}, 1),
            ("batch_all_triplet", {"distance": "euclidean", "margin": 5.0}, 1),
            ("batch_semi_hard_triplet", {"distance": "euclidean", "margin": 0.3}, 1),
        ]
        for name, params, n in specs:
            inputs = [torch.randn(batch, dim, dtype=torch.float64, requires_grad=True) for _ in range(n)]
            value = st_loss(model, name, params, inputs, torch.tensor(labels))
            grads = torch.autograd.grad(value, inputs)
            cases.append(
                {
                    "loss": name,
                    "params": params,
                    "inputs": [x.detach().tolist() for x in inputs],
                    "labels": labels if n == 1 else None,
                    "value": value.item(),
                    "grads": [g.tolist() for g in grads],
                }
            )
    write_json(
        OUT / "st_loss_cases.json",
        {
            "generator": f"compute_loss_from_embeddings in float64, {MADE_BY}",
            "notes": "inputs are raw (unnormalized) embeddings: inputs[0]=anchors, inputs[1]=positives, "
            "inputs[2]=negatives where present; for batch_* losses inputs[0] are the embeddings and labels "
            "their classes; grads are d(value)/d(inputs[i])",
            "cases": cases,
        },
    )


def st_loss(model, name, params, inputs, labels):
    if name == "mnrl":
        loss = losses.MultipleNegativesRankingLoss(model, scale=params["scale"])
    elif name == "triplet":
        metric = {
            "euclidean": losses.TripletDistanceMetric.EUCLIDEAN,
            "cosine": losses.TripletDistanceMetric.COSINE,
        }[params["distance"]]
        loss = losses.TripletLoss(model, distance_metric=metric, triplet_margin=params["margin"])
    else:
        cls = {
            "batch_semi_hard_triplet": losses.BatchSemiHardTripletLoss,
            "batch_hard_triplet": losses.BatchHardTripletLoss,
            "batch_all_triplet": losses.BatchAllTripletLoss,
        }[name]
        loss = cls(model, margin=params["margin"])
    return loss.compute_loss_from_embeddings(inputs, labels)


# ---------------------------------------------------------------- real models


def hub_snapshot(model_id):
    cache = Path(
        os.environ.get("HF_HUB_CACHE")
        or Path(os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface") / "hub"
    )
    repo = cache / ("models--" + model_id.replace("/", "--"))
    rev = (repo / "refs" / "main").read_text().strip()
    return repo / "snapshots" / rev


def real_model_embeddings(model_id, out_name, texts):
    folder = hub_snapshot(model_id)
    model = SentenceTransformer(str(folder), device="cpu")
    emb = model.encode(texts, batch_size=32, convert_to_numpy=True)
    sha = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    write_json(
        OUT / out_name,
        {
            "model": model_id,
            "model_safetensors_sha256": sha,
            "normalized": True,
            "max_seq_length": model.max_seq_length,
            "made_by": MADE_BY,
            "texts": texts,
            "embeddings": emb.tolist(),
        },
    )
    return model


# ---------------------------------------------------------------- tiny models

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
# ModernBERT's byte-level BPE: [CLS] = 1, [SEP] = 2, [PAD] = 3 as in its config.
BPE_SPECIALS = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
# Qwen3's: <|endoftext|> = 0 ends every text and pads (on the left).
QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def tokenizer(kind, corpus, folder):
    """The tokenizer committed in `folder`, else one trained on `corpus`. Training is not
    reproducible (the trainers iterate hash maps), so a tokenizer is trained once and kept:
    delete the folder's tokenizer.json to train a new one."""
    saved = folder / "tokenizer.json"
    tok = Tokenizer.from_file(str(saved)) if saved.exists() else train_tokenizer(kind, corpus)
    if kind == "bpe":
        names = dict(bos_token="[CLS]", eos_token="[SEP]", cls_token="[CLS]", sep_token="[SEP]",
                     unk_token="[UNK]", pad_token="[PAD]", mask_token="[MASK]")
    elif kind == "qwen":
        names = dict(eos_token="<|endoftext|>", pad_token="<|endoftext|>", padding_side="left")
    else:
        names = dict(bos_token="<s>", eos_token="</s>", cls_token="<s>", sep_token="</s>",
                     unk_token="<unk>", pad_token="<pad>", mask_token="<mask>")
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=128, **names)


def train_bpe(corpus, specials, unk, single, pair, template_ids):
    tok = Tokenizer(tok_models.BPE(unk_token=unk))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1200, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(corpus, trainer)
    state = json.loads(tok.to_str())["model"]
    rest = sorted(t for t in state["vocab"] if t not in specials)
    vocab = {t: i for i, t in enumerate(specials + rest)}
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in state["merges"]]
    tok.model = tok_models.BPE(vocab=vocab, merges=merges, unk_token=unk)
    tok.post_processor = processors.TemplateProcessing(single=single, pair=pair, special_tokens=template_ids)
    return tok


def train_tokenizer(kind, corpus):
    if kind == "bpe":
        return train_bpe(corpus, BPE_SPECIALS, "[UNK]", "[CLS] $A [SEP]", "[CLS] $A [SEP] $B [SEP]",
                         [("[CLS]", 1), ("[SEP]", 2)])
    if kind == "qwen":
        return train_bpe(corpus, QWEN_SPECIALS, None, "$A <|endoftext|>", "$A <|endoftext|> $B <|endoftext|>",
                         [("<|endoftext|>", 0)])
    if kind == "wordpiece":
        tok = Tokenizer(tok_models.WordPiece(unk_token="<unk>"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=True)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(vocab_size=900, special_tokens=SPECIALS)
    else:
        tok = Tokenizer(tok_models.Unigram())
        tok.normalizer = normalizers.NFKC()
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(vocab_size=900, special_tokens=SPECIALS, unk_token="<unk>")
    tok.train_from_iterator(corpus, trainer)
    tok.model = canonical(kind, tok)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)],
    )
    return tok


def canonical(kind, tok):
    """The trained vocabulary in a fixed order (the trainers number tokens in hash-map order, which
    changes from run to run): special tokens first, then by score (Unigram) and spelling."""
    state = json.loads(tok.to_str())["model"]
    if kind == "wordpiece":
        rest = sorted(t for t in state["vocab"] if t not in SPECIALS)
        vocab = {t: i for i, t in enumerate(SPECIALS + rest)}
        return tok_models.WordPiece(vocab=vocab, unk_token="<unk>", max_input_chars_per_word=100)
    scores = {t: round(s, 6) for t, s in state["vocab"]}
    rest = sorted((t for t in scores if t not in SPECIALS), key=lambda t: (-scores[t], t))
    vocab = [(t, scores[t]) for t in SPECIALS + rest]
    return tok_models.Unigram(vocab, unk_id=SPECIALS.index("<unk>"), byte_fallback=False)


def tokenizer_corpus():
    rows, cats = domain()
    extra = [
        "Überweisung an Müller GmbH für Büromaterial und Reisekosten",
        "東京駅 タクシー 領収書 出張 会議 🚕 ✈️ 🍱",
        "Café au lait, déjeuner d'équipe, hôtel à Genève",
    ]
    return [render(r) for r in rows] + cats + extra * 20


def scale_weights(model, std, seed):
    """Random weights at a trained model's scale: word embeddings dominate positions and biases, so that
    embeddings differ from text to text."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            module = name.rsplit(".", 2)[-2] if name.count(".") else ""
            if name.endswith("bias"):
                p.copy_(0.02 * torch.randn(p.shape, generator=gen))
            elif "LayerNorm" in name or module.endswith("norm"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen))
            elif any(k in name for k in ("word_embeddings", "tok_embeddings", "embed_tokens")):
                p.copy_(torch.randn(p.shape, generator=gen))
            elif "position_embeddings" in name:
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(std * torch.randn(p.shape, generator=gen))


def tiny_config(family, vocab):
    if family == "qwen3":
        return transformers.Qwen3Config(
            vocab_size=vocab,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=8,
            intermediate_size=64,
            max_position_embeddings=512,
            rms_norm_eps=1e-6,
            rope_parameters={"rope_theta": 1000000.0, "rope_type": "default"},
            pad_token_id=0,
            bos_token_id=0,
            eos_token_id=0,
            tie_word_embeddings=True,
            use_cache=False,
        )
    if family == "modernbert":
        return transformers.ModernBertConfig(
            vocab_size=vocab,
            hidden_size=32,
            num_hidden_layers=3,
            num_attention_heads=4,
            intermediate_size=48,
            max_position_embeddings=512,
            pad_token_id=3,
            bos_token_id=1,
            eos_token_id=2,
            cls_token_id=1,
            sep_token_id=2,
            local_attention=16,
            global_attn_every_n_layers=3,
            rope_parameters={
                "full_attention": {"rope_type": "default", "rope_theta": 160000.0},
                "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
            },
            classifier_pooling="cls",
        )
    common = dict(
        vocab_size=vocab,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        layer_norm_eps=1e-5,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        max_position_embeddings=130,
    )
    if family == "mpnet":
        return transformers.MPNetConfig(relative_attention_num_buckets=32, **common)
    return transformers.XLMRobertaConfig(type_vocab_size=1, **common)


def tiny_bi_encoder(name, family, tokenizer, texts, seed, pooling="mean"):
    torch.manual_seed(11)
    folder = OUT / "arch" / name
    config = tiny_config(family, len(tokenizer))
    auto = transformers.AutoModel.from_config(config)
    scale_weights(auto, 0.2, seed=seed)
    tmp = OUT / "arch" / f".{name}-hf"
    auto.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    word = models.Transformer(str(tmp), max_seq_length=128)
    pool = models.Pooling(word.get_word_embedding_dimension(), pooling_mode=pooling)
    model = SentenceTransformer(modules=[word, pool, models.Normalize()], device="cpu")
    model.save(str(folder))
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()
    model = SentenceTransformer(str(folder), device="cpu")
    model.eval()
    ids = [model.tokenize([t])["input_ids"][0].tolist() for t in texts]
    emb32 = model.encode(texts, batch_size=32, convert_to_numpy=True)
    emb1 = model.encode(texts, batch_size=1, convert_to_numpy=True)
    assert np.abs(emb32 - emb1).max() < 1e-4, "batch 32 and batch 1 agree"
    mnrl = mnrl_reference(model, folder.name)
    write_json(
        OUT / "arch" / f"{name}.reference.json",
        {
            "model": name,
            "architecture": config.architectures[0] if config.architectures else type(auto).__name__,
            "pooling": pooling,
            "normalized": True,
            "max_seq_length": 128,
            "made_by": MADE_BY,
            "texts": texts,
            "input_ids": ids,
            "embeddings": emb32.tolist(),
            "mnrl": mnrl,
        },
    )


def mnrl_reference(model, name):
    pairs = training_pairs(4)
    anchors, positives = [a for a, _ in pairs], [p for _, p in pairs]
    loss_fn = losses.MultipleNegativesRankingLoss(model, scale=20.0)
    model.eval()
    model.zero_grad()
    feats = [model.tokenize(anchors), model.tokenize(positives)]
    reps = [model(f)["sentence_embedding"] for f in feats]
    loss = loss_fn.compute_loss_from_embeddings(reps, torch.arange(len(anchors)))
    loss.backward()
    hf = model[0].auto_model
    grads = {n: p.grad.detach().contiguous() for n, p in hf.named_parameters() if p.grad is not None}
    save_file(grads, str(OUT / "arch" / f"{name}.mnrl_grads.safetensors"))
    return {
        "anchors": anchors,
        "positives": positives,
        "scale": 20.0,
        "similarity": "cosine",
        "dropout": "off (eval mode)",
        "loss": loss.item(),
        "gradients": f"{name}.mnrl_grads.safetensors: every parameter's gradient under its Hugging Face name, torch layout",
    }


def tiny_reranker(name, family, tokenizer, seed):
    torch.manual_seed(13)
    folder = OUT / "arch" / name
    config = tiny_config(family, len(tokenizer))
    config.num_labels = 1
    model = transformers.AutoModelForSequenceClassification.from_config(config)
    scale_weights(model, 0.2, seed=seed)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    ce = CrossEncoder(str(folder), max_length=128, device="cpu")
    rows, cats = domain()
    pairs = [[render(r), cats[(i * 7) % len(cats)]] for i, r in enumerate(rows[:6])]
    scores = ce.predict([tuple(p) for p in pairs], activation_fn=torch.nn.Identity(), convert_to_numpy=True)
    write_json(
        OUT / "arch" / f"{name}.reference.json",
        {
            "model": name,
            "architecture": type(model).__name__,
            "made_by": MADE_BY,
            "pairs": pairs,
            "raw_scores": [float(s) for s in scores],
            "activation": "identity (raw logits)",
            "max_length": 128,
        },
    )


def main():
    what = set(sys.argv[1:]) or {"trec", "losses", "minilm", "mpnet", "tiny", "modernbert", "qwen3"}
    texts = reference_texts()
    if "trec" in what:
        trec_eval_cases()
    minilm = None
    if what & {"minilm", "losses"}:
        minilm = real_model_embeddings("sentence-transformers/all-MiniLM-L6-v2", "minilm_embeddings.json", texts)
    if "losses" in what:
        loss_cases(minilm)
    if "mpnet" in what:
        real_model_embeddings("sentence-transformers/all-mpnet-base-v2", "mpnet_embeddings.json", texts)
    if "tiny" in what:
        corpus = tokenizer_corpus()
        arch = OUT / "arch"
        tiny_bi_encoder("tiny-mpnet", "mpnet", tokenizer("wordpiece", corpus, arch / "tiny-mpnet"), texts, seed=1)
        xlmr = tokenizer("unigram", corpus, arch / "tiny-xlm-roberta")
        tiny_bi_encoder("tiny-xlm-roberta", "xlm-roberta", xlmr, texts, seed=2)
        tiny_reranker("tiny-xlm-roberta-reranker", "xlm-roberta", xlmr, seed=3)
    if "modernbert" in what:
        arch = OUT / "arch"
        bpe = tokenizer("bpe", tokenizer_corpus(), arch / "tiny-modernbert")
        tiny_bi_encoder("tiny-modernbert", "modernbert", bpe, texts, seed=4, pooling="cls")
        tiny_reranker("tiny-modernbert-reranker", "modernbert", bpe, seed=5)
    if "qwen3" in what:
        qwen = tokenizer("qwen", tokenizer_corpus(), OUT / "arch" / "tiny-qwen3")
        tiny_bi_encoder("tiny-qwen3", "qwen3", qwen, texts, seed=6, pooling="lasttoken")


if __name__ == "__main__":
    main()
