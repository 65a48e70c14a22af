"""The one-command demo: a small real search, its Pareto HTML, the best trial exported.

Everything lives under one folder (default ``./ladasearch-demo``): the SQLite study database,
the kept models (``runs/``), ``pareto.html`` and ``best-model/``. Running the demo again resumes
the same study (finished trials count towards ``--trials``), then redraws and re-exports.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from ladasearch.errors import StudyFileError

if TYPE_CHECKING:
    from ladasearch.search.study_file import StudyFile

__all__ = ["DemoResult", "budget_summary", "demo_study", "demo_study_path", "run_demo"]

# Seconds on an idle 2-core CPU (minilm on rt, batch 32), from the demo run of 2026-12-05 that
# took 17m11s (teacher 200 steps in about 5.5 minutes with Ray's start; trials 96 to 150 s, of
# which 31 to 76 s timed the student and the teacher, now off in demo.yaml).
TEACHER_STEP_S = 1.4
STUDENT_STEP_S = 0.6
EVALUATION_S = 6.0
SAVE_S = 5.0
LATENCY_S = 65.0
STARTUP_S = 40.0


def demo_study_path() -> Path:
    """``demo.yaml``: package data of an install (``ladasearch.studies``), else the checkout's.

    An installed ladasearch (wheel or editable) carries ``studies/`` as ``ladasearch.studies``;
    a checkout on ``PYTHONPATH`` has no such package, and its ``studies/`` sits beside the
    ``ladasearch/`` folder.
    """
    try:
        resource = resources.files("ladasearch.studies").joinpath("demo.yaml")
    except ModuleNotFoundError:
        resource = None
    if isinstance(resource, Path) and resource.is_file():
        return resource
    import ladasearch

    return Path(ladasearch.__file__).parent.parent / "studies" / "demo.yaml"


def demo_study(
    out_dir: Path,
    trials: int | None = None,
    steps: int | None = None,
    iterations: int | None = None,
) -> StudyFile:
    """The demo study, its models kept under ``out_dir/runs``, optionally with a smaller budget."""
    from ladasearch.search.study_file import load_study_file

    path = demo_study_path()
    if not path.is_file():
        raise StudyFileError(
            f"the demo study file {path} is missing: reinstall ladasearch "
            "(pip install ladasearch, or pip install -e . in a checkout)"
        )
    study = load_study_file(path)
    schedule = dataclasses.replace(
        study.trial,
        steps=steps if steps is not None else study.trial.steps,
        iterations=iterations if iterations is not None else study.trial.iterations,
    )
    return dataclasses.replace(
        study,
        trials=trials if trials is not None else study.trials,
        runs_dir=str((out_dir / "runs").resolve()),
        trial=schedule,
    )


def _teacher_steps(study: StudyFile) -> int:
    """The study's teacher steps; without ``steps``, the epoch default on rt (963)."""
    return study.teacher.steps if study.teacher.steps is not None else 963


def seed_count(study: StudyFile) -> int:
    """How many seed points the study enqueues (Table 2's ratios in its range, or its list)."""
    from ladasearch.search.space import paper_table2_points

    if isinstance(study.enqueue, tuple):
        return len(study.enqueue)
    if study.target_range is not None:
        return len(paper_table2_points(*study.target_range))
    assert study.target is not None
    return len(paper_table2_points(study.target, study.target))


def estimated_seconds(study: StudyFile) -> float:
    """Rough wall time of the demo on a 2-core CPU, the teacher's fine-tuning included."""
    per_trial = (
        study.trial.iterations * study.trial.steps * STUDENT_STEP_S
        + (study.trial.iterations + 2) * EVALUATION_S
        + SAVE_S
        + (LATENCY_S if study.trial.measure_latency else 0.0)
    )
    return STARTUP_S + _teacher_steps(study) * TEACHER_STEP_S + study.trials * per_trial


def budget_summary(study: StudyFile) -> str:
    """The reduced budget, said in the demo's output."""
    t = study.trial
    seeds = seed_count(study)
    return (
        f"reduced demo budget: {study.trials} trials ({min(seeds, study.trials)} seed points, "
        f"then the {study.sampler} sampler's choices) x {t.iterations} iterations x {t.steps} "
        f"distillation steps (batch {t.batch_size}, {t.max_length} tokens), teacher fine-tuned "
        f"{_teacher_steps(study)} steps; about {estimated_seconds(study) / 60:.0f} minutes on a "
        "2-core CPU (a real search uses far more steps: see studies/*.yaml)"
    )


@dataclass(frozen=True)
class DemoResult:
    """Where the demo put things."""

    out_dir: Path
    storage_url: str
    study_name: str
    html: Path
    export_dir: Path
    best_trial: int
    retrained: bool


def run_demo(
    out_dir: Path,
    trials: int | None = None,
    steps: int | None = None,
    iterations: int | None = None,
    echo: Callable[[str], None] = print,
    study: StudyFile | None = None,
) -> DemoResult:
    """Search (or resume), write ``pareto.html``, register the figure, export the best trial.

    Ends with :func:`~ladasearch.demo_summary.study_summary`'s table (seed or sampler-chosen,
    improved on the seeds or not). ``study`` replaces the demo study (tests: a tiny model).
    """
    from ladasearch.dashboards.figures import figure_for_studies, write_html
    from ladasearch.dashboards.server import register_figures
    from ladasearch.demo_summary import study_summary
    from ladasearch.export import export_trial, select_trial
    from ladasearch.search.orchestrator import run_study
    from ladasearch.search.studydb.connect import open_storage
    from ladasearch.search.studydb.records import load_study

    out_dir = out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    study_file = study or demo_study(out_dir, trials=trials, steps=steps, iterations=iterations)
    url = f"sqlite:///{out_dir / 'ladasearch.db'}"
    echo(budget_summary(study_file))
    echo(f"study {study_file.name!r} in {url} (running the demo again resumes it)")
    echo(
        f"first the teacher is fine-tuned ({_teacher_steps(study_file)} steps, about "
        f"{_teacher_steps(study_file) * TEACHER_STEP_S / 60:.0f} minutes, cached for later runs), "
        "then one line per finished trial"
    )
    run = run_study(study_file, storage=url, echo=echo)
    if run.finished_before and not run.ran:
        echo(f"resumed: the study already has its {run.finished_before} finished trials")

    storage = open_storage(url, existing=True)
    record = load_study(study_file.name, storage)
    echo("")
    for line in study_summary(record):
        echo(line)
    html = write_html(figure_for_studies([record]), out_dir / "pareto.html")
    register_figures(storage, [record.name])
    trial = select_trial(record)
    export_dir = out_dir / "best-model"
    exported = export_trial(record, trial, export_dir, force=True, allow_retrain=True)
    return DemoResult(
        out_dir=out_dir,
        storage_url=url,
        study_name=record.name,
        html=html,
        export_dir=export_dir,
        best_trial=trial.number,
        retrained=exported.retrained,
    )
