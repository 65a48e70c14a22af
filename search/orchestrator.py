"""``run_study``: one study, driven from here, its trials run by Ray Tune, stored by Optuna.

Order of work (anything a user can get wrong fails first, before Ray starts or a study row is
written): the storage URL loses its password (:func:`~ladasearch.search.studydb.urls.public_url`);
the trial resources are checked against this machine (or, with ``--ray-address``, the cluster's
nodes); the task data loads (bad data fails here); the model loads once to compute eq. 7's
parameter groups and check the target is feasible; processes left by a killed search on this
run folder are reaped; the study is created or joined race-safely (stale trials failed and
enqueued again; ``trials`` is the study's total over all workers); a local Ray starts, watched
by a reaper (or the cluster is joined); the teacher is fine-tuned once in a Ray task with the
trials' resources (so trials hit the disk cache); then Tune runs trials with a ``StudySearcher``
(Optuna on the SQL storage, stopping at the study's total), a ``ConcurrencyLimiter`` and, in
fixed-target studies, ASHA on dev accuracy.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from ladasearch.errors import LadaError, StorageError, StudyFileError
from ladasearch.search.cluster import NUM_GPUS_ENV, prepare_teacher, start_ray, stop_ray
from ladasearch.search.procs import reap_folder
from ladasearch.search.progress_log import LOGGER, TrialProgress
from ladasearch.search.resume import (
    TrialBeats,
    counted,
    fail_stale_trials,
    occupied,
    stop_leftovers,
    worker_rank,
)
from ladasearch.search.samplers import make_sampler, resumed_sampler
from ladasearch.search.searcher import STOPPED, StudySearcher
from ladasearch.search.space import GroupSizes, SearchSpace, build_space, enqueue_points
from ladasearch.search.study_file import StudyFile
from ladasearch.search.studydb.connect import HEARTBEAT_SECONDS, open_storage
from ladasearch.search.studydb.urls import public_url, redact, resolve_storage_url
from ladasearch.search.trainable import TrialContext, one_line, run_trial
from ladasearch.search.worker import reuse_actors
from ladasearch.tasks import TaskSpec

__all__ = ["NUM_GPUS_ENV", "StudyRun", "run_study", "task_spec"]


@dataclass
class StudyRun:
    """What ``run_study`` did: the study, trials run now, stale ones found, the storage URL."""

    study_name: str
    storage_url: str
    requested: int
    finished_before: int
    ran: list[int] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)
    wall_seconds: float = 0.0


def task_spec(study: StudyFile) -> TaskSpec:
    """The study's :class:`TaskSpec` (its seed drives seeded dev carve-outs)."""
    return TaskSpec(
        name=study.task,
        text_column=study.text_column,
        text_pair_column=study.text_pair_column,
        label_column=study.label_column,
        dev_path=study.dev,
        seed=study.seed,
        test_path=study.test,
    )


def _check_feasible(study: StudyFile, groups: Any) -> None:
    """InfeasibleTarget (one line) when the target, or the range's low end, is out of reach."""
    from ladasearch.compression.accounting import feasible_ranges

    if study.target is not None:
        feasible_ranges(groups, study.target)
    else:
        assert study.target_range is not None
        feasible_ranges(groups, study.target_range[0])


def _open_study(
    study: StudyFile, storage: Any, sampler: optuna.samplers.BaseSampler
) -> tuple[optuna.Study, bool]:
    """Create the study or load it (same name and storage); refuse one of another kind.

    Race-safe: of several workers starting at once, one creates the study (``fresh``), the
    others get Optuna's ``DuplicatedStudyError`` and load it.
    """
    try:
        created = optuna.create_study(
            storage=storage,
            study_name=study.name,
            directions=[optuna.study.StudyDirection[d.upper()] for d in study.directions],
            sampler=sampler,
        )
        return created, True
    except optuna.exceptions.DuplicatedStudyError:
        pass
    loaded = optuna.load_study(study_name=study.name, storage=storage, sampler=sampler)
    directions = [d.name.lower() for d in loaded.directions]
    mode = loaded.user_attrs.get("mode")
    if directions != study.directions or (mode is not None and mode != study.mode):
        raise StudyFileError(
            f"study {study.name!r} already exists with mode {mode} and directions {directions}; "
            "give this one another name (--name)"
        )
    return loaded, False


