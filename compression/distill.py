"""One training phase: N optimizer steps of the student, by distillation or by plain fine-tuning.

The adaptor :func:`distillation_losses` is the only place that knows what a Hugging Face output
holds; the losses themselves are pure functions in :mod:`ladasearch.compression.losses`. The
phase's objective is ``"distill"`` (LadaBERT's four losses against the frozen teacher) or
``"finetune"`` (cross-entropy on the labels, no teacher: the "hybrid pruning without
distillation" baseline); both run the same loop. A student of another shape (fewer layers, a
narrower hidden size: :mod:`ladasearch.compression.scratch`) is compared to the teacher through
an :class:`Alignment` (a layer map and learned projections).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ladasearch.compression.attention import attention_kernel
from ladasearch.compression.kinds import compressed_layers
from ladasearch.compression.losses import attention_mse, masked_mse, soft_cross_entropy
from ladasearch.compression.teacher_outputs import TeacherOutputCache
from ladasearch.progress import progress

__all__ = [
    "OBJECTIVES",
    "Alignment",
    "DistillSettings",
    "LossWeights",
    "TrainingDiverged",
    "distill_phase",
    "distillation_losses",
    "phase_losses",
    "reapply_masks_",
]

OBJECTIVES = ("distill", "finetune")
"""What a phase minimises: LadaBERT's distillation losses, or cross-entropy on the labels."""


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
    objective: str = "distill"
    layer_average: bool = True  # per-layer hidden/attention losses averaged, not summed
    temperature_squared: bool = True  # prediction loss times T^2 (Hinton et al.)
    label_weight: float = 0.0  # weight of cross-entropy on the labels, added to the total
    decay_norm_and_bias: bool = False  # the old recipe decayed LayerNorm weights and biases too

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(
                f"objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}"
            )


class Alignment(nn.Module):
    """How a student of another shape is compared to the teacher (TinyBERT's adaptor).

    ``layer_map[i]`` is the teacher layer (0-based) that student layer ``i`` learns from;
    ``embedding`` and ``hidden`` project student hidden vectors (batch, seq, d_student) to the
    teacher's width (batch, seq, d_teacher). The projections are trained with the student and
    thrown away afterwards.
    """

    def __init__(self, layer_map: tuple[int, ...], embedding: nn.Module, hidden: nn.Module) -> None:
        super().__init__()
        self.layer_map = tuple(layer_map)
        self.embedding = embedding
        self.hidden = hidden


def _heads_mean(attention: Tensor) -> Tensor:
    """(batch, heads, seq, seq) -> (batch, 1, seq, seq): the map averaged over heads."""
    return attention.mean(dim=1, keepdim=True)


def _paired(
    student: tuple[Tensor, ...], teacher: tuple[Tensor, ...], align: Alignment | None
) -> list[tuple[Tensor, Tensor]]:
    """Student layer outputs paired with the teacher layer each one learns from."""
    if align is None:
        return list(zip(student, teacher, strict=True))
    return [(student[i], teacher[j]) for i, j in enumerate(align.layer_map)]


