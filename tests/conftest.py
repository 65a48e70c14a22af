"""Shared fixtures: tiny random BERT-family models and a tiny labelled task, no downloads."""

from __future__ import annotations

import csv
import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

POSITIVE = ["good", "great", "fine", "lovely", "superb", "warm", "funny", "smart"]
NEGATIVE = ["bad", "awful", "dull", "boring", "weak", "cold", "silly", "flat"]
FILLER = ["the", "movie", "film", "was", "a", "very", "story", "plot", "and", "it", "is", "quite"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


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


def tiny_bert_config(**overrides: object) -> BertConfig:
    """A 2-layer, 64-wide BERT config (about 0.1M parameters)."""
    values: dict[str, object] = dict(
        vocab_size=len(SPECIAL) + len(POSITIVE) + len(NEGATIVE) + len(FILLER),
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


@pytest.fixture
def tiny_bert() -> BertForSequenceClassification:
    """A freshly initialised tiny BERT classifier (seeded, eval mode)."""
    torch.manual_seed(0)
    return BertForSequenceClassification(tiny_bert_config()).eval()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a tiny BERT classifier and its WordPiece tokenizer, as on the hub."""
    folder = tmp_path_factory.mktemp("tiny-bert")
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(SPECIAL + POSITIVE + NEGATIVE + FILLER) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab=str(vocab), do_lower_case=True)
    torch.manual_seed(0)
    BertForSequenceClassification(tiny_bert_config()).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CSV task (columns ``sentence``, ``sentiment``) of 400 rows with string labels."""
    path = tmp_path_factory.mktemp("tiny-task") / "reviews.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sentence", "sentiment"])
        writer.writerows(tiny_sentences(400))
    return path


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Tiny models and SVDs run faster on one thread than on a contended pool of two."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


POSTGRES_SERVER = "postgres@127.0.0.1:5432"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A unique, empty database on the real PostgreSQL of DATA.md, dropped afterwards.

    A missing server fails the test (it is part of every developer's and CI's machine); set
    LADASEARCH_SKIP_POSTGRES=1 to skip instead on a machine without one.
    """
    import psycopg

    name = f"ladasearch_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(
            f"postgresql://{POSTGRES_SERVER}/postgres", autocommit=True, connect_timeout=5
        )
    except psycopg.OperationalError as exc:
        if os.environ.get("LADASEARCH_SKIP_POSTGRES") == "1":
            pytest.skip(f"no PostgreSQL server at {POSTGRES_SERVER}: {exc}")
        pytest.fail(
            f"no PostgreSQL server at {POSTGRES_SERVER} (start it, or set LADASEARCH_SKIP_POSTGRES=1): {exc}"
        )
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://{POSTGRES_SERVER}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
