"""The iterative LadaBERT loop (section 3.1) and ``compress_job``, the one call a trial makes.

The student starts as a copy of the fine-tuned teacher. Over K iterations each of the three ratios
moves linearly from 1 to its target; every iteration first compresses further (re-truncating ranks
by SVD of the current product, raising sparsity by magnitude) and then distils the student from the
teacher. After each iteration the dev accuracy, nonzero parameters and overall ratio go to a
callback, so that a search can stop a bad trial early. With ``TrainBudget.eval_every`` a second
callback receives the dev accuracy every that many training steps (learning curves).
``TrainBudget.objective = "finetune"`` trains on the labels instead of distilling (a baseline).
``compress_job`` takes another ``trainer`` (e.g. :mod:`ladasearch.compression.scratch`'s student
trained from scratch) and scores it the same way.
"""

from __future__ import annotations

import copy
import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor, nn

from ladasearch.compression.attention import attention_kernel
from ladasearch.compression.budget import Ratios, count_nonzero_params, parameter_groups
from ladasearch.compression.distill import (
    LossWeights,
    TrainingDiverged,
    distill_phase,
)
from ladasearch.compression.evaluate import (
    evaluate,
    evaluate_predictions,
    file_sha256,
    folder_bytes,
)
from ladasearch.compression.factor_stats import load_factorizer
from ladasearch.compression.factorize import Factorizer
from ladasearch.compression.plan import compress_
from ladasearch.compression.process_memo import remember
from ladasearch.compression.process_memo import stats as memo_stats
from ladasearch.compression.schedule import TrainBudget, ratios_at
from ladasearch.compression.serialize import save_compressed
from ladasearch.compression.teacher import TeacherConfig, get_teacher
from ladasearch.compression.teacher_outputs import TeacherOutputCache, shared_cache
from ladasearch.device import resolve_device
from ladasearch.progress import announce
from ladasearch.tasks import TaskData, TaskSpec, encode, load_task, make_loader

__all__ = [
    "IterationCallback",
    "IterationCheckpoint",
    "IterationRecord",
    "LossWeights",
    "RunResult",
    "StepCallback",
    "StepEvaluator",
    "TrainBudget",
    "Trainer",
    "TrainingDiverged",
    "compress_job",
    "ratios_at",
    "run_ladabert",
]

log = logging.getLogger(__name__)

IterationCallback = Callable[[int, float, int, float], None]
"""Called after each iteration with (iteration (1-based), dev accuracy, nonzero params, ratio)."""

StepCallback = Callable[[int, float], "bool | None"]
"""Called every ``eval_every`` training steps with (global step (1-based), dev accuracy);
returning ``False`` ends the curve (no further dev passes, e.g. after an early-stopping rung)."""


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
        budget: TrainBudget,
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
    """The ``on_step`` hook of a phase that scores dev every ``budget.eval_every`` global steps.

    ``seconds`` accumulates the time spent evaluating (so callers can keep it out of training).
    """

    def __init__(
        self,
        student: nn.Module,
        dev: torch.utils.data.DataLoader,
        budget: TrainBudget,
        device: torch.device,
        step_callback: StepCallback | None,
    ) -> None:
        self.student = student
        self.dev = dev
        self.every = budget.eval_every if step_callback is not None else None
        self.steps = budget.steps
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
        accuracy = evaluate(self.student, self.dev, ("accuracy",), self.device)["accuracy"]
        self.seconds += time.perf_counter() - started
        if self.step_callback(global_step, accuracy) is False:
            self.every = None  # the caller wants no more dev passes