def distillation_losses(
    student_out: Mapping[str, object],
    teacher_out: Mapping[str, object],
    attention_mask: Tensor,
    weights: LossWeights,
    temperature: float,
    align: Alignment | None = None,
    *,
    layer_average: bool = False,
    temperature_squared: bool = False,
) -> dict[str, Tensor]:
    """The four losses and their weighted sum (key ``total``) from two model outputs.

    ``layer_average`` averages the per-layer hidden and attention losses (else they are summed,
    the old recipe, which lets the hidden loss dominate); ``temperature_squared`` multiplies the
    prediction loss by ``T^2`` so that its gradient does not shrink as ``T`` grows.

    Both outputs come from ``model(..., output_hidden_states=True, output_attentions=True)``:
    hidden_states is a tuple of (batch, seq, hidden), entry 0 the embedding-layer output;
    attentions a tuple of (batch, heads, seq, seq); logits (batch, classes).
    attention_mask: (batch, seq). Without ``align`` the two models have the same shape (layer i
    against layer i); with it, student layers follow ``align.layer_map``, hidden vectors are
    projected to the teacher's width, and attention maps are averaged over heads when the head
    counts differ.
    """
    s_hidden: tuple[Tensor, ...] = student_out["hidden_states"]  # type: ignore[assignment]
    t_hidden: tuple[Tensor, ...] = teacher_out["hidden_states"]  # type: ignore[assignment]
    losses: dict[str, Tensor] = {}
    if weights.embedding:
        s_embedding = s_hidden[0] if align is None else align.embedding(s_hidden[0])
        losses["embedding"] = masked_mse(s_embedding, t_hidden[0], attention_mask)
    if weights.hidden:
        pairs = _paired(s_hidden[1:], t_hidden[1:], align)
        per_layer = [
            masked_mse(s if align is None else align.hidden(s), t, attention_mask) for s, t in pairs
        ]
        stacked = torch.stack(per_layer)
        losses["hidden"] = stacked.mean() if layer_average else stacked.sum()
    if weights.attention:
        s_attn: tuple[Tensor, ...] = student_out["attentions"]  # type: ignore[assignment]
        t_attn: tuple[Tensor, ...] = teacher_out["attentions"]  # type: ignore[assignment]
        if not s_attn or not t_attn:
            raise RuntimeError(
                "attention maps missing: load models with attn_implementation='eager'"
            )
        per_layer = []
        for s, t in _paired(s_attn, t_attn, align):
            if s.shape[1] != t.shape[1]:  # different head counts: compare head-averaged maps
                s, t = _heads_mean(s), _heads_mean(t)
            per_layer.append(attention_mse(s, t, attention_mask))
        stacked = torch.stack(per_layer)
        losses["attention"] = stacked.mean() if layer_average else stacked.sum()
    if weights.prediction:
        losses["prediction"] = soft_cross_entropy(
            student_out["logits"],  # type: ignore[arg-type]
            teacher_out["logits"],  # type: ignore[arg-type]
            temperature,
        ) * (temperature**2 if temperature_squared else 1.0)
    total = sum(getattr(weights, name) * value for name, value in losses.items())
    losses["total"] = total if isinstance(total, Tensor) else torch.zeros(())
    return losses


def reapply_masks_(model: nn.Module) -> None:
    """Re-zero pruned weights in place (they stay zero anyway: their gradient is masked)."""
    for _, module, kind in compressed_layers(model):
        if kind.prunable:
            module.apply_masks_()


