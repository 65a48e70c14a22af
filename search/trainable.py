"""The Ray Tune function trainable: one trial = one ``compress_job`` (the engine's one call).

The trial writes its own record into the study database: Optuna's trial heartbeat every 5 s
(resume tells a dead trial from a live one by it; the driver beats for it too), the
per-iteration ``history``, then every
metric of docs/ARCHITECTURE.md as user attributes. Each finished iteration is reported to Tune
(``accuracy``, ``params``, ``ratio``, ``iteration``, ``final``); the last iteration is reported
once, with the full metrics and ``final = 1``, after the engine's final evaluation, so a trial
that ASHA stops always ends with ``final = 0``. An exception (``TrainingDiverged`` on a NaN loss,
or anything else) is caught: the trial records ``fail_reason`` (one line) and reports
``failed = 1``; the searcher then tells Optuna FAIL and the search goes on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ladasearch.compression.ratios import RATIO_KEYS
from ladasearch.search.early_stopping import RungGate, RungStopped
from ladasearch.search.study_sections import TeacherSettings, TrialSettings
from ladasearch.search.study_settings import teacher_config as study_teacher_config
from ladasearch.search.study_settings import training_settings, trial_settings_of
from ladasearch.tasks import TaskSpec

__all__ = [
    "HEARTBEAT_SECONDS",
    "METRIC_KEYS",
    "TrialContext",
    "one_line",
    "run_trial",
    "teacher_config",
]

HEARTBEAT_SECONDS = 5.0

METRIC_KEYS = (
    "accuracy", "test_accuracy", "f1", "test_f1", "teacher_accuracy", "teacher_test_accuracy",
    "params", "teacher_params", "ratio", "target_ratio", *RATIO_KEYS,
    "latency_ms", "latency_ms_b32", "teacher_latency_ms", "teacher_latency_ms_b32", "bytes_on_disk", "teacher_bytes_on_disk", "retained",
    "model_dir", "model_sha256", "factorization",
    "majority_accuracy", "majority_test_accuracy", "teacher_majority_p", "teacher_significant",
    "student_majority_p", "student_significant", "student_test_majority_p",
    "student_test_significant",
)  # fmt: skip
"""The metric keys of docs/ARCHITECTURE.md stored as trial user attributes."""


@dataclass(frozen=True)
class TrialContext:
    """Everything a trial needs besides its ratios (the same for all trials of a study)."""

    storage_url: str
    study_name: str
    model: str
    task: TaskSpec
    trial: TrialSettings
    teacher: TeacherSettings
    seed: int
    study_dir: str
    keep_models: bool
    cpus: float
    cache_dir: str | None = None
    early_stopping: Any = None  # EarlyStopping (search/early_stopping.py): MOASHA rungs


def one_line(exc: BaseException) -> str:
    """``Type: message`` on one line, at most 300 characters."""
    text = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def teacher_config(context: TrialContext) -> Any:
    """The study's ``TeacherConfig`` (the same in the driver and every trial: one cache key).

    Its seed is ``teacher.seed`` when the study file sets one, else the study's seed.
    """
    return study_teacher_config(
        context.teacher, study_seed=context.seed, max_length=context.trial.max_length
    )


class _TrialRecord:
    """Writes one Optuna trial's user attributes; a background thread keeps its heartbeat."""

    def __init__(self, context: TrialContext, number: int) -> None:
        from ladasearch.search.worker import worker_storage

        self.storage = worker_storage(context.storage_url)  # one per worker process
        study_id = self.storage.get_study_id_from_name(context.study_name)
        self.trial_id = self.storage.get_trial_id_from_study_id_trial_number(study_id, number)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="ladasearch-heartbeat", daemon=True)

    def set(self, key: str, value: Any) -> None:
        with self._lock:
            self.storage.set_trial_user_attr(self.trial_id, key, value)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            with contextlib.suppress(Exception):  # a busy SQLite file: the next beat will do
                self.storage.record_heartbeat(self.trial_id)  # Optuna's trial heartbeat

    def __enter__(self) -> _TrialRecord:
        self.set("heartbeat", time.time())  # when the trial's own process started it
        with contextlib.suppress(Exception):
            self.storage.record_heartbeat(self.trial_id)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _checkpoint(context: TrialContext, config: dict[str, Any], record: _TrialRecord) -> Any:
    """The trial's per-iteration checkpoint; a retried trial restores the one it retries."""
    from ladasearch.search.checkpoint import TrialCheckpoint

    study_dir = Path(context.study_dir)
    number = int(config["_trial_number"])
    retry_of = record.storage.get_trial_user_attrs(record.trial_id).get("retry_of")
    sources = (study_dir / f"trial_{retry_of}" / "checkpoint",) if retry_of is not None else ()
    key = {
        "model": context.model,
        "seed": context.seed,
        "ratios": [config["p_embd"], config["p_svd"], config["p_weight"]],
        "trial": dataclasses.asdict(trial_settings_of(config, context.trial)),
    }
    return TrialCheckpoint(study_dir / f"trial_{number}" / "checkpoint", key, sources)


