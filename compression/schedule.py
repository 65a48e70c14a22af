"""What one compress-distill run trains, and the per-iteration targets of its schedule."""

from __future__ import annotations

from dataclasses import dataclass, field

from ladasearch.compression.distill import OBJECTIVES, DistillSettings, LossWeights
from ladasearch.compression.factorize import FACTORIZATIONS
from ladasearch.compression.ratios import Ratios
from ladasearch.errors import LadaError

__all__ = ["SCHEDULES", "TrainingSettings", "ratios_at"]

SCHEDULES = ("geometric", "linear")


def ratios_at(
    target: Ratios, iteration: int, iterations: int, schedule: str = "geometric"
) -> Ratios:
    """The ratios of ``iteration`` (1..K).

    ``geometric``: each ratio is ``p ** (k / K)``, so every iteration cuts each part by the same
    factor ``p ** (1 / K)``. ``linear`` (the old schedule): each moves linearly from 1 to ``p``,
    which leaves the largest cut for the last iteration.
    """
    share = iteration / iterations

    def step(p: float) -> float:
        if schedule == "linear":
            return 1.0 - (1.0 - p) * share
        return 1.0 if iteration >= iterations and p == 1.0 else float(p**share)

    if iteration == iterations:
        return target
    return Ratios(step(target.p_embd), step(target.p_svd), step(target.p_weight))


@dataclass(frozen=True)
class TrainingSettings:
    """How much one compress-distill run trains."""

    iterations: int = 3
    steps: int = 100  # distillation steps per iteration; 0 compresses only
    batch_size: int = 32
    learning_rate: float = 1e-4
    max_length: int = 128
    temperature: float = 1.0
    loss_weights: LossWeights = field(default_factory=LossWeights)
    objective: str = "distill"  # "distill" (LadaBERT's losses) or "finetune" (labels only)
    eval_every: int | None = None  # dev accuracy every N steps, for a step callback
    schedule: str = "geometric"  # per-iteration targets: "geometric" or "linear" (the old one)
    factorization: str = "whiten"  # "svd", "fisher" or "whiten" (measured best: docs)
    layer_average: bool = True  # per-layer losses averaged (False: summed, the old recipe)
    temperature_squared: bool = True  # prediction loss scaled by T^2
    label_weight: float = 0.0  # weight of a label cross-entropy term (0: none)
    decay_norm_and_bias: bool = False  # weight decay on LayerNorm and biases too (the old recipe)
    teacher_cache_mb: int = 1024  # teacher outputs kept (memory and disk) per study; 0: none

    def __post_init__(self) -> None:
        for name in ("iterations", "steps", "batch_size", "max_length"):
            value = getattr(self, name)
            least = 0 if name == "steps" else 1
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                kind = "a non-negative" if least == 0 else "a positive"
                raise LadaError(f"{name} must be {kind} integer, got {value!r}")
        if self.schedule not in SCHEDULES:
            raise LadaError(
                f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}"
            )
        if self.factorization not in FACTORIZATIONS:
            raise LadaError(
                f"factorization must be one of {', '.join(FACTORIZATIONS)}, "
                f"got {self.factorization!r}"
            )
        if not (isinstance(self.label_weight, int | float) and self.label_weight >= 0):
            raise LadaError(f"label_weight must be a number >= 0, got {self.label_weight!r}")
        if not self.learning_rate > 0:
            raise LadaError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if not self.temperature > 0:
            raise LadaError(f"temperature must be > 0, got {self.temperature!r}")
        if self.objective not in OBJECTIVES:
            raise LadaError(
                f"objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}"
            )
        every = self.eval_every
        if every is not None and (
            not isinstance(every, int) or isinstance(every, bool) or every < 1
        ):
            raise LadaError(f"eval_every must be a positive integer or None, got {every!r}")

    def settings(self) -> DistillSettings:
        """The settings of one phase (``steps`` steps) of this run."""
        return DistillSettings(
            steps=self.steps,
            learning_rate=self.learning_rate,
            temperature=self.temperature,
            loss_weights=self.loss_weights,
            objective=self.objective,
            layer_average=self.layer_average,
            temperature_squared=self.temperature_squared,
            label_weight=self.label_weight,
            decay_norm_and_bias=self.decay_norm_and_bias,
        )
