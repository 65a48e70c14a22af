"""One distillation phase: N optimizer steps of the student against the frozen teacher.

The adaptor :func:`distillation_losses` is the only place that knows what a Hugging Face output
holds; the losses themselves are pure functions in :mod:`ladasearch.compression.losses`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ladasearch.compression.layers import FactorizedLinear, MaskedLinear
from ladasearch.compression.losses import attention_mse, masked_mse, soft_cross_entropy
from ladasearch.progress import progress

__all__ = [
    "DistillSettings",
    "LossWeights",
    "TrainingDiverged",
    "distill_phase",
    "distillation_losses",
    "reapply_masks_",
]


class TrainingDiverged(RuntimeError):
    """A distillation loss turned NaN or infinite: the run failed (not a user error)."""


@dataclass(frozen=True)
class LossWeights:
    """Weights of the four distillation losses (section 3.4); 0 switches one off."""

    embedding: float = 1.0
    attention: float = 1.0
    hidden: float = 1.0
    prediction: float = 1.0

    def __post_init__(self) -> None:
        for name in ("embedding", "attention", "hidden", "prediction"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"loss weight {name} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True)
class DistillSettings:
    """What one phase needs besides the models and the data."""

    steps: int
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    temperature: float = 1.0
    loss_weights: LossWeights = field(default_factory=LossWeights)
    max_grad_norm: float = 1.0


def distillation_losses(
    student_out: Mapping[str, object],
    teacher_out: Mapping[str, object],
    attention_mask: Tensor,
    weights: LossWeights,
    temperature: float,
) -> dict[str, Tensor]:
    """The four losses and their weighted sum (key ``total``) from two model outputs.

    Both outputs come from ``model(..., output_hidden_states=True, output_attentions=True)``:
    hidden_states is a tuple of (batch, seq, hidden), entry 0 the embedding-layer output;
    attentions a tuple of (batch, heads, seq, seq); logits (batch, classes).
    attention_mask: (batch, seq).
    """
    s_hidden: tuple[Tensor, ...] = student_out["hidden_states"]  # type: ignore[assignment]
    t_hidden: tuple[Tensor, ...] = teacher_out["hidden_states"]  # type: ignore[assignment]
    losses: dict[str, Tensor] = {}
    if weights.embedding:
        losses["embedding"] = masked_mse(s_hidden[0], t_hidden[0], attention_mask)
    if weights.hidden:
        per_layer = [
            masked_mse(s, t, attention_mask)
            for s, t in zip(s_hidden[1:], t_hidden[1:], strict=True)
        ]
        losses["hidden"] = torch.stack(per_layer).sum()
    if weights.attention:
        s_attn: tuple[Tensor, ...] = student_out["attentions"]  # type: ignore[assignment]
        t_attn: tuple[Tensor, ...] = teacher_out["attentions"]  # type: ignore[assignment]
        if not s_attn or not t_attn:
            raise RuntimeError(
                "attention maps missing: load models with attn_implementation='eager'"
            )
        per_layer = [
            attention_mse(s, t, attention_mask) for s, t in zip(s_attn, t_attn, strict=True)
        ]
        losses["attention"] = torch.stack(per_layer).sum()
    if weights.prediction:
        losses["prediction"] = soft_cross_entropy(
            student_out["logits"],  # type: ignore[arg-type]
            teacher_out["logits"],  # type: ignore[arg-type]
            temperature,
        )
    total = sum(getattr(weights, name) * value for name, value in losses.items())
    losses["total"] = total if isinstance(total, Tensor) else torch.zeros(())
    return losses


def reapply_masks_(model: nn.Module) -> None:
    """Re-zero pruned weights in place (they stay zero anyway: their gradient is masked)."""
    for module in model.modules():
        if isinstance(module, (MaskedLinear, FactorizedLinear)):
            module.apply_masks_()


def _linear_warmup_decay(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


def distill_phase(
    student: nn.Module,
    teacher: nn.Module,
    batches: Iterator[dict[str, Tensor]],
    settings: DistillSettings,
    device: torch.device,
    *,
    desc: str = "distill",
) -> dict[str, float]:
    """Train ``student`` for ``settings.steps`` steps against ``teacher``; return mean losses.

    ``batches`` is an endless iterator of tokenized batches (input_ids, attention_mask, ...,
    labels); labels are not used (distillation only). Raises :class:`TrainingDiverged` when a
    loss is not finite.
    """
    optimizer = torch.optim.AdamW(
        [p for p in student.parameters() if p.requires_grad],
        lr=settings.learning_rate,
        weight_decay=settings.weight_decay,
    )
    warmup = int(settings.warmup_ratio * settings.steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: _linear_warmup_decay(step, settings.steps, warmup)
    )
    want_attn = settings.loss_weights.attention > 0
    sums: dict[str, float] = {}
    student.train()
    teacher.eval()
    for _ in progress(range(settings.steps), total=settings.steps, desc=desc):
        batch = {k: v.to(device) for k, v in next(batches).items() if k != "labels"}
        with torch.inference_mode():
            teacher_out = teacher(**batch, output_hidden_states=True, output_attentions=want_attn)
        student_out = student(**batch, output_hidden_states=True, output_attentions=want_attn)
        losses = distillation_losses(
            student_out,
            teacher_out,
            batch["attention_mask"],
            settings.loss_weights,
            settings.temperature,
        )
        total = losses["total"]
        if not bool(torch.isfinite(total)):
            raise TrainingDiverged(
                f"distillation loss became {total.item()} (learning rate {settings.learning_rate:g})"
            )
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), settings.max_grad_norm)
        optimizer.step()
        scheduler.step()
        reapply_masks_(student)
        for name, value in losses.items():
            sums[name] = sums.get(name, 0.0) + float(value.detach())
    student.eval()
    return {name: total / max(1, settings.steps) for name, total in sums.items()}
