"""Benchmark runs as studies in the study database: resumable, with their provenance.

Every run of every part is an Optuna trial of a study named ``bench-<profile>-<part>-<variant>-
<ratio>`` in the benchmark database. A study that already holds its trials is not run again, a
trial left RUNNING by an interrupted process is marked FAIL (and its parameters enqueued again),
so running the same command again continues where it stopped. Each trial stores its metrics as
user attributes (the keys of docs/ARCHITECTURE.md, plus ``timings``, ``curve``, ...) and its
provenance: ``bench_command``, ``bench_machine``, ``bench_date``.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from benchmarks.profiles import Profile
from ladasearch.compression.accounting import ParameterGroups, parameter_groups
from ladasearch.compression.ratios import Ratios
from ladasearch.errors import LadaError, StorageError
from ladasearch.search.dedupe import MAX_RESAMPLES, duplicate_reason, find_twin
from ladasearch.search.resume import stop_leftovers
from ladasearch.search.samplers import make_sampler, resumed_sampler
from ladasearch.search.space import GroupSizes, SearchSpace
from ladasearch.search.studydb.connect import open_storage
from ladasearch.search.studydb.urls import redact
from ladasearch.tasks import TaskSpec

__all__ = [
    "PROVENANCE_KEYS",
    "Bench",
    "Job",
    "machine_description",
    "ratio_label",
    "run_trials",
    "study_name",
]

PROVENANCE_KEYS = ("bench_command", "bench_machine", "bench_date")

KEPT_KEYS = (
    "accuracy", "test_accuracy", "teacher_accuracy", "teacher_test_accuracy", "params",
    "teacher_params", "ratio", "compression", "target_ratio", "predicted_ratio", "p_embd", "p_svd",
    "p_weight", "rejected_samples", "latency_ms", "latency_ms_b32", "teacher_latency_ms",
    "teacher_latency_ms_b32", "bytes_on_disk", "teacher_bytes_on_disk", "retained", "device",
    "method", "student_shape", "timings", "steps", "iterations",
)  # fmt: skip

Point = dict[str, Any]
"""A trial's ratios (``p_embd``, ``p_svd``, ``p_weight``) plus space attributes."""


def machine_description() -> str:
    """Platform, CPU model and count, and the GPU's name when there is one."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{platform.platform()}; {cpu}; {os.cpu_count()} CPUs; {gpu}"


def ratio_label(factor: float) -> str:
    """``5.0 -> "5x"``, ``7.5 -> "7.5x"`` (study names and tables)."""
    return f"{factor:g}x"


def study_name(profile: str, part: str, variant: str, factor: float | None = None) -> str:
    """``bench-<profile>-<part>-<variant>[-<ratio>]``."""
    tail = f"-{ratio_label(factor)}" if factor is not None else ""
    return f"bench-{profile}-{part}-{variant}{tail}"


@dataclass(frozen=True)
class Job:
    """How a trial trains: LadaBERT's schedule (``distill`` or ``finetune``) or a scratch student."""

    objective: str = "distill"
    scratch: bool = False
    eval_every: int | None = None
    measure_latency: bool = True
    save: bool = True  # export the model to measure its bytes on disk (then deleted)