def _study_attrs(study: StudyFile, sizes: GroupSizes) -> dict[str, Any]:
    return {
        "mode": study.mode,
        "model": study.model,
        "task": task_spec(study).to_dict(),
        "target": study.target,
        "target_range": list(study.target_range) if study.target_range else None,
        "objectives": list(study.objectives),
        "space": study.space,
        "groups": {
            "total": sizes.total,
            "embedding": sizes.embedding,
            "encoder": sizes.encoder,
            "fixed": sizes.fixed,
        },
        "settings": study.to_dict(),
        "study_file": study.text,
    }


def _refuse_weak_teacher(attrs: dict[str, Any], allowed: bool) -> None:
    """LadaError (exit 2) when the study's teacher is not above the majority class, unless
    ``allowed`` (``--allow-weak-teacher`` / ``teacher: {allow_weak: true}``)."""
    from ladasearch.stats import weak_teacher_warning

    warning = weak_teacher_warning(attrs)
    if warning is not None and not allowed:
        raise LadaError(
            "teacher is not significantly better than the majority class "
            f"({float(attrs['teacher_test_accuracy']):.4f} vs "
            f"{float(attrs['majority_test_accuracy']):.4f} test accuracy, one-sided McNemar "
            f"p={float(attrs['teacher_majority_p']):.2g}): not searching; fine-tune it longer "
            "(teacher: steps) or pass --allow-weak-teacher (teacher: {allow_weak: true})"
        )


