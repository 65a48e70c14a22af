"""The "small student trained from scratch" baseline: TinyBERT without its general distillation.

LadaBERT section 4.1 compares against TinyBERT (4 layers, hidden 312, intermediate 1200, 12 heads)
distilled on the task from a randomly initialised student, without general distillation or data
augmentation. Here the student keeps the teacher's architecture class and vocabulary; its depth
and width are chosen by :func:`student_shape` so that its parameter count hits a target ratio of
the teacher's (within 5%), and it is distilled with the same four losses as LadaBERT through an
:class:`~ladasearch.compression.distill.Alignment`: student layer ``i`` learns from teacher layer
``round((i + 1) * T / S) - 1``, hidden vectors are projected to the teacher's width by learned
linear maps, attention maps are compared directly when the head counts match (else averaged
over heads).

``init`` chooses the student's starting weights: ``"teacher"`` (default) copies them from the
teacher as DistilBERT initialises its student (layer ``i`` from teacher layer ``layer_map[i]``,
e.g. every other layer at half the depth) and, where the student is narrower, keeps the leading
slice of every tensor (rows and columns up to the student's sizes; the vocabulary is shared);
``"random"`` is the old random initialisation (a baseline that, on short budgets, never left the
majority class).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from transformers import AutoModelForSequenceClassification, PretrainedConfig

from ladasearch.compression.accounting import count_nonzero_params
from ladasearch.compression.distill import Alignment, distill_phase
from ladasearch.compression.evaluate import evaluate
from ladasearch.compression.loop import (
    IterationCallback,
    IterationRecord,
    RunResult,
    StepCallback,
    StepEvaluator,
    Trainer,
    _endless,
    _seed_everything,
)
from ladasearch.compression.schedule import TrainingSettings
from ladasearch.errors import LadaError
from ladasearch.tasks import TaskData, encode, make_loader

__all__ = [
    "INITS",
    "TINYBERT",
    "StudentShape",
    "build_student",
    "count_config_params",
    "init_from_teacher_",
    "layer_map",
    "run_scratch",
    "scratch_trainer",
    "student_shape",
]

TINYBERT = (4, 312, 1200, 12)
"""TinyBERT's student: (layers, hidden, intermediate, heads)."""

TOLERANCE = 0.05
"""A student shape hits its target when its parameter count is within 5% of it."""

MIN_HEAD_DIM = 16
"""Heads are dropped (from the teacher's count) until each has at least this many dimensions."""


@dataclass(frozen=True)
class StudentShape:
    """Depth and width of a from-scratch student and its parameter count."""

    layers: int
    hidden: int
    intermediate: int
    heads: int
    params: int


def count_config_params(config: PretrainedConfig) -> int:
    """Parameters of a sequence classifier built from ``config`` (on the meta device: no memory)."""
    with torch.device("meta"):
        model = AutoModelForSequenceClassification.from_config(config)
    return sum(p.numel() for p in model.parameters())