def run_ladabert(
    teacher: nn.Module,
    tokenizer: Any,
    task: TaskData,
    ratios: Ratios,
    budget: TrainBudget,
    *,
    device: torch.device,
    seed: int = 0,
    callback: IterationCallback | None = None,
    step_callback: StepCallback | None = None,
    checkpoint: IterationCheckpoint | None = None,
    factorizer: Factorizer | None = None,
    teacher_cache: TeacherOutputCache | None = None,
) -> RunResult:
    """Compress a copy of ``teacher`` to ``ratios`` in ``budget.iterations`` compress-train steps.

    With ``checkpoint``, the student is saved after each iteration and a saved one resumes.

    Each phase distils (or, with ``budget.objective = "finetune"``, fine-tunes on the labels);
    ``step_callback`` gets the dev accuracy every ``budget.eval_every`` steps. ``factorizer``
    factorizes dense matrices (plain SVD when None). The last iteration's dev evaluation is kept
    in ``details["_dev"]`` (scores, per-example predictions) so that it is not run twice.
    """
    _seed_everything(seed)
    teacher_params = parameter_groups(teacher).total
    student = copy.deepcopy(teacher).to(device)
    first, history = checkpoint.restore(student) if checkpoint else (1, [])
    student.to(device)
    train = make_loader(
        _encoded(task.train, tokenizer, budget.max_length),
        budget.batch_size,
        shuffle=True,
        seed=seed,
    )
    dev = make_loader(
        _encoded(task.dev, tokenizer, budget.max_length),
        max(64, budget.batch_size),
        shuffle=False,
        sort_by_length=True,
    )
    batches = _endless(train)
    settings = budget.settings()
    curve = StepEvaluator(student, dev, budget, device, step_callback)
    timings = {"compress_s": 0.0, "distill_s": 0.0, "evaluate_s": 0.0}
    for iteration in range(first, budget.iterations + 1):
        started = time.perf_counter()
        current = ratios_at(ratios, iteration, budget.iterations, budget.schedule)
        compress_(student, current, factorizer=factorizer)
        compressed = time.perf_counter()
        curve_before = curve.seconds
        losses = distill_phase(
            student,
            teacher,
            batches,
            settings,
            device,
            desc=f"iteration {iteration}/{budget.iterations}",
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
    if first > budget.iterations:  # every iteration was restored from the checkpoint
        scores, predictions = evaluate_predictions(student, dev, task.metrics, device)
    return RunResult(student, history, teacher_params, timings, {"_dev": (scores, predictions)})


def compress_job(
    *,
    model: str,
    task: TaskSpec,
    ratios: Ratios,
    budget: TrainBudget,
    teacher_config: TeacherConfig,
    seed: int = 0,
    device: str = "auto",
    out_dir: Path | None = None,
    callback: IterationCallback | None = None,
    measure_latency: bool = True,
    cache_dir: Path | None = None,
    quiet: bool = False,
    step_callback: StepCallback | None = None,
    trainer: Trainer | None = None,
    checkpoint: IterationCheckpoint | None = None,
    score_test: bool = True,
) -> dict[str, Any]:
    """Run one LadaBERT compress-distill job end to end; return its metrics.

    Loads the task, gets the (cached) teacher, runs the iterative schedule, evaluates dev and test,
    measures latency (batch 1 and 32, 64 tokens) on ``device`` and, with ``out_dir``, saves the
    compressed model there. Keys are those of docs/ARCHITECTURE.md. ``step_callback`` receives
    the dev accuracy every ``budget.eval_every`` steps. ``trainer`` replaces the LadaBERT
    schedule (``ratios`` is then only recorded); its ``RunResult.details`` join the metrics.
    ``score_test=False`` skips the test set (a search that selects on dev and reports test only
    for the trials it shows): ``test_accuracy`` and ``retained`` are then absent. The per-example
    predictions (``dev_predictions``, ``test_predictions``) allow paired tests between runs.
    """
    started = time.perf_counter()
    memo_before = memo_stats()["hits"]
    torch_device = resolve_device(device)
    data = remember(("task", json.dumps(task.to_dict(), sort_keys=True)), lambda: load_task(task))
    if not quiet:
        announce(f"task {data.describe()}")
        announce(
            f"teacher: {model}, fine-tuned for {teacher_config.describe(len(data.train))} "
            "or taken from the cache"
        )
    teacher = get_teacher(
        model, data, teacher_config, device=torch_device, cache_dir=cache_dir, quiet=quiet
    )
    if not quiet:
        announce(
            f"teacher: dev accuracy {teacher.dev_metrics['accuracy']:.4f}, test accuracy "
            f"{teacher.test_metrics['accuracy']:.4f}{' (cached)' if teacher.cached else ''}; "
            f"student: {budget.iterations} iterations x {budget.steps} distillation steps on {torch_device}"
        )
    factorizer = remember(
        (
            "factorizer",
            budget.factorization,
            str(teacher.path),
            str(torch_device),
            budget.max_length,
        ),
        lambda: load_factorizer(
            budget.factorization,
            teacher.model,
            teacher.tokenizer,
            data,
            cache_folder=teacher.path,
            device=torch_device,
            max_length=budget.max_length,
        ),
    )
    teacher_cache = None
    if budget.teacher_cache_mb > 0 and budget.objective == "distill":
        teacher_cache = shared_cache(teacher.path / "outputs", budget.teacher_cache_mb << 20)
        counts_before = (teacher_cache.hits, teacher_cache.misses)
    teacher_ready = time.perf_counter()
    if trainer is None:
        result = run_ladabert(
            teacher.model,
            teacher.tokenizer,
            data,
            ratios,
            budget,
            device=torch_device,
            seed=seed,
            callback=callback,
            step_callback=step_callback,
            checkpoint=checkpoint,
            factorizer=factorizer,
            teacher_cache=teacher_cache,
        )
    else:
        result = trainer(
            teacher.model,
            teacher.tokenizer,
            data,
            budget,
            device=torch_device,
            seed=seed,
            callback=callback,
            step_callback=step_callback,
        )
    student = result.student
    trained = time.perf_counter()
    dev_metrics, dev_predictions = result.details.pop("_dev", (None, None))
    if dev_metrics is None:  # another trainer: score dev here (once)
        dev = _sorted_loader(data.dev, teacher.tokenizer, budget.max_length)
        dev_metrics, dev_predictions = evaluate_predictions(
            student, dev, data.metrics, torch_device
        )
    test_metrics: dict[str, float] = {}
    test_predictions: list[int] | None = None
    if score_test:
        test = _sorted_loader(data.test, teacher.tokenizer, budget.max_length)
        test_metrics, test_predictions = evaluate_predictions(
            student, test, data.metrics, torch_device
        )
    last = result.history[-1]
    metrics: dict[str, Any] = {
        "model": model,
        "task": data.name,
        "accuracy": dev_metrics["accuracy"],
        "teacher_accuracy": teacher.dev_metrics["accuracy"],
        "teacher_test_accuracy": teacher.test_metrics["accuracy"],
        "params": last.params,
        "teacher_params": result.teacher_params,
        "ratio": last.ratio,
        "compression": result.teacher_params / last.params,
        "p_embd": ratios.p_embd,
        "p_svd": ratios.p_svd,
        "p_weight": ratios.p_weight,
        "iterations": budget.iterations,
        "steps": budget.steps,
        "budget": asdict(budget),
        "seed": seed,
        "device": str(torch_device),
        "history": [asdict(record) for record in result.history],
        **result.details,
    }
    metrics.update(teacher.majority_fields())  # the majority-class baseline beside both
    metrics["dev_predictions"] = dev_predictions
    if "f1" in data.metrics:
        metrics["f1"] = dev_metrics["f1"]
        metrics["teacher_f1"] = teacher.dev_metrics.get("f1")
    if score_test:
        metrics["test_accuracy"] = test_metrics["accuracy"]
        metrics["test_predictions"] = test_predictions
        if "f1" in data.metrics:
            metrics["test_f1"] = test_metrics["f1"]
        metrics["retained"] = metrics["test_accuracy"] / max(
            metrics["teacher_test_accuracy"], 1e-12
        )
    evaluated = time.perf_counter()
    if measure_latency:
        from ladasearch.compression.bench import deployed_latency

        with attention_kernel(teacher.model, "sdpa"):  # inference speed; no attention maps
            metrics.update(
                deployed_latency(student, teacher.model, teacher.tokenizer, torch_device)
            )
    if out_dir is not None:
        folder = save_compressed(
            student, teacher.tokenizer, Path(out_dir), metadata=_card_metadata(metrics, task)
        )
        metrics["model_dir"] = str(Path(folder).resolve())
        metrics["bytes_on_disk"] = folder_bytes(Path(folder) / "model.safetensors")
        metrics["model_sha256"] = file_sha256(Path(folder) / "model.safetensors")
        metrics["teacher_bytes_on_disk"] = folder_bytes(teacher.path / "model.safetensors")
    finished = time.perf_counter()
    evaluation_s = result.timings.get("evaluate_s", 0.0) + (evaluated - trained)
    metrics["timings"] = {
        "teacher_s": teacher_ready - started,
        **result.timings,
        "final_evaluate_s": evaluated - trained,
        "latency_and_save_s": finished - evaluated,
        "total_s": finished - started,
        "teacher_cached": teacher.cached,
        "evaluation_share": evaluation_s / max(finished - started, 1e-12),
        "worker_reused": memo_stats()["hits"] - memo_before,  # built by an earlier trial
    }
    if teacher_cache is not None:
        metrics["timings"]["teacher_outputs_cached"] = teacher_cache.hits - counts_before[0]
        metrics["timings"]["teacher_outputs_computed"] = teacher_cache.misses - counts_before[1]
    return metrics


def _encoded(examples: Any, tokenizer: Any, max_length: int) -> Any:
    """``encode``, once per split, tokenizer and length in a search worker (``process_memo``)."""
    key = ("encode", id(examples), id(tokenizer), max_length)
    return remember(key, lambda: encode(examples, tokenizer, max_length), examples, tokenizer)


def _sorted_loader(examples: Any, tokenizer: Any, max_length: int) -> Any:
    """An evaluation loader of length-sorted batches of 64 (predictions come back in order)."""
    return make_loader(
        _encoded(examples, tokenizer, max_length), 64, shuffle=False, sort_by_length=True
    )


def _card_metadata(metrics: dict[str, Any], task: TaskSpec) -> dict[str, Any]:
    keep = (
        "model",
        "task",
        "accuracy",
        "test_accuracy",
        "teacher_accuracy",
        "teacher_test_accuracy",
        "majority_test_accuracy",
        "params",
        "teacher_params",
        "ratio",
        "p_embd",
        "p_svd",
        "p_weight",
        "iterations",
        "steps",
        "budget",
        "seed",
        "f1",
        "test_f1",
    )
    card = {key: metrics[key] for key in keep if key in metrics}
    card["task_spec"] = task.to_dict()
    return card