def _tune(
    study: StudyFile,
    space: SearchSpace,
    context: TrialContext,
    storage: Any,
    sampler: optuna.samplers.BaseSampler,
    trial_counts: tuple[int, int],
    beats: TrialBeats,
    progress: TrialProgress,
) -> StudySearcher:
    """Run Tune until the study holds ``trial_counts = (total, at most this worker's share)`` trials."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import ConcurrencyLimiter

    def told(
        number: int, state: TrialState, values: list[float] | None, result: dict[str, Any]
    ) -> None:
        progress.finished(number, state, result)

    total, remaining = trial_counts
    searcher = StudySearcher(
        space,
        objectives=study.objectives,
        sampler=sampler,
        study_name=study.name,
        storage=storage,
        on_told=told,
        total=total,
        beats=beats,
        on_start=progress.started,
        latency=study.latency,  # target_latency_ms: a hard constraint
    )
    scheduler = None
    if study.scheduler == "asha" and study.trial.iterations > 1:
        scheduler = ASHAScheduler(
            time_attr="iteration",
            metric="accuracy",
            mode="max",
            max_t=study.trial.iterations,
            grace_period=1,
            reduction_factor=2,
        )
    resources = {"cpu": study.resources.cpu, "gpu": study.resources.gpu}
    trainable = tune.with_resources(tune.with_parameters(run_trial, context=context), resources)
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=ConcurrencyLimiter(searcher, max_concurrent=study.max_concurrent),
            scheduler=scheduler,
            num_samples=remaining,
            # one worker process runs many trials; not under a Ray scheduler, whose stopped
            # trials leave their thread running, so Ray could not reset their actor
            reuse_actors=reuse_actors() and scheduler is None,
        ),
        run_config=tune.RunConfig(
            name=f"tune-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}",
            storage_path=str(Path(context.study_dir) / "ray"),
            verbose=0,
        ),
    )
    with warnings.catch_warnings():  # Optuna: "Heartbeat ... supposed to be used with optimize"
        warnings.filterwarnings("ignore", message=".*Heartbeat.*")
        tuner.fit()
    return searcher


def _run_dir(study: StudyFile) -> Path:
    """``runs/<study>``, mode 0700 (Ray's logs and results, trial checkpoints, models)."""
    runs = Path(study.runs_dir).resolve()
    runs.mkdir(parents=True, exist_ok=True)
    folder = runs / study.name
    folder.mkdir(mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


def run_study(
    study: StudyFile,
    *,
    storage: str | None = None,
    trials: int | None = None,
    ray_address: str | None = None,
    cache_dir: str | None = None,
    bar: bool = False,
    echo: Callable[[str], None] | None = None,
) -> StudyRun:
    """Run (or resume, or join) ``study`` until it holds ``trials`` (default: the file's) trials.

    ``trials`` is the study's total, whatever the number of workers running it. Raises a
    :class:`LadaError` (one line) for a dead database, bad task data, an unloadable model, an
    infeasible target or resources no node has, before Ray starts or a study row is written.
    Progress goes to the ``ladasearch.search`` logger (and a tqdm bar with ``bar``); ``echo``,
    when given, receives those lines too.
    """
    from ladasearch.compression.accounting import parameter_groups
    from ladasearch.models import load_classifier
    from ladasearch.search.cluster import check_resources, local_resources
    from ladasearch.tasks import load_task

    started = time.perf_counter()
    url = public_url(resolve_storage_url(storage))
    if not ray_address:
        check_resources(study.resources, [local_resources()], "this machine")
    spec = task_spec(study)
    data = load_task(spec)
    model, _ = load_classifier(study.model, data.label_names)
    groups = parameter_groups(model)
    del model
    _check_feasible(study, groups)
    sizes = GroupSizes.of(groups)
    space = build_space(
        study.space,
        sizes,
        target=study.target,
        target_range=study.target_range,
        seed=study.seed,
        factorizations=study.factorizations,
    )
    run_dir = _run_dir(study)
    reap_folder(run_dir)  # searches killed here together with their reapers
    handler = _EchoHandler(echo) if echo is not None else None
    if handler is not None:
        LOGGER.addHandler(handler)
        LOGGER.setLevel(min(LOGGER.getEffectiveLevel(), logging.INFO))
    reaper = start_ray(ray_address, study.resources, run_dir) if ray_address else None
    try:
        return _run(study, url, space, sizes, run_dir, trials, ray_address, cache_dir, bar, started)
    finally:
        if ray_address:
            stop_ray(reaper)
        if handler is not None:
            LOGGER.removeHandler(handler)


class _EchoHandler(logging.Handler):
    """Forwards the search's progress lines to an ``echo`` callable."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self.echo = echo

    def emit(self, record: logging.LogRecord) -> None:
        self.echo(record.getMessage())


def _run(
    study: StudyFile,
    url: str,
    space: SearchSpace,
    sizes: GroupSizes,
    run_dir: Path,
    trials: int | None,
    ray_address: str | None,
    cache_dir: str | None,
    bar: bool,
    started: float,
) -> StudyRun:
    rdb = open_storage(url, heartbeat=True)
    sampler = make_sampler(study.sampler, study.seed, study.startup_trials)
    try:
        ot_study, fresh = _open_study(study, rdb, sampler)
        if fresh:
            for key, value in _study_attrs(study, sizes).items():
                ot_study.set_user_attr(key, value)
        rank = worker_rank(ot_study)
        if not fresh or rank:
            existing = len(ot_study.get_trials(deepcopy=False))
            sampler = resumed_sampler(
                study.sampler, study.seed, existing + 7919 * rank, study.startup_trials
            )
            ot_study.sampler = sampler
        stale = fail_stale_trials(ot_study, rdb)
    except LadaError:
        raise
    except Exception as exc:
        raise StorageError(f"study database {redact(url)}: {one_line(exc)}") from exc
    requested = trials if trials is not None else study.trials
    all_trials = ot_study.get_trials(deepcopy=False)
    finished = sum(1 for trial in all_trials if counted(trial))
    run = StudyRun(study.name, url, requested, finished, stale=stale)
    remaining = requested - occupied(all_trials)
    if remaining <= 0:
        run.wall_seconds = time.perf_counter() - started
        return run
    if fresh and study.enqueue:
        for params in enqueue_points(space, study.enqueue):
            ot_study.enqueue_trial(params, user_attrs={"enqueued": True})
    ot_study.set_user_attr("study_dir", str(run_dir))  # trials' model_dir is relative to it
    context = TrialContext(
        storage_url=url,
        study_name=study.name,
        model=study.model,
        task=task_spec(study),
        trial=study.trial,
        teacher=study.teacher,
        seed=study.seed,
        study_dir=str(run_dir),
        keep_models=study.keep_models,
        cpus=study.resources.cpu,
        cache_dir=cache_dir,
        early_stopping=study.early_stopping,
    )
    reaper = None if ray_address else start_ray(None, study.resources, run_dir)

    def done() -> int:
        return sum(1 for trial in ot_study.get_trials(deepcopy=False) if counted(trial))

    progress = TrialProgress(requested, done, study.max_concurrent, bar=bar)
    searcher: StudySearcher | None = None
    try:
        with TrialBeats(rdb, HEARTBEAT_SECONDS) as beats:
            if "teacher_accuracy" not in ot_study.user_attrs:
                for key, value in prepare_teacher(context, study.resources).items():
                    ot_study.set_user_attr(key, value)
            _refuse_weak_teacher(ot_study.user_attrs, study.teacher.allow_weak)
            trial_counts = (requested, remaining)
            searcher = _tune(study, space, context, rdb, sampler, trial_counts, beats, progress)
    finally:
        progress.close()
        if searcher is not None:
            run.ran = list(searcher.asked)
            stop_leftovers(ot_study, rdb, searcher.asked, STOPPED)
        if not ray_address:
            stop_ray(reaper)
    run.wall_seconds = time.perf_counter() - started
    return run
