"""The iterative LadaBERT compress-distill loop (section 3.1): :func:`run_ladabert`.

The student starts as a copy of the fine-tuned teacher. Over K iterations each of the three ratios
moves from 1 to its target along the schedule (:func:`~ladasearch.compression.schedule.ratios_at`);
every iteration first compresses further (ranks re-truncated, sparsity raised by magnitude, masks
kept) and then distils the student from the teacher. After each iteration the dev accuracy,
nonzero parameters and overall ratio go to a callback, so that a search can stop a bad trial
early. With ``TrainingSettings.eval_every`` a second callback receives the dev accuracy every that
many training steps (learning curves). ``TrainingSettings.objective = "finetune"`` trains on the
labels instead of distilling (a baseline). :class:`Trainer` is the contract another student
builder (:mod:`ladasearch.compression.scratch`) fulfils to be scored by ``compress_job`` alike.
"""

from __future__ import annotations

import copy
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor, nn

from ladasearch.compression.accounting import count_nonzero_params, parameter_groups
from ladasearch.compression.distill import (
    distill_phase,
)
from ladasearch.compression.evaluate import (
    evaluate,
    evaluate_predictions,
)
from ladasearch.compression.factorize import Factorizer
from ladasearch.compression.plan import compress_
from ladasearch.compression.process_memo import encoded
from ladasearch.compression.ratios import Ratios
from ladasearch.compression.schedule import TrainingSettings, ratios_at
from ladasearch.compression.teacher_outputs import TeacherOutputCache
from ladasearch.tasks import TaskData, make_loader

__all__ = [
    "IterationCallback",
    "IterationCheckpoint",
    "IterationRecord",
    "RunResult",
    "StepCallback",
    "StepEvaluator",
    "Trainer",
    "run_ladabert",
]

log = logging.getLogger(__name__)

IterationCallback = Callable[[int, float, int, float], None]
"""Called after each iteration with (iteration (1-based), dev accuracy, nonzero params, ratio)."""

StepCallback = Callable[[int, Mapping[str, float]], "bool | None"]
"""Called every ``eval_every`` training steps with (global step (1-based), dev scores: ``accuracy``
and ``nll``, the gold labels' mean negative log-likelihood); returning ``False`` ends the curve
(no further dev passes, e.g. after an early-stopping rung)."""


@dataclass(frozen=True)
class IterationRecord:
    """What one iteration of the schedule did and reached."""

    iteration: int
    p_embd: float
    p_svd: float
    p_weight: float
    accuracy: float
    params: int
    ratio: float
    losses: dict[str, float]
    seconds: float


@dataclass
class RunResult:
    """The compressed student and the history of its schedule."""

    student: nn.Module
    history: list[IterationRecord]
    teacher_params: int
    timings: dict[str, float]
    details: dict[str, Any] = field(default_factory=dict)  # merged into compress_job's metrics


class IterationCheckpoint(Protocol):
    """Keeps a run's student after each finished iteration, so that a crashed run continues.

    ``restore`` rebuilds a saved student into ``student`` (a copy of the teacher) and returns
    the next iteration to run (1 when nothing was saved) and the records of the saved ones.
    """

    def restore(self, student: nn.Module) -> tuple[int, list[IterationRecord]]: ...

    def save(self, iteration: int, student: nn.Module, history: list[IterationRecord]) -> None: ...


class Trainer(Protocol):
    """Builds and trains a student from the teacher: ``run_ladabert`` or a baseline's trainer."""

    def __call__(
        self,
        teacher: nn.Module,
        tokenizer: Any,
        task: TaskData,
        training: TrainingSettings,
        *,
        device: torch.device,
        seed: int,
        callback: IterationCallback | None,
        step_callback: StepCallback | None,
    ) -> RunResult: ...


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _endless(loader: torch.utils.data.DataLoader) -> Iterator[dict[str, Tensor]]:
    """Pass after pass over ``loader`` (each pass reshuffled by its seeded batch sampler)."""
    while True:
        yield from loader


