"""A tiny BERT classifier and a tiny labelled CSV task, built offline in seconds (no downloads).

One definition shared by the test suite's fixtures (``tests/conftest.py``) and the benchmarks'
``smoke`` profile; neither imports the other.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

__all__ = ["make_tiny", "tiny_bert_config", "tiny_sentences", "tiny_vocabulary"]

POSITIVE = ["good", "great", "fine", "lovely", "superb", "warm", "funny", "smart"]
NEGATIVE = ["bad", "awful", "dull", "boring", "weak", "cold", "silly", "flat"]
FILLER = ["the", "movie", "film", "was", "a", "very", "story", "plot", "and", "it", "is", "quite"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def tiny_vocabulary() -> list[str]:
    """The WordPiece vocabulary of the tiny model: special tokens, cue words, filler words."""
    return SPECIAL + POSITIVE + NEGATIVE + FILLER


def tiny_sentences(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` (text, label) pairs whose label a tiny model can learn from one cue word."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        label = rng.choice(["pos", "neg"])
        cue = rng.choice(POSITIVE if label == "pos" else NEGATIVE)
        words = [rng.choice(FILLER) for _ in range(rng.randint(3, 9))]
        words.insert(rng.randrange(len(words) + 1), cue)
        rows.append((" ".join(words), label))
    return rows


def tiny_bert_config(**overrides: Any) -> Any:
    """A 2-layer, 64-wide ``BertConfig`` (about 0.1M parameters, no dropout)."""
    from transformers import BertConfig

    values: dict[str, Any] = dict(
        vocab_size=len(tiny_vocabulary()),
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=64,
        num_labels=2,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    values.update(overrides)
    return BertConfig(**values)


def make_tiny(folder: Path, rows: int = 400) -> tuple[Path, Path]:
    """Write (once) a tiny BERT (``tiny_bert_config``) and a CSV of ``rows`` cue-word reviews.

    The CSV has columns ``sentence`` and ``sentiment``; each sentence holds one positive or
    negative cue word among filler words, so a tiny model can learn it in a few steps. Returns
    (model folder, CSV path).
    """
    import torch
    from transformers import (  # type: ignore[attr-defined]
        BertForSequenceClassification,
        BertTokenizerFast,
    )

    folder = Path(folder)
    model_dir, csv_path = folder / "tiny-bert", folder / "tiny-reviews.csv"
    if not (model_dir / "config.json").is_file():
        model_dir.mkdir(parents=True, exist_ok=True)
        vocab = model_dir / "vocab.txt"
        vocab.write_text("\n".join(tiny_vocabulary()) + "\n", encoding="utf-8")
        tokenizer = BertTokenizerFast(vocab=str(vocab), do_lower_case=True)
        torch.manual_seed(0)
        BertForSequenceClassification(tiny_bert_config()).save_pretrained(model_dir)
        tokenizer.save_pretrained(model_dir)
    if not csv_path.is_file():
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        with csv_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["sentence", "sentiment"])
            writer.writerows(tiny_sentences(rows))
    return model_dir, csv_path