def _linear_warmup_decay(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


def phase_losses(
    student: nn.Module,
    teacher: nn.Module,
    batch: dict[str, Tensor],
    settings: DistillSettings,
    align: Alignment | None = None,
    teacher_cache: TeacherOutputCache | None = None,
) -> dict[str, Tensor]:
    """The losses of one step (key ``total`` is minimised), by ``settings.objective``.

    ``teacher_cache`` serves the teacher's outputs of a batch already seen (this trial or
    another of the study) instead of running the teacher again.

    ``batch`` holds input_ids, attention_mask, ... and labels (batch,), already on the device.
    ``distill``: the four distillation losses against the frozen teacher (labels unused);
    ``finetune``: ``cross_entropy`` of the student's logits (batch, classes) on the labels (the
    teacher is not run).
    """
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    if settings.objective == "finetune":
        logits = student(**inputs).logits  # (batch, classes)
        loss = F.cross_entropy(logits.float(), batch["labels"])
        return {"cross_entropy": loss, "total": loss}
    want_attn = settings.loss_weights.attention > 0
    if teacher_cache is not None:
        teacher_out = teacher_cache.outputs(teacher, inputs, want_attn)
    else:
        with torch.inference_mode():
            teacher_out = teacher(**inputs, output_hidden_states=True, output_attentions=want_attn)
    student_out = student(**inputs, output_hidden_states=True, output_attentions=want_attn)
    losses = distillation_losses(
        student_out,
        teacher_out,
        inputs["attention_mask"],
        settings.loss_weights,
        settings.temperature,
        align,
        layer_average=settings.layer_average,
        temperature_squared=settings.temperature_squared,
    )
    if settings.label_weight > 0:
        losses["label"] = F.cross_entropy(
            student_out.logits.float(),  # (batch, classes)
            batch["labels"],
        )
        losses["total"] = losses["total"] + settings.label_weight * losses["label"]
    return losses


def _parameter_groups(params: list[nn.Parameter], decay: float) -> list[dict[str, Any]]:
    """AdamW groups: LayerNorm weights and biases (1-d tensors) get no weight decay."""
    one_d = {id(p) for p in params if p.dim() < 2}
    return [
        {"params": [p for p in params if id(p) not in one_d], "weight_decay": decay},
        {"params": [p for p in params if id(p) in one_d], "weight_decay": 0.0},
    ]


def distill_phase(
    student: nn.Module,
    teacher: nn.Module,
    batches: Iterator[dict[str, Tensor]],
    settings: DistillSettings,
    device: torch.device,
    *,
    desc: str = "distill",
    align: Alignment | None = None,
    on_step: Callable[[int], None] | None = None,
    teacher_cache: TeacherOutputCache | None = None,
) -> dict[str, float]:
    """Train ``student`` for ``settings.steps`` steps; return the mean of each loss.

    ``batches`` is an endless iterator of tokenized batches (input_ids, attention_mask, ...,
    labels). The loss is chosen by ``settings.objective`` (:func:`phase_losses`); ``align``'s
    projections, when given, are trained with the student. ``on_step(step)`` (1-based) runs
    after each optimizer step (e.g. a learning-curve evaluation). Raises
    :class:`TrainingDiverged` when a loss is not finite.
    """
    trained = [p for p in student.parameters() if p.requires_grad]
    if align is not None:
        trained += [p for p in align.parameters() if p.requires_grad]
    if settings.decay_norm_and_bias:
        optimizer = torch.optim.AdamW(
            trained, lr=settings.learning_rate, weight_decay=settings.weight_decay
        )
    else:
        optimizer = torch.optim.AdamW(
            _parameter_groups(trained, settings.weight_decay), lr=settings.learning_rate
        )
    warmup = int(settings.warmup_ratio * settings.steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: _linear_warmup_decay(step, settings.steps, warmup)
    )
    sums: dict[str, float] = {}
    student.train()
    teacher.eval()
    # sdpa refuses output_attentions: eager only when the attention loss reads the maps.
    kernel = (
        "eager" if settings.objective == "distill" and settings.loss_weights.attention else "sdpa"
    )
    with attention_kernel(student, kernel), attention_kernel(teacher, kernel):
        _train_steps(
            student,
            teacher,
            batches,
            settings,
            device,
            desc,
            align,
            on_step,
            optimizer,
            scheduler,
            trained,
            sums,
            teacher_cache,
        )
    student.eval()
    return {name: total / max(1, settings.steps) for name, total in sums.items()}


def _train_steps(
    student: nn.Module,
    teacher: nn.Module,
    batches: Iterator[dict[str, Tensor]],
    settings: DistillSettings,
    device: torch.device,
    desc: str,
    align: Alignment | None,
    on_step: Callable[[int], None] | None,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    trained: list[nn.Parameter],
    sums: dict[str, float],
    teacher_cache: TeacherOutputCache | None,
) -> None:
    for step in progress(range(1, settings.steps + 1), total=settings.steps, desc=desc):
        batch = {k: v.to(device) for k, v in next(batches).items()}
        losses = phase_losses(student, teacher, batch, settings, align, teacher_cache)
        total = losses["total"]
        if not bool(torch.isfinite(total)):
            raise TrainingDiverged(
                f"{settings.objective} loss became {total.item()} "
                f"(learning rate {settings.learning_rate:g})"
            )
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(trained, settings.max_grad_norm)
        optimizer.step()
        scheduler.step()
        reapply_masks_(student)
        for name, value in losses.items():
            sums[name] = sums.get(name, 0.0) + float(value.detach())
        if on_step is not None:
            on_step(step)
            student.train()