class StepEvaluator:
    """The ``on_step`` hook of a phase that scores dev every ``training.eval_every`` global steps.

    ``seconds`` accumulates the time spent evaluating (so callers can keep it out of training).
    Each dev pass runs under a forked CPU RNG: a DataLoader pass draws its base seed from the
    global generator, so without the fork a pass would shift the dropout masks of the steps
    after it, and a study that reviews its trials (early stopping, learning curves) would train
    them differently from one that does not.
    """

    def __init__(
        self,
        student: nn.Module,
        dev: torch.utils.data.DataLoader,
        training: TrainingSettings,
        device: torch.device,
        step_callback: StepCallback | None,
    ) -> None:
        self.student = student
        self.dev = dev
        self.every = training.eval_every if step_callback is not None else None
        self.steps = training.steps
        self.device = device
        self.step_callback = step_callback
        self.seconds = 0.0
        self.iteration = 1

    def hook(self, iteration: int) -> Callable[[int], None] | None:
        """The ``on_step`` for phase ``iteration`` (1-based), or None when no curve is wanted."""
        self.iteration = iteration
        return self._on_step if self.every is not None else None

    def _on_step(self, step: int) -> None:
        global_step = (self.iteration - 1) * self.steps + step
        if self.every is None or self.step_callback is None or global_step % self.every:
            return
        started = time.perf_counter()
        with torch.random.fork_rng(devices=[]):  # the review leaves training's RNG untouched
            scores = evaluate(self.student, self.dev, ("accuracy", "nll"), self.device)
        self.seconds += time.perf_counter() - started
        if self.step_callback(global_step, scores) is False:
            self.every = None  # the caller wants no more dev passes


def run_ladabert(
    teacher: nn.Module,
    tokenizer: Any,
    task: TaskData,
    ratios: Ratios,
    training: TrainingSettings,
    *,
    device: torch.device,
    seed: int = 0,
    callback: IterationCallback | None = None,
    step_callback: StepCallback | None = None,
    checkpoint: IterationCheckpoint | None = None,
    factorizer: Factorizer | None = None,
    teacher_cache: TeacherOutputCache | None = None,
) -> RunResult:
    """Compress a copy of ``teacher`` to ``ratios`` in ``training.iterations`` compress-train steps.

    With ``checkpoint``, the student is saved after each iteration and a saved one resumes.

    Each phase distils (or, with ``training.objective = "finetune"``, fine-tunes on the labels);
    ``step_callback`` gets the dev scores every ``training.eval_every`` steps. ``factorizer``
    factorizes dense matrices (plain SVD when None). The last iteration's dev evaluation is kept
    in ``details["_dev"]`` (scores, per-example predictions) so that it is not run twice.
    """
    _seed_everything(seed)
    teacher_params = parameter_groups(teacher).total
    student = copy.deepcopy(teacher).to(device)
    first, history = checkpoint.restore(student) if checkpoint else (1, [])
    student.to(device)
    train = make_loader(
        encoded(task.train, tokenizer, training.max_length),
        training.batch_size,
        shuffle=True,
        seed=seed,
    )
    dev = make_loader(
        encoded(task.dev, tokenizer, training.max_length),
        max(64, training.batch_size),
        shuffle=False,
        sort_by_length=True,
    )
    batches = _endless(train)
    settings = training.settings()
    curve = StepEvaluator(student, dev, training, device, step_callback)
    timings = {"compress_s": 0.0, "distill_s": 0.0, "evaluate_s": 0.0}
    for iteration in range(first, training.iterations + 1):
        started = time.perf_counter()
        current = ratios_at(ratios, iteration, training.iterations, training.schedule)
        compress_(student, current, factorizer=factorizer)
        compressed = time.perf_counter()
        curve_before = curve.seconds
        losses = distill_phase(
            student,
            teacher,
            batches,
            settings,
            device,
            desc=f"iteration {iteration}/{training.iterations}",
            on_step=curve.hook(iteration),
            teacher_cache=teacher_cache,
        )
        distilled = time.perf_counter()
        scores, predictions = evaluate_predictions(student, dev, task.metrics, device)
        accuracy = scores["accuracy"]
        params = count_nonzero_params(student)
        ratio = params / teacher_params
        finished = time.perf_counter()
        curve_s = curve.seconds - curve_before
        timings["compress_s"] += compressed - started
        timings["distill_s"] += distilled - compressed - curve_s
        timings["evaluate_s"] += finished - distilled + curve_s
        record = IterationRecord(
            iteration,
            current.p_embd,
            current.p_svd,
            current.p_weight,
            accuracy,
            params,
            ratio,
            losses,
            finished - started,
        )
        history.append(record)
        if checkpoint is not None:
            checkpoint.save(iteration, student, history)
        log.info(
            "iteration %d: dev accuracy %.4f, %d params (ratio %.4f), losses %s",
            iteration,
            accuracy,
            params,
            ratio,
            losses,
        )
        if callback is not None:
            callback(iteration, accuracy, params, ratio)
    if first > training.iterations:  # every iteration was restored from the checkpoint
        scores, predictions = evaluate_predictions(student, dev, task.metrics, device)
    return RunResult(student, history, teacher_params, timings, {"_dev": (scores, predictions)})
