"""Evaluation: accuracy / F1 from known logits, latency, file helpers."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn
from transformers import AutoTokenizer

from ladasearch.compression.evaluate import (
    evaluate,
    file_sha256,
    folder_bytes,
    measure_latency,
    predict_logits,
)

CPU = torch.device("cpu")


class KnownLogits(nn.Module):
    """Returns the logits stored for each example id (given as ``input_ids[:, 0]``)."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("table", logits)  # (n, num_labels)

    def forward(self, input_ids: torch.Tensor, **_: torch.Tensor) -> SimpleNamespace:
        return SimpleNamespace(logits=self.table[input_ids[:, 0]])


def _loader(labels: list[int], batch_size: int = 3) -> list[dict[str, torch.Tensor]]:
    ids = torch.arange(len(labels)).unsqueeze(1)  # (n, 1)
    return [
        {
            "input_ids": ids[i : i + batch_size],
            "attention_mask": torch.ones_like(ids[i : i + batch_size]),
            "labels": torch.tensor(labels[i : i + batch_size]),
        }
        for i in range(0, len(labels), batch_size)
    ]


def test_accuracy_and_binary_f1_of_known_logits() -> None:
    predicted = [1, 1, 0, 0, 1, 0, 1]
    labels = [1, 0, 0, 1, 1, 0, 0]
    logits = nn.functional.one_hot(torch.tensor(predicted), 2).float()  # (7, 2)
    model = KnownLogits(logits).train()
    scores = evaluate(model, _loader(labels), ("accuracy", "f1"), CPU)
    # tp = 2, fp = 2, fn = 1: precision 1/2, recall 2/3, F1 = 4/7
    assert scores["accuracy"] == pytest.approx(4 / 7)
    assert scores["f1"] == pytest.approx(4 / 7)
    assert model.training  # the caller's mode is restored
    assert set(evaluate(model, _loader(labels), ("accuracy",), CPU)) == {"accuracy"}
    assert torch.equal(predict_logits(model, _loader(labels, 2), CPU), logits)


def test_f1_without_positive_predictions_is_zero() -> None:
    model = KnownLogits(torch.tensor([[1.0, 0.0]] * 4))
    scores = evaluate(model, _loader([1, 0, 1, 0]), ("accuracy", "f1"), CPU)
    assert scores == {"accuracy": 0.5, "f1": 0.0}


def test_latency_of_tiny_model_is_positive(tiny_model_dir: Path, tiny_bert: nn.Module) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    latency = measure_latency(tiny_bert, tokenizer, CPU, seq_len=16, repeats=3, warmup=1)
    assert set(latency) == {1, 32}
    assert all(ms > 0 for ms in latency.values())


def test_folder_bytes_and_sha256(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.bin").write_bytes(b"x" * 10)
    (tmp_path / "sub" / "b.bin").write_bytes(b"hello")
    assert folder_bytes(tmp_path) == 15
    expected = hashlib.sha256(b"hello").hexdigest()
    assert file_sha256(tmp_path / "sub" / "b.bin") == expected


def test_length_sorted_batches_give_predictions_in_split_order(
    tiny_model_dir: Path, tiny_bert: nn.Module
) -> None:
    from ladasearch.compression.evaluate import evaluate_predictions
    from ladasearch.tasks import Example, encode, make_loader

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    words = ["good", "bad", "film", "the", "plot"]
    examples = [
        Example(" ".join(words[: 1 + (i * 7) % 5] * (1 + i % 3)), None, i % 2) for i in range(23)
    ]
    encoded = encode(examples, tokenizer, 32)
    plain = make_loader(encoded, 4, shuffle=False)
    by_length = make_loader(encoded, 4, shuffle=False, sort_by_length=True)
    lengths = [int(b["attention_mask"].sum(dim=1).max()) for b in by_length]
    assert lengths == sorted(lengths, reverse=True)
    device = torch.device("cpu")
    assert evaluate_predictions(tiny_bert, by_length, ("accuracy",), device) == (
        evaluate_predictions(tiny_bert, plain, ("accuracy",), device)
    )