@dataclass
class Bench:
    """One benchmark command: the profile, the database, where results go, the provenance."""

    profile: Profile
    storage_url: str
    results_dir: Path
    command: str
    cache_dir: Path | None = None
    echo: Callable[[str], None] = print
    device: str = "auto"  # auto: CUDA when visible, else CPU
    date: str = field(
        default_factory=lambda: dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    )
    machine: str = field(default_factory=machine_description)
    _storage: Any = None
    _groups: ParameterGroups | None = None

    @property
    def storage(self) -> Any:
        """The opened RDB storage (one-line StorageError when the database is dead)."""
        if self._storage is None:
            self._storage = open_storage(self.storage_url)
        return self._storage

    def task_spec(self) -> TaskSpec:
        """The profile's task."""
        return TaskSpec(
            self.profile.task,
            text_column=self.profile.text_column,
            label_column=self.profile.label_column,
        )

    def groups(self) -> ParameterGroups:
        """Eq. 7's parameter groups of the profile's model (loaded once)."""
        if self._groups is None:
            from ladasearch.models import load_classifier
            from ladasearch.tasks import load_task

            data = load_task(self.task_spec())
            model, _ = load_classifier(self.profile.model, data.label_names)
            self._groups = parameter_groups(model)
        return self._groups

    def sizes(self) -> GroupSizes:
        """The groups as the search spaces take them."""
        return GroupSizes.of(self.groups())

    def provenance(self) -> dict[str, str]:
        """The attributes that say where a number came from."""
        return {
            "bench_command": self.command,
            "bench_machine": self.machine,
            "bench_date": self.date,
        }

    def studies(self) -> dict[str, optuna.study.StudySummary]:
        """Summaries of the benchmark studies of this profile, by name."""
        try:
            summaries = optuna.get_all_study_summaries(self.storage, include_best_trial=False)
        except Exception as exc:
            raise StorageError(f"study database {redact(self.storage_url)}: {exc}") from exc
        prefix = f"bench-{self.profile.name}-"
        return {s.study_name: s for s in summaries if s.study_name.startswith(prefix)}

    def check_subject(self) -> None:
        """One-line :class:`LadaError` when this profile's studies in the database measured
        another model or task (their runs would otherwise be reported as this command's).
        A study that recorded no subject (one made before the record existed) is taken as is."""
        wanted = self.profile.subject()
        for name, summary in self.studies().items():
            stored = summary.user_attrs.get("subject")
            if stored is not None and stored != wanted:
                raise LadaError(
                    f"study {name} in {redact(self.storage_url)} holds runs of model "
                    f"`{stored.get('model')}` on task `{stored.get('task')}`, not "
                    f"`{wanted['model']}` on `{wanted['task']}`: pass --storage with another "
                    "database"
                )

    def wall_seconds(self) -> float:
        """Wall time of every finished trial of this profile's in-process studies, summed."""
        total = 0.0
        for name in self.studies():  # one summary query, then each study once
            study = optuna.load_study(study_name=name, storage=self.storage)
            for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
                total += float(trial.user_attrs.get("wall_s", 0.0) or 0.0)
        return total

    def last_finished(self) -> dt.date | None:
        """The date the newest finished trial of this profile's studies completed (None: no run)."""
        dates = [
            trial.datetime_complete.date()
            for name in self.studies()
            for trial in optuna.load_study(study_name=name, storage=self.storage).get_trials(
                deepcopy=False, states=(TrialState.COMPLETE,)
            )
            if trial.datetime_complete is not None
        ]
        return max(dates) if dates else None

    def trials(self, name: str) -> list[FrozenTrial]:
        """The finished (COMPLETE) trials of study ``name``, by number; [] when it does not exist."""
        try:  # one lookup by name, not a listing of every study per call
            study = optuna.load_study(study_name=name, storage=self.storage)
        except KeyError:
            return []
        done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
        return sorted(done, key=lambda t: t.number)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _ask_new(
    study: optuna.Study, propose: Callable[[optuna.Trial], Point], groups: ParameterGroups
) -> tuple[optuna.Trial, Point]:
    """A trial whose point no COMPLETE or RUNNING trial has (the engine's rounding); a repeat is
    told FAIL ``duplicate:`` and the sampler asked again, as the search service does."""
    for _ in range(MAX_RESAMPLES):
        trial = study.ask()
        point = propose(trial)
        twin = find_twin(point, study.get_trials(deepcopy=False), groups, exclude=trial.number)
        if twin is None:
            return trial, point
        trial.set_user_attr("duplicate_of", twin)
        trial.set_user_attr("fail_reason", duplicate_reason(twin))
        study.tell(trial, state=TrialState.FAIL)
    raise StorageError(
        f"study {study.study_name}: {MAX_RESAMPLES} proposals in a row repeat trials already run"
    )


def _execute(
    bench: Bench,
    point: Point,
    job: Job,
    seed: int,
    on_curve: Callable[[int, Mapping[str, float]], None],
) -> dict[str, Any]:
    """One engine run (``compress_job``) for ``point``; its metrics."""
    import torch

    from ladasearch.compression.pipeline import compress_job
    from ladasearch.compression.scratch import scratch_trainer

    ratios = Ratios(point["p_embd"], point["p_svd"], point["p_weight"])
    out = Path(tempfile.mkdtemp(prefix="bench-model-")) if job.save else None
    try:
        return compress_job(
            model=bench.profile.model,
            task=bench.task_spec(),
            ratios=ratios,
            training=point["budget"].training_settings(job.objective, job.eval_every),
            teacher_config=bench.profile.teacher_config(),
            seed=seed,
            device=bench.device
            if bench.device != "auto"
            else ("cuda" if torch.cuda.is_available() else "cpu"),
            out_dir=out / "model" if out else None,
            measure_latency=job.measure_latency,
            cache_dir=bench.cache_dir,
            quiet=True,
            step_callback=on_curve if job.eval_every else None,
            trainer=scratch_trainer(point["target_ratio"]) if job.scratch else None,
        )
    finally:
        if out is not None:
            shutil.rmtree(out, ignore_errors=True)


