"""``run_study``: one study, driven from here, its trials run by Ray Tune, stored by Optuna.

Order of work (anything a user can get wrong fails first, before Ray starts or a trial runs):
the storage opens; the task data loads (bad data fails here); the model loads once to compute
eq. 7's parameter groups and check the target is feasible; the study is created or resumed
(stale trials failed and enqueued again; finished ones counted towards ``--trials``); Ray starts
(or connects with ``--ray-address``); the teacher is fine-tuned once in a Ray task with the
trials' resources (so trials hit the disk cache); then Tune runs the remaining trials with a
``StudySearcher`` (Optuna on the SQL storage), a ``ConcurrencyLimiter`` and, in fixed-target
studies, ASHA on dev accuracy.
"""

from __future__ import annotations

import logging
import math
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
from ladasearch.search.resume import DriverHeartbeat, counted, fail_stale_trials, owns_study
from ladasearch.search.searcher import STOPPED, StudySearcher
from ladasearch.search.space import GroupSizes, SearchSpace, build_space, enqueue_points
from ladasearch.search.storage import open_storage, redact, resolve_storage_url
from ladasearch.search.study_file import StudyFile
from ladasearch.search.trainable import TrialContext, one_line, run_trial, teacher_config
from ladasearch.tasks import TaskSpec

__all__ = ["NUM_GPUS_ENV", "StudyRun", "make_sampler", "resumed_sampler", "run_study", "task_spec"]

NUM_GPUS_ENV = "LADASEARCH_RAY_NUM_GPUS"
"""GPUs to declare to a local Ray (default: detected); ``1`` exercises GPU scheduling on a CPU."""


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


def make_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    """The Optuna sampler a study file's ``sampler:`` names, seeded."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # experimental-feature warnings
        if name == "tpe":
            return optuna.samplers.TPESampler(seed=seed)
        if name == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if name == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed, population_size=8)
        if name == "qmc":
            return optuna.samplers.QMCSampler(seed=seed)
    raise StudyFileError(f"unknown sampler {name!r}")


def resumed_sampler(name: str, seed: int, existing: int) -> optuna.samplers.BaseSampler:
    """The sampler for a study that already holds ``existing`` trials.

    A sampler re-created with the study's seed would replay the first run's random draws and
    propose the trials already run again; offsetting the seed by the number of stored trials
    keeps a resumed search both new and reproducible (a fresh study keeps ``seed``).
    """
    return make_sampler(name, seed + existing)


def _check_feasible(study: StudyFile, groups: Any) -> None:
    """InfeasibleTarget (one line) when the target, or the range's low end, is out of reach."""
    from ladasearch.compression.budget import feasible_ranges

    if study.target is not None:
        feasible_ranges(groups, study.target)
    else:
        assert study.target_range is not None
        feasible_ranges(groups, study.target_range[0])


def _open_study(
    study: StudyFile, storage: Any, sampler: optuna.samplers.BaseSampler
) -> tuple[optuna.Study, bool]:
    """Create the study or load it (same name and storage); refuse one of another kind."""
    names = {
        summary.study_name
        for summary in optuna.get_all_study_summaries(storage, include_best_trial=False)
    }
    exists = study.name in names
    if exists:
        loaded = optuna.load_study(study_name=study.name, storage=storage, sampler=sampler)
        directions = [d.name.lower() for d in loaded.directions]
        mode = loaded.user_attrs.get("mode")
        if directions != study.directions or (mode is not None and mode != study.mode):
            raise StudyFileError(
                f"study {study.name!r} already exists with mode {mode} and directions {directions}; "
                "give this one another name (--name)"
            )
        return loaded, False
    created = optuna.create_study(
        storage=storage,
        study_name=study.name,
        directions=[optuna.study.StudyDirection[d.upper()] for d in study.directions],
        sampler=sampler,
    )
    return created, True


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