def _heads(hidden: int, teacher_heads: int) -> int:
    """The most heads (at most the teacher's) that divide ``hidden`` into >= 16-wide heads."""
    for heads in range(min(teacher_heads, hidden), 0, -1):
        if hidden % heads == 0 and (hidden // heads >= MIN_HEAD_DIM or heads == 1):
            return heads
    return 1


def _shaped(teacher: PretrainedConfig, layers: int, hidden: int) -> PretrainedConfig:
    """``teacher`` with ``layers`` layers of width ``hidden`` (TinyBERT's intermediate ratio)."""
    config = copy.deepcopy(teacher)
    config.num_hidden_layers = layers
    config.hidden_size = hidden
    config.intermediate_size = max(1, round(hidden * TINYBERT[2] / TINYBERT[1]))
    config.num_attention_heads = _heads(hidden, int(teacher.num_attention_heads))
    return config


def student_shape(teacher: PretrainedConfig, target_params: int) -> StudentShape:
    """The student shape whose parameter count is nearest ``target_params`` (within 5%).

    Searches a grid of depths (1 .. the teacher's) and widths (multiples of hidden/96, i.e. 4 for
    hidden 384, up to the teacher's hidden size; the parameter count grows with the width, so each depth is a bisection), with
    the intermediate size at TinyBERT's 1200/312 of the width. Among the shapes within 5% of the
    target it prefers TinyBERT's depth (4 layers, or the teacher's depth when smaller), then the
    smallest error. Raises :class:`LadaError` when no shape is that close.
    """
    teacher_layers, teacher_hidden = int(teacher.num_hidden_layers), int(teacher.hidden_size)
    step = max(1, teacher_hidden // 96)  # 4 for hidden 384, finer for narrow teachers
    widths = list(range(step, teacher_hidden + 1, step))
    preferred = min(TINYBERT[0], teacher_layers)
    candidates: list[StudentShape] = []
    for layers in range(1, teacher_layers + 1):
        low, high = 0, len(widths) - 1
        while low < high:  # the first width whose count reaches the target
            mid = (low + high) // 2
            if count_config_params(_shaped(teacher, layers, widths[mid])) < target_params:
                low = mid + 1
            else:
                high = mid
        for index in {max(0, low - 1), low}:
            config = _shaped(teacher, layers, widths[index])
            candidates.append(
                StudentShape(
                    layers,
                    int(config.hidden_size),
                    int(config.intermediate_size),
                    int(config.num_attention_heads),
                    count_config_params(config),
                )
            )

    def error(shape: StudentShape) -> float:
        return abs(shape.params - target_params) / target_params

    hits = [shape for shape in candidates if error(shape) <= TOLERANCE]
    if not hits:
        nearest = min(candidates, key=error)
        raise LadaError(
            f"no student of this architecture has {target_params:,} parameters within 5% "
            f"(nearest: {nearest.layers} layers x {nearest.hidden} hidden, {nearest.params:,})"
        )
    return min(hits, key=lambda shape: (abs(shape.layers - preferred), error(shape)))


def layer_map(student_layers: int, teacher_layers: int) -> tuple[int, ...]:
    """Teacher layer (0-based) of each student layer: ``round((i + 1) * T / S) - 1``."""
    return tuple(
        max(0, math.floor((i + 1) * teacher_layers / student_layers + 0.5) - 1)
        for i in range(student_layers)
    )


INITS = ("teacher", "random")


@torch.no_grad()
def init_from_teacher_(student: nn.Module, teacher: nn.Module, mapping: tuple[int, ...]) -> int:
    """Copy the teacher's weights into ``student`` (layer-dropped, width-sliced); return count.

    Student tensor ``<...>.layer.<i>.<rest>`` takes teacher ``<...>.layer.<mapping[i]>.<rest>``;
    every other tensor takes the teacher's tensor of the same name. Each copy keeps the leading
    ``student.shape`` slice of the teacher's tensor.
    """
    source = dict(teacher.state_dict())
    copied = 0
    for name, tensor in student.state_dict().items():
        match = re.search(r"\.(layer|layers)\.(\d+)\.", name)
        key = name
        if match is not None:
            mapped = mapping[int(match.group(2))]
            key = f"{name[: match.start()]}.{match.group(1)}.{mapped}.{name[match.end() :]}"
        original = source.get(key)
        if original is None or original.dim() != tensor.dim():
            continue
        if any(t > o for t, o in zip(tensor.shape, original.shape, strict=True)):
            continue
        tensor.copy_(original[tuple(slice(0, size) for size in tensor.shape)])
        copied += 1
    return copied


def build_student(
    teacher: nn.Module, target_ratio: float, seed: int = 0, init: str = "teacher"
) -> tuple[nn.Module, Alignment, StudentShape]:
    """A student of ``target_ratio`` times the teacher's parameters, initialised by ``init``.

    Returns the student (eager attention: distillation reads its attention maps), the
    :class:`Alignment` that maps it onto the teacher, and its shape.
    """
    if init not in INITS:
        raise LadaError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    if not 0.0 < target_ratio <= 1.0:
        raise LadaError(f"target ratio must be in (0, 1], got {target_ratio!r}")
    teacher_config: PretrainedConfig = teacher.config  # type: ignore[assignment]
    teacher_params = sum(p.numel() for p in teacher.parameters())
    shape = student_shape(teacher_config, round(target_ratio * teacher_params))
    config = _shaped(teacher_config, shape.layers, shape.hidden)
    torch.manual_seed(seed)
    student = AutoModelForSequenceClassification.from_config(config, attn_implementation="eager")
    width = int(teacher_config.hidden_size)
    mapping = layer_map(shape.layers, int(teacher_config.num_hidden_layers))
    if init == "teacher":
        init_from_teacher_(student, teacher, mapping)
    align = Alignment(
        mapping,
        embedding=nn.Linear(shape.hidden, width, bias=False),
        hidden=nn.Linear(shape.hidden, width, bias=False),
    )
    return student, align, shape


def run_scratch(
    teacher: nn.Module,
    tokenizer: Any,
    task: TaskData,
    training: TrainingSettings,
    *,
    target_ratio: float,
    device: torch.device,
    seed: int = 0,
    callback: IterationCallback | None = None,
    step_callback: StepCallback | None = None,
    init: str = "teacher",
) -> RunResult:
    """Distil a from-scratch student of ``target_ratio`` for ``iterations * steps`` steps.

    One continuous phase (one optimizer, one warm-up / decay schedule) with the training's
    objective and losses; the dev accuracy is reported to ``callback`` every ``training.steps``
    steps (as an "iteration", for symmetry with LadaBERT's schedule) and to ``step_callback``
    every ``training.eval_every`` steps.
    """
    _seed_everything(seed)
    teacher_params = sum(p.numel() for p in teacher.parameters())
    student, align, shape = build_student(teacher, target_ratio, seed, init)
    student.to(device)
    align.to(device)
    train = make_loader(
        encode(task.train, tokenizer, training.max_length), training.batch_size, shuffle=True, seed=seed
    )
    dev = make_loader(
        encode(task.dev, tokenizer, training.max_length),
        max(64, training.batch_size),
        shuffle=False,
        sort_by_length=True,
    )
    total_steps = training.iterations * training.steps
    settings = dataclasses.replace(training.settings(), steps=total_steps)
    curve = StepEvaluator(student, dev, training, device, step_callback)
    curve_hook = curve.hook(1)
    history: list[IterationRecord] = []
    started = time.perf_counter()
    boundary = {"seconds": 0.0, "last": started}

    def on_step(step: int) -> None:
        if curve_hook is not None:
            curve_hook(step)
        if step % training.steps:
            return
        evaluated = time.perf_counter()
        accuracy = evaluate(student, dev, ("accuracy",), device)["accuracy"]
        params = count_nonzero_params(student)
        now = time.perf_counter()
        boundary["seconds"] += now - evaluated
        iteration = step // training.steps
        record = IterationRecord(
            iteration, 1.0, 1.0, 1.0, accuracy, params, params / teacher_params, {},
            now - boundary["last"],
        )  # fmt: skip
        boundary["last"] = now
        history.append(record)
        if callback is not None:
            callback(iteration, accuracy, params, params / teacher_params)

    losses = distill_phase(
        student, teacher, _endless(train), settings, device, desc="scratch", align=align,
        on_step=on_step,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    evaluate_s = boundary["seconds"] + curve.seconds
    if history:
        history[-1] = dataclasses.replace(history[-1], losses=losses)
    return RunResult(
        student,
        history,
        teacher_params,
        {"compress_s": 0.0, "distill_s": elapsed - evaluate_s, "evaluate_s": evaluate_s},
        details={
            "method": "scratch",
            "student_init": init,
            "student_shape": asdict(shape),
            "p_embd": None,
            "p_svd": None,
            "p_weight": None,
        },
    )


def scratch_trainer(target_ratio: float, init: str = "teacher") -> Trainer:
    """A ``compress_job`` trainer that distils a small student of ``target_ratio`` (see ``init``)."""

    def trainer(
        teacher: nn.Module,
        tokenizer: Any,
        task: TaskData,
        training: TrainingSettings,
        *,
        device: torch.device,
        seed: int,
        callback: IterationCallback | None,
        step_callback: StepCallback | None,
    ) -> RunResult:
        return run_scratch(
            teacher,
            tokenizer,
            task,
            training,
            target_ratio=target_ratio,
            device=device,
            seed=seed,
            callback=callback,
            step_callback=step_callback,
            init=init,
        )

    return trainer
