"""Scores of a classifier: accuracy / F1 on a loader, latency, size on disk."""

from __future__ import annotations

import hashlib
import os
import statistics
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ladasearch.compression.attention import attention_kernel
from ladasearch.tasks.batching import fixed_length_batch

__all__ = [
    "evaluate",
    "evaluate_predictions",
    "file_sha256",
    "folder_bytes",
    "measure_latency",
    "predict_logits",
]

_MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_SUPPORTED_METRICS = frozenset({"accuracy", "f1", "nll"})


def _inputs(batch: Mapping[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device) for k, v in batch.items() if k in _MODEL_INPUTS}


def _logits_and_labels(
    model: nn.Module,
    loader: Iterable[Mapping[str, torch.Tensor]],
    device: torch.device,
    attention: str = "sdpa",
) -> tuple[torch.Tensor, torch.Tensor]:
    """All logits ``(n, num_labels)`` (float32, CPU) and labels ``(n,)`` of ``loader``."""
    was_training = model.training
    model.eval()
    logits: list[torch.Tensor] = []
    labels: list[torch.Tensor] = []
    indices: list[torch.Tensor] = []
    try:
        with torch.inference_mode(), attention_kernel(model, attention):
            for batch in loader:
                output: Any = model(**_inputs(batch, device))
                logits.append(output.logits.float().cpu())  # (batch, num_labels)
                if "labels" in batch:
                    labels.append(batch["labels"].cpu())
                if "index" in batch:  # a length-sorted loader: positions in the split
                    indices.append(batch["index"].cpu())
    finally:
        model.train(was_training)
    if not logits:
        raise ValueError("cannot evaluate on an empty loader")
    all_logits = torch.cat(logits)  # (n, num_labels)
    all_labels = torch.cat(labels) if labels else torch.empty(0, dtype=torch.long)
    if indices:
        order = torch.argsort(torch.cat(indices))  # back to split order
        all_logits = all_logits[order]
        all_labels = all_labels[order] if len(all_labels) else all_labels
    return all_logits, all_labels


def predict_logits(
    model: nn.Module, loader: Iterable[Mapping[str, torch.Tensor]], device: torch.device
) -> torch.Tensor:
    """Logits ``(n, num_labels)`` (float32, on the CPU) for every example of ``loader``, in order.

    Runs under ``torch.inference_mode`` in eval mode; the model's train/eval mode is restored.
    """
    return _logits_and_labels(model, loader, device)[0]


def _binary_f1(predictions: torch.Tensor, labels: torch.Tensor) -> float:
    """F1 of the positive class 1 (0 when there is no true or predicted positive)."""
    true_pos = int(((predictions == 1) & (labels == 1)).sum())
    predicted, actual = int((predictions == 1).sum()), int((labels == 1).sum())
    if true_pos == 0:
        return 0.0
    precision, recall = true_pos / predicted, true_pos / actual
    return 2 * precision * recall / (precision + recall)


def evaluate(
    model: nn.Module,
    loader: Iterable[Mapping[str, torch.Tensor]],
    metrics: Sequence[str],
    device: torch.device,
) -> dict[str, float]:
    """``{"accuracy": ...}`` plus ``"f1"`` (binary, class 1) and ``"nll"`` (the mean negative
    log-likelihood of the gold labels, in nats) when asked, over ``loader``.

    The loader's batches must carry ``labels``. Runs in eval mode under ``inference_mode``; the
    model's previous train/eval mode is restored afterwards.
    """
    return evaluate_predictions(model, loader, metrics, device)[0]


def evaluate_predictions(
    model: nn.Module,
    loader: Iterable[Mapping[str, torch.Tensor]],
    metrics: Sequence[str],
    device: torch.device,
    attention: str = "sdpa",
) -> tuple[dict[str, float], list[int]]:
    """Like :func:`evaluate`, plus every example's predicted label in split order.

    The predictions let two models be compared on the same examples (a paired test,
    :mod:`ladasearch.stats`). ``attention`` is the kernel used (``"sdpa"``, or ``"eager"``).
    """
    unknown = set(metrics) - _SUPPORTED_METRICS
    if unknown:
        raise ValueError(f"unknown metrics {sorted(unknown)}: use accuracy, f1, nll")
    logits, labels = _logits_and_labels(model, loader, device, attention)
    if len(labels) != len(logits):
        raise ValueError("every batch of the loader must carry 'labels'")
    predictions = logits.argmax(dim=-1)  # (n,)
    scores = {"accuracy": float((predictions == labels).float().mean())}
    if "f1" in metrics:
        scores["f1"] = _binary_f1(predictions, labels)
    if "nll" in metrics:  # continuous where accuracy ties (e.g. every trial at the majority class)
        scores["nll"] = float(torch.nn.functional.cross_entropy(logits, labels))
    return scores, [int(p) for p in predictions]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_latency(
    model: nn.Module,
    tokenizer: Any,
    device: torch.device,
    *,
    batch_sizes: Sequence[int] = (1, 32),
    seq_len: int = 64,
    repeats: int = 10,
    warmup: int = 2,
) -> dict[int, float]:
    """Median milliseconds of one forward pass on a ``(batch, seq_len)`` input, per batch size.

    Inputs have a fixed length (no padding); ``warmup`` untimed passes precede ``repeats`` timed
    ones; on CUDA the device is synchronised around each timed pass. Eval mode, inference mode;
    the model's previous mode is restored.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats} and {warmup}")
    was_training = model.training
    model.eval()
    result: dict[int, float] = {}
    try:
        with torch.inference_mode():
            for batch_size in batch_sizes:
                inputs = _inputs(fixed_length_batch(tokenizer, batch_size, seq_len), device)
                for _ in range(warmup):
                    model(**inputs)
                times = []
                for _ in range(repeats):
                    _sync(device)
                    start = time.perf_counter()
                    model(**inputs)
                    _sync(device)
                    times.append((time.perf_counter() - start) * 1000.0)
                result[batch_size] = statistics.median(times)
    finally:
        model.train(was_training)
    return result


def folder_bytes(path: str | os.PathLike[str]) -> int:
    """Total size in bytes of every file under ``path`` (recursively; a file counts itself)."""
    root = Path(path)
    if root.is_file():
        return root.stat().st_size
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 hex digest of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