def _start_ray(address: str | None, study: StudyFile) -> bool:
    """Start a local Ray (returns True) or connect to ``address`` (False)."""
    import ray

    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ["LADASEARCH_QUIET"] = "1"  # no progress bars inside Ray workers
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"  # with verbose=0: no experiment tables
    os.environ["TUNE_DISABLE_STRICT_METRIC_CHECKING"] = "1"  # failure reports carry no metrics
    root = str(Path(__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = root if not path else f"{root}{os.pathsep}{path}"
    quiet: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
    if ray.is_initialized():
        return False
    try:
        if address:
            ray.init(address=address, **quiet)
            return True
        gpus = os.environ.get(NUM_GPUS_ENV)
        ray.init(
            num_cpus=max(os.cpu_count() or 1, math.ceil(study.resources.cpu)),
            num_gpus=int(gpus) if gpus else None,
            include_dashboard=False,
            **quiet,
        )
    except LadaError:
        raise
    except Exception as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise LadaError(f"cannot start {where}: {one_line(exc)}") from exc
    return True


def _prepare_teacher(context: TrialContext, resources: dict[str, float]) -> dict[str, float]:
    """Fine-tune (or load) the study's teacher once, in a Ray task with the trials' resources."""
    import ray

    def prepare(context: TrialContext) -> dict[str, float]:
        import torch

        from ladasearch.compression.teacher import get_teacher
        from ladasearch.tasks import load_task

        torch.set_num_threads(max(1, int(context.cpus)))
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        data = load_task(context.task)
        cache = Path(context.cache_dir) if context.cache_dir else None
        teacher = get_teacher(
            context.model, data, teacher_config(context), device=device, cache_dir=cache, quiet=True
        )
        return {
            "teacher_accuracy": float(teacher.dev_metrics["accuracy"]),
            "teacher_test_accuracy": float(teacher.test_metrics["accuracy"]),
            "teacher_params": int(teacher.params),
        }

    task = ray.remote(num_cpus=resources["cpu"], num_gpus=resources["gpu"], max_retries=0)(prepare)
    try:
        result: Any = ray.get(task.remote(context))
        return dict(result)
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause if isinstance(exc.cause, BaseException) else exc
        if isinstance(cause, LadaError):
            raise LadaError(f"teacher: {cause}") from exc
        raise LadaError(f"teacher: {one_line(cause)}") from exc


def _tune(
    study: StudyFile,
    space: SearchSpace,
    context: TrialContext,
    storage: Any,
    sampler: optuna.samplers.BaseSampler,
    remaining: int,
    echo: Callable[[str], None] | None,
) -> StudySearcher:
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import ConcurrencyLimiter

    from ladasearch.search.summary import outcome_line

    def told(
        number: int, state: TrialState, values: list[float] | None, result: dict[str, Any]
    ) -> None:
        if echo is not None:
            echo(outcome_line(number, state, values, result, study.objectives))

    searcher = StudySearcher(
        space,
        objectives=study.objectives,
        sampler=sampler,
        study_name=study.name,
        storage=storage,
        on_told=told,
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
        ),
        run_config=tune.RunConfig(
            name=f"tune-{time.strftime('%Y%m%d-%H%M%S')}",
            storage_path=str(Path(context.study_dir) / "ray"),
            verbose=0,
        ),
    )
    tuner.fit()
    return searcher


def _stop_leftovers(study: optuna.Study, numbers: list[int]) -> None:
    """Trials this process asked for but left RUNNING (interrupted): FAIL ``stopped:``, enqueued."""
    storage = study._storage
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if trial.number in numbers:
            storage.set_trial_user_attr(trial._trial_id, "fail_reason", STOPPED)
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            if trial.params:
                study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})


def run_study(
    study: StudyFile,
    *,
    storage: str | None = None,
    trials: int | None = None,
    ray_address: str | None = None,
    echo: Callable[[str], None] | None = None,
    cache_dir: str | None = None,
) -> StudyRun:
    """Run (or resume) ``study`` until ``trials`` (default: the study file's) trials are finished.

    Raises a :class:`LadaError` (one line) for a dead database, bad task data, an unloadable
    model or an infeasible target, before Ray starts. ``echo`` receives one line per finished
    trial.
    """
    from ladasearch.compression.budget import parameter_groups
    from ladasearch.models import load_classifier
    from ladasearch.tasks import load_task

    started = time.perf_counter()
    url = resolve_storage_url(storage)
    rdb = open_storage(url)
    spec = task_spec(study)
    data = load_task(spec)
    model, _ = load_classifier(study.model, data.label_names)
    groups = parameter_groups(model)
    del model
    _check_feasible(study, groups)
    sizes = GroupSizes.of(groups)
    space = build_space(
        study.space, sizes, target=study.target, target_range=study.target_range, seed=study.seed
    )
    sampler = make_sampler(study.sampler, study.seed)
    try:
        ot_study, fresh = _open_study(study, rdb, sampler)
    except LadaError:
        raise
    except Exception as exc:
        raise StorageError(f"study database {redact(url)}: {one_line(exc)}") from exc
    if fresh:
        for key, value in _study_attrs(study, sizes).items():
            ot_study.set_user_attr(key, value)
    else:
        sampler = resumed_sampler(
            study.sampler, study.seed, len(ot_study.get_trials(deepcopy=False))
        )
        ot_study.sampler = sampler
    requested = trials if trials is not None else study.trials
    stale = fail_stale_trials(ot_study, owner=owns_study(ot_study))
    finished = sum(1 for trial in ot_study.get_trials(deepcopy=False) if counted(trial))
    run = StudyRun(study.name, url, requested, finished, stale=stale)
    remaining = requested - finished
    if remaining <= 0:
        run.wall_seconds = time.perf_counter() - started
        return run
    if fresh and study.enqueue:
        for params in enqueue_points(space, study.enqueue):
            ot_study.enqueue_trial(params, user_attrs={"enqueued": True})
    study_dir = Path(study.runs_dir).resolve() / study.name
    study_dir.mkdir(parents=True, exist_ok=True)
    context = TrialContext(
        storage_url=url,
        study_name=study.name,
        model=study.model,
        task=spec,
        trial=study.trial,
        teacher=study.teacher,
        seed=study.seed,
        study_dir=str(study_dir),
        keep_models=study.keep_models,
        cpus=study.resources.cpu,
        cache_dir=cache_dir,
    )
    started_ray = _start_ray(ray_address, study)
    import ray

    searcher: StudySearcher | None = None
    try:
        with DriverHeartbeat(ot_study):
            if "teacher_accuracy" not in ot_study.user_attrs:
                resources = {"cpu": study.resources.cpu, "gpu": study.resources.gpu}
                for key, value in _prepare_teacher(context, resources).items():
                    ot_study.set_user_attr(key, value)
            searcher = _tune(study, space, context, rdb, sampler, remaining, echo)
    finally:
        if searcher is not None:
            run.ran = list(searcher.asked)
            _stop_leftovers(ot_study, searcher.asked)
        if started_ray:
            ray.shutdown()
    run.wall_seconds = time.perf_counter() - started
    return run
