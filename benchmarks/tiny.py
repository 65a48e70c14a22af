"""A tiny BERT classifier and a tiny labelled CSV task for the ``smoke`` profile (no downloads)."""

from __future__ import annotations

import csv
import random
from pathlib import Path

__all__ = ["make_tiny"]

POSITIVE = ["good", "great", "fine", "lovely", "superb", "warm", "funny", "smart"]
NEGATIVE = ["bad", "awful", "dull", "boring", "weak", "cold", "silly", "flat"]
FILLER = ["the", "movie", "film", "was", "a", "very", "story", "plot", "and", "it", "is", "quite"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def make_tiny(folder: Path, rows: int = 400) -> tuple[Path, Path]:
    """Write (once) a 2-layer, 64-wide BERT and a CSV of ``rows`` cue-word reviews; their paths.

    The CSV has columns ``sentence`` and ``sentiment``; each sentence holds one positive or
    negative cue word among filler words, so a tiny model can learn it in a few steps.
    """
    import torch
    from transformers import (  # type: ignore[attr-defined]
        BertConfig,
        BertForSequenceClassification,
        BertTokenizerFast,
    )

    model_dir, csv_path = folder / "tiny-bert", folder / "tiny-reviews.csv"
    if not (model_dir / "config.json").is_file():
        model_dir.mkdir(parents=True, exist_ok=True)
        vocab = model_dir / "vocab.txt"
        vocab.write_text("\n".join(SPECIAL + POSITIVE + NEGATIVE + FILLER) + "\n", encoding="utf-8")
        tokenizer = BertTokenizerFast(vocab=str(vocab), do_lower_case=True)
        torch.manual_seed(0)
        config = BertConfig(  # type: ignore[call-arg]
            vocab_size=len(SPECIAL) + len(POSITIVE) + len(NEGATIVE) + len(FILLER),
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=128,
            max_position_embeddings=64,
            num_labels=2,
        )
        BertForSequenceClassification(config).save_pretrained(model_dir)
        tokenizer.save_pretrained(model_dir)
    if not csv_path.is_file():
        rng = random.Random(0)
        with csv_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["sentence", "sentiment"])
            for _ in range(rows):
                label = rng.choice(["pos", "neg"])
                words = [rng.choice(FILLER) for _ in range(rng.randint(3, 9))]
                cue = rng.choice(POSITIVE if label == "pos" else NEGATIVE)
                words.insert(rng.randrange(len(words) + 1), cue)
                writer.writerow([" ".join(words), label])
    return model_dir, csv_path