def _recorder(curve: list[list[float]]) -> Callable[[int, Mapping[str, float]], None]:
    """A step callback that appends (step, dev accuracy) to ``curve``."""

    def record(step: int, scores: Mapping[str, float]) -> None:
        curve.append([step, scores["accuracy"]])

    return record


def run_trials(
    bench: Bench,
    name: str,
    *,
    trials: int,
    propose: Callable[[optuna.Trial], Point],
    job: Job,
    budget: Any,
    seed: int = 0,
    sampler: str = "tpe",
    enqueue: list[dict[str, float]] | None = None,
    attrs: dict[str, Any] | None = None,
) -> list[FrozenTrial]:
    """Run study ``name`` until it holds ``trials`` finished trials; return them.

    ``propose(trial)`` suggests the trial's parameters and returns its point (ratios,
    ``target_ratio``, ...); ``budget`` is the :class:`RunBudget` of every trial; ``enqueue`` lists
    parameter dicts tried first (a fresh study only); ``attrs`` become study user attributes.
    """
    study = optuna.create_study(
        storage=bench.storage,
        study_name=name,
        direction="maximize",
        sampler=make_sampler(sampler, seed),
        load_if_exists=True,
    )
    fresh = not study.user_attrs
    if not fresh:  # a resumed study must not replay the first run's draws
        study.sampler = resumed_sampler(sampler, seed, len(study.get_trials(deepcopy=False)))
    else:
        subject = bench.profile.subject()
        for key, value in {"part": name.split("-")[2], "subject": subject, **(attrs or {})}.items():
            study.set_user_attr(key, _json_safe(value))
        for params in enqueue or []:
            study.enqueue_trial(params, user_attrs={"enqueued": True})
    running = [t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))]
    # left RUNNING by an interrupted command (benchmarks run one at a time): FAIL, enqueued again
    stop_leftovers(study, bench.storage, running, "stale: interrupted")
    finished = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    for _ in range(trials - len(finished)):
        trial, point = _ask_new(study, propose, bench.groups())
        point = {**point, "budget": budget}
        curve: list[list[float]] = []
        for key, value in point.items():
            if key != "budget" and value is not None:
                trial.set_user_attr(key, _json_safe(value))
        for key, value in bench.provenance().items():
            trial.set_user_attr(key, value)
        started = time.perf_counter()
        try:
            metrics = _execute(bench, point, job, seed, _recorder(curve))
        except Exception as exc:
            trial.set_user_attr(
                "fail_reason", " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            )
            study.tell(trial, state=TrialState.FAIL)
            bench.echo(f"{name} #{trial.number}: FAILED ({type(exc).__name__}: {exc})")
            raise
        wall = time.perf_counter() - started
        for key in KEPT_KEYS:
            if metrics.get(key) is not None and key not in (
                "target_ratio",
                "predicted_ratio",
                "rejected_samples",
            ):
                trial.set_user_attr(key, _json_safe(metrics[key]))
        if curve:
            trial.set_user_attr("curve", curve)
        trial.set_user_attr("objective", job.objective)
        trial.set_user_attr("wall_s", wall)
        study.tell(trial, float(metrics["accuracy"]))
        bench.echo(
            f"{name} #{trial.number}: dev {metrics['accuracy']:.4f}, test "
            f"{metrics['test_accuracy']:.4f}, ratio {metrics['ratio']:.4f} "
            f"({1 / metrics['ratio']:.2f}x), {wall:.1f} s"
        )
    return bench.trials(name)


def space_proposal(space: SearchSpace) -> Callable[[optuna.Trial], Point]:
    """A ``propose`` that samples ``space`` (the search service's define-by-run function)."""

    def propose(trial: optuna.Trial) -> Point:
        return dict(space(trial))

    return propose


def fixed_proposal(ratios: dict[str, float], target: float) -> Callable[[optuna.Trial], Point]:
    """A ``propose`` that always returns ``ratios`` (a baseline at a fixed configuration)."""

    def propose(trial: optuna.Trial) -> Point:
        return {**ratios, "target_ratio": target}

    return propose
