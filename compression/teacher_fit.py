"""The teacher's fine-tuning loop: AdamW, linear warm-up / decay, best dev checkpoint kept.

Separated from :mod:`ladasearch.compression.teacher` (which owns the config and the cache) so the
recipe reads in one place: ``steps`` AdamW steps of cross-entropy on the training split (each
class weighted by :func:`class_weights` when ``balance_classes``; the config turns epochs into
steps), the dev split scored ``evaluations`` times at evenly spaced
steps (the last at the end), and the weights of the best-scoring check restored at the end. With
one evaluation this is the plain "last checkpoint" recipe.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ladasearch.compression.evaluate import evaluate
from ladasearch.progress import progress
from ladasearch.tasks import TaskData, encode, make_loader

if TYPE_CHECKING:
    from ladasearch.compression.teacher import TeacherConfig

__all__ = ["FitResult", "check_steps", "class_weights", "fine_tune"]


@dataclass(frozen=True)
class FitResult:
    """What the loop did: steps trained, dev accuracy at each check, the step kept."""

    steps: int
    checks: list[tuple[int, float]]
    best_step: int


def _cycle(loader: DataLoader[Any]) -> Iterator[dict[str, torch.Tensor]]:
    """Batches forever: epoch after epoch (each epoch reshuffled by the loader's generator)."""
    while True:
        yield from loader


def _optimizer(model: torch.nn.Module, config: TeacherConfig) -> torch.optim.AdamW:
    """AdamW with no weight decay on biases and LayerNorm weights (the BERT recipe)."""
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            skip = parameter.ndim < 2 or "LayerNorm" in name or "layer_norm" in name
            (no_decay if skip else decay).append(parameter)
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.learning_rate)


def _linear_schedule(
    optimizer: torch.optim.Optimizer, steps: int, warmup_ratio: float
) -> torch.optim.lr_scheduler.LambdaLR:
    warmup = round(steps * warmup_ratio)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (steps - step) / max(1, steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def class_weights(labels: Sequence[int], classes: int) -> torch.Tensor:
    """``n / (k * n_c)`` per class ``c`` of ``labels`` (shape ``(classes,)``), ``k`` the number
    of classes present: the mean weight over the examples is 1, and every class contributes the
    same total to the loss. An absent class gets weight 0 (it has no examples to weigh)."""
    counts = torch.bincount(torch.tensor(list(labels), dtype=torch.long), minlength=classes)
    counts = counts.to(torch.float32)  # (classes,)
    present = int((counts > 0).sum())
    weights = len(labels) / (max(1, present) * counts.clamp(min=1.0))
    return torch.where(counts > 0, weights, torch.zeros_like(weights))


def check_steps(steps: int, evaluations: int) -> list[int]:
    """The 1-based steps after which dev is scored: ``evaluations`` evenly spaced, last = ``steps``."""
    count = max(1, min(evaluations, steps))
    return sorted({round(steps * (i + 1) / count) for i in range(count)})


def fine_tune(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    task: TaskData,
    config: TeacherConfig,
    device: torch.device,
    quiet: bool,
) -> FitResult:
    """Fine-tune ``model`` in place on ``task.train``; keep the best dev check's weights."""
    steps = config.train_steps(len(task.train))
    loader = make_loader(
        encode(task.train, tokenizer, config.max_length),
        config.batch_size,
        shuffle=True,
        seed=config.seed,
    )
    dev = make_loader(
        encode(task.dev, tokenizer, config.max_length), config.batch_size * 2, shuffle=False
    )
    weight = None
    if config.balance_classes:
        train_labels = [e.label for e in task.train]
        weight = class_weights(train_labels, len(task.label_names)).to(device)  # (num_labels,)
    optimizer = _optimizer(model, config)
    schedule = _linear_schedule(optimizer, steps, config.warmup_ratio)
    batches = _cycle(loader)
    checks_at = set(check_steps(steps, config.evaluations))
    checks: list[tuple[int, float]] = []
    best: tuple[float, int, dict[str, torch.Tensor] | None] = (-1.0, steps, None)
    model.train()
    for step in (
        range(1, steps + 1) if quiet else progress(range(1, steps + 1), total=steps, desc="teacher")
    ):
        batch = {k: v.to(device) for k, v in next(batches).items()}
        labels = batch.pop("labels")  # (batch,)
        logits = model(**batch).logits  # (batch, num_labels)
        loss = F.cross_entropy(logits.float(), labels, weight=weight)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        if step in checks_at and len(checks_at) > 1:
            score = evaluate(model, dev, ("accuracy",), device)["accuracy"]
            checks.append((step, score))
            if score > best[0]:  # the earliest of equal scores
                state = None if step == steps else _copy_state(model)
                best = (score, step, state)
            model.train()
    model.eval()
    if best[2] is not None:
        model.load_state_dict(best[2])
    return FitResult(steps=steps, checks=checks, best_step=best[1])


def _copy_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of the weights (the best check so far)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
