"""Statistics for the data-aware factorizations, computed once from the teacher and cached.

``fisher``: for each encoder linear, the squared gradients of the task loss (cross-entropy on the
labels) with respect to its weight, summed over the input dimension: a row importance (m,).
Gradients are taken per mini-batch of 8 examples and their squares summed (as FWSVD does).
``whiten``: for each encoder linear, the Gram matrix ``X^T X`` (n, n) of its inputs over the real
(non-padding) tokens.

Both use the first ``examples`` training examples of a seeded shuffle, and are saved as
``factorization-<method>-<examples>-<seed>.safetensors`` inside the teacher's cache folder (no
pickle), so every trial of a study reads them instead of recomputing them.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from ladasearch.compression.factorize import Factorizer
from ladasearch.compression.targets import DEFAULT_ENCODER_PATTERN, encoder_linears
from ladasearch.tasks import TaskData, encode, make_loader

__all__ = ["collect_statistics", "load_factorizer"]

_BATCH = 8


def _model_inputs(batch: dict[str, Tensor], device: torch.device) -> dict[str, Tensor]:
    return {k: v.to(device) for k, v in batch.items() if k not in ("labels", "index")}


def collect_statistics(
    model: nn.Module,
    batches: list[dict[str, Tensor]],
    method: str,
    device: torch.device,
    pattern: str = DEFAULT_ENCODER_PATTERN,
) -> dict[str, Tensor]:
    """``{fqn: statistic}`` of every encoder linear of ``model`` (see the module docstring)."""
    linears = encoder_linears(model, pattern)
    if method == "fisher":
        return _fisher(model, linears, batches, device)
    if method == "whiten":
        return _grams(model, linears, batches, device)
    return {}


def _fisher(
    model: nn.Module,
    linears: list[tuple[str, Any]],
    batches: list[dict[str, Tensor]],
    device: torch.device,
) -> dict[str, Tensor]:
    sums = {fqn: torch.zeros(m.out_features, device=device) for fqn, m in linears}
    was_training = model.training
    frozen = [m.weight for _, m in linears if not m.weight.requires_grad]
    for weight in frozen:  # a frozen teacher still gets the gradients measured here
        weight.requires_grad_(True)
    model.eval()  # no dropout: the importance of the teacher as it predicts
    try:
        for batch in batches:
            model.zero_grad(set_to_none=True)
            logits = model(**_model_inputs(batch, device)).logits  # (batch, classes)
            F.cross_entropy(logits.float(), batch["labels"].to(device)).backward()
            for fqn, module in linears:
                if module.weight.grad is not None:
                    sums[fqn] += module.weight.grad.float().pow(2).sum(dim=1)  # (m,)
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
        for weight in frozen:
            weight.requires_grad_(False)
    return {fqn: value.cpu() for fqn, value in sums.items()}


def _grams(
    model: nn.Module,
    linears: list[tuple[str, Any]],
    batches: list[dict[str, Tensor]],
    device: torch.device,
) -> dict[str, Tensor]:
    grams = {
        fqn: torch.zeros(m.in_features, m.in_features, dtype=torch.float64, device=device)
        for fqn, m in linears
    }
    token_mask: list[Tensor] = []

    def hook_for(fqn: str) -> Any:
        def hook(_module: nn.Module, inputs: tuple[Tensor, ...], _output: Tensor) -> None:
            x = inputs[0][token_mask[0]].double()  # (tokens, n): real tokens only
            grams[fqn] += x.T @ x  # (n, n)

        return hook

    handles = [module.register_forward_hook(hook_for(fqn)) for fqn, module in linears]
    try:
        with torch.inference_mode():
            for batch in batches:
                inputs = _model_inputs(batch, device)
                token_mask[:] = [inputs["attention_mask"].bool()]  # (batch, seq)
                model(**inputs)
    finally:
        for handle in handles:
            handle.remove()
    return {fqn: gram.float().cpu() for fqn, gram in grams.items()}


def _sample_batches(
    task: TaskData, tokenizer: Any, examples: int, seed: int, max_length: int
) -> list[dict[str, Tensor]]:
    chosen = list(task.train)
    random.Random(seed).shuffle(chosen)
    encoded = encode(chosen[:examples], tokenizer, max_length)
    return list(make_loader(encoded, _BATCH, shuffle=False))


def load_factorizer(
    method: str,
    teacher: nn.Module,
    tokenizer: Any,
    task: TaskData,
    *,
    cache_folder: Path | None,
    device: torch.device,
    examples: int = 256,
    seed: int = 0,
    max_length: int = 128,
) -> Factorizer:
    """The :class:`Factorizer` for ``method``; its statistics from the cache or computed now.

    ``cache_folder`` is the teacher's cache folder (None: not cached). The teacher is left
    unchanged (its gradients are cleared, its mode restored).
    """
    if method == "svd":
        return Factorizer("svd")
    path = None
    if cache_folder is not None:
        path = Path(cache_folder) / f"factorization-{method}-{examples}-{seed}.safetensors"
        if path.is_file():
            return Factorizer(method, load_file(str(path)))
    batches = _sample_batches(task, tokenizer, examples, seed, max_length)
    stats = collect_statistics(teacher, batches, method, device)
    if path is not None:
        handle, temporary = tempfile.mkstemp(prefix=".stats-", dir=path.parent)
        os.close(handle)
        save_file({k: v.contiguous() for k, v in stats.items()}, temporary)
        os.replace(temporary, path)  # atomic: a concurrent trial reads a whole file or none
    return Factorizer(method, stats)