def _rung_gate(
    context: TrialContext, config: dict[str, Any], record: _TrialRecord
) -> tuple[Any, int | None, Any]:
    """(gate, rung iteration, step callback) of a study with ``early_stopping`` (else Nones).

    A rung at an iteration's end is checked on that iteration's dev pass; any other rung gets a
    step callback (one dev pass at the rung, none after it).
    """
    settings = context.early_stopping
    if settings is None:
        return None, None, None
    size = config.get("predicted_ratio") or config.get("target_ratio") or 1.0
    gate = RungGate(
        settings, record.storage, context.study_name, int(config["_trial_number"]), size, record.set
    )
    iteration = settings.iteration_of(context.trial.steps)
    if iteration is not None:
        return gate, iteration, None
    total = context.trial.iterations * context.trial.steps

    def on_step(step: int, scores: Mapping[str, float]) -> bool:
        gate.check(step, scores)
        if settings.stops:
            return step < settings.rung  # past the rung: no more dev passes
        gate.observe(step, scores)  # record: the curves at each multiple of the rung
        return step + settings.rung < total  # the last multiple before the end

    return gate, None, on_step


def _report_pruned(
    record: _TrialRecord, stop: RungStopped, history: list[dict[str, float]], checkpoint: Any
) -> None:
    """A trial stopped at its rung: its last values as user attributes, ``pruned`` to Tune."""
    from ray import tune

    last = {"accuracy": stop.accuracy, "size": stop.size, "step": stop.step}
    record.set("last_values", last)
    record.set("pruned_at_step", stop.step)
    record.set("history", history)
    checkpoint.remove()
    tune.report({"pruned": 1, "accuracy": stop.accuracy, "iteration": len(history), "final": 1})


def run_trial(config: dict[str, Any], context: TrialContext) -> None:
    """The Tune function trainable (bound with ``tune.with_parameters(run_trial, context=...)``).

    ``config`` holds ``p_embd``, ``p_svd``, ``p_weight``, ``target_ratio`` and ``_trial_number``
    (the Optuna trial number, set by the searcher).
    """
    import torch
    from ray import tune

    from ladasearch.compression.pipeline import compress_job
    from ladasearch.compression.ratios import Ratios
    from ladasearch.search.worker import prepare_worker

    prepare_worker()  # the actor is reused: keep the teacher, task and tokens for later trials
    torch.set_num_threads(max(1, int(context.cpus)))
    number = int(config["_trial_number"])
    settings = trial_settings_of(config, context.trial)  # a searched factorization is the trial's
    ratios = Ratios.from_mapping(config)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    out_dir = Path(context.study_dir) / f"trial_{number}" / "model" if context.keep_models else None
    history: list[dict[str, float]] = []

    with _TrialRecord(context, number) as record:
        checkpoint = _checkpoint(context, config, record)
        record.set("device", device)
        record.set("node", socket.gethostname())
        record.set("worker_pid", os.getpid())  # the same for trials of a reused actor
        record.set("cuda_visible_devices", os.environ.get("CUDA_VISIBLE_DEVICES"))

        gate, rung_iteration, step_callback = _rung_gate(context, config, record)

        def on_iteration(iteration: int, accuracy: float, params: int, ratio: float) -> None:
            history.append(
                {"iteration": iteration, "accuracy": accuracy, "params": params, "ratio": ratio}
            )
            record.set("history", history)
            if gate is not None and iteration == rung_iteration:
                gate.check(gate.settings.rung, {"accuracy": accuracy})  # RungStopped: lost
            if iteration < settings.iterations:  # the last one is reported with the final metrics
                tune.report(
                    {
                        "accuracy": accuracy,
                        "params": params,
                        "ratio": ratio,
                        "iteration": iteration,
                        "final": 0,
                    }
                )

        try:
            metrics = compress_job(
                model=context.model,
                task=context.task,
                ratios=ratios,
                training=training_settings(
                    settings, eval_every=gate.settings.rung if step_callback is not None else None
                ),
                teacher_config=teacher_config(context),
                seed=context.seed,
                device=device,
                out_dir=out_dir,
                callback=on_iteration,
                cache_dir=Path(context.cache_dir) if context.cache_dir else None,
                quiet=True,
                checkpoint=checkpoint,
                step_callback=step_callback,
                measure_latency=settings.measure_latency,
            )
        except RungStopped as stop:  # lost at its rung: PRUNED with its last values
            _report_pruned(record, stop, history, checkpoint)
            return
        except Exception as exc:  # TrainingDiverged, engine errors, CUDA OOM...
            reason = one_line(exc)
            record.set("fail_reason", reason)
            tune.report({"failed": 1, "fail_reason": reason, "iteration": len(history), "final": 1})
            return
        if checkpoint.restored is not None:
            record.set("resumed_at_iteration", checkpoint.restored[1] + 1)
        checkpoint.remove()
        metrics = {**metrics, "target_ratio": config.get("target_ratio"), **ratios.to_dict()}
        if metrics.get("model_dir"):  # relative to the study's run folder, which may move
            metrics["model_dir"] = os.path.relpath(metrics["model_dir"], context.study_dir)
        for key in METRIC_KEYS:
            if key in metrics and metrics[key] is not None:
                record.set(key, _json_safe(metrics[key]))
        record.set("history", metrics.get("history", history))  # with each iteration's losses
        record.set("timings", metrics.get("timings", {}))  # where the trial's time went
        numbers = {
            k: v
            for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        tune.report({**numbers, "iteration": settings.iterations, "final": 1})
