"""``ladasearch search``, ``studies`` and ``show``: run a study, list studies, show one's trials."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from ladasearch.commands.common import add_model_argument, add_task_arguments

__all__ = ["apply_overrides", "register"]


def register(subparsers: Any) -> None:
    """Add ``search``, ``studies`` and ``show`` to the CLI."""
    search = subparsers.add_parser(
        "search",
        help="run (or resume) a study: Optuna + Ray Tune over (P_embd, P_svd, P_weight)",
        description="Run or resume the study a YAML file describes; trials land in the study database.",
    )
    search.add_argument("study_file", metavar="STUDY.yaml", help="the study file (see studies/)")
    _add_storage(search)
    search.add_argument(
        "--trials", type=int, default=None, help="finished trials to reach (default: the file's)"
    )
    search.add_argument(
        "--ray-address", default=None, metavar="ADDR", help="an existing Ray cluster (host:port)"
    )
    search.add_argument("--name", default=None, help="study name (default: the file's name)")
    overrides = search.add_argument_group("overrides of the study file, for quick runs")
    add_model_argument(overrides, required=False)
    add_task_arguments(overrides, required=False)
    search.set_defaults(model=None, task=None)  # given or not: never silently override the file
    overrides.add_argument(
        "--steps", type=int, default=None, help="distillation steps per iteration"
    )
    overrides.add_argument(
        "--iterations", type=int, default=None, help="compress-distill iterations per trial"
    )
    search.add_argument(
        "--cache-dir", default=None, help="teacher cache (default $LADASEARCH_CACHE or ~/.cache)"
    )
    search.add_argument(
        "--allow-weak-teacher",
        action="store_true",
        help="search even when the teacher is not significantly above the majority class",
    )
    search.add_argument(
        "--quiet", action="store_true", help="no progress lines (same as --log-level WARNING)"
    )
    search.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="progress lines on stderr: INFO (default) logs each trial's start and end",
    )
    search.set_defaults(func=run_search)

    studies = subparsers.add_parser(
        "studies", help="list the studies of a database", description="List studies."
    )
    _add_storage(studies)
    studies.add_argument(
        "--json", action="store_true", help="print one JSON object as the last line"
    )
    studies.set_defaults(func=run_studies)

    show = subparsers.add_parser(
        "show", help="the trials of one study", description="Show a study's trials."
    )
    show.add_argument("study", metavar="STUDY", help="study name")
    _add_storage(show)
    show.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    show.set_defaults(func=run_show)


def _add_storage(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage",
        default=None,
        metavar="URL",
        help="SQLAlchemy URL (default: $LADASEARCH_STORAGE, else sqlite:///ladasearch.db here)",
    )


def apply_overrides(study: Any, args: argparse.Namespace) -> Any:
    """The study file with the command line's overrides (validated like the file's own values)."""
    from ladasearch.errors import StudyFileError

    changes: dict[str, Any] = {}
    for flag in ("name", "model", "task"):
        value = getattr(args, flag, None)
        if value is not None:
            if not str(value).strip():
                raise StudyFileError(f"--{flag} must not be empty")
            changes[flag] = value
    if args.task is not None:  # a new task brings its own columns
        changes.update(
            text_column=None, text_pair_column=None, label_column=None, dev=None, test=None
        )
    for flag, key in (("text_column", "text_column"), ("text_pair_column", "text_pair_column")):
        if getattr(args, flag) is not None:
            changes[key] = getattr(args, flag)
    if args.label_column is not None:
        changes["label_column"] = args.label_column
    if args.dev is not None:
        changes["dev"] = args.dev
    if args.test is not None:
        changes["test"] = args.test
    trial: dict[str, int] = {}
    for flag in ("steps", "iterations"):
        value = getattr(args, flag)
        if value is not None:
            if value < 1:
                raise StudyFileError(f"--{flag} must be a positive integer, got {value}")
            trial[flag] = value
    if trial:
        changes["trial"] = dataclasses.replace(study.trial, **trial)
    if getattr(args, "allow_weak_teacher", False):
        changes["teacher"] = dataclasses.replace(study.teacher, allow_weak=True)
    if args.trials is not None and args.trials < 1:
        raise StudyFileError(f"--trials must be a positive integer, got {args.trials}")
    return dataclasses.replace(study, **changes)


def _configure_logging(level: str, tty: bool) -> None:
    """Progress lines of ``ladasearch.search`` on stderr (above the bar on a terminal)."""
    import logging

    from ladasearch.search.progress_log import LOGGER, TqdmHandler

    handler: logging.Handler = TqdmHandler() if tty else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    LOGGER.handlers[:] = [handler]
    LOGGER.setLevel(level)
    LOGGER.propagate = False


def run_search(args: argparse.Namespace) -> int:
    """Validate the file, run or resume the study, print a summary."""
    from ladasearch.search.orchestrator import run_study
    from ladasearch.search.study_file import load_study_file
    from ladasearch.search.summary import study_trials

    study = apply_overrides(load_study_file(Path(args.study_file)), args)
    level = "WARNING" if args.quiet else args.log_level
    tty = sys.stderr.isatty()
    _configure_logging(level, tty)
    run = run_study(
        study,
        storage=args.storage,
        trials=args.trials,
        ray_address=args.ray_address,
        cache_dir=args.cache_dir,
        bar=tty and level in ("DEBUG", "INFO"),
    )
    from ladasearch.search.studydb.connect import open_storage
    from ladasearch.search.studydb.urls import redact

    data = study_trials(study.name, open_storage(run.storage_url, existing=True))
    states: dict[str, int] = {}
    for trial in data["trials"]:
        states[trial["state"]] = states.get(trial["state"], 0) + 1
    counts = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    if run.stale:
        print(f"marked stale (FAIL, enqueued again): trials {', '.join(map(str, run.stale))}")
    if not run.ran:
        print(
            f"study {study.name}: already has {run.finished_before} finished trials (asked for {run.requested})"
        )
    print(
        f"study {study.name} in {redact(run.storage_url)}: {len(run.ran)} trials run in {run.wall_seconds:.0f}s; "
        f"trials by state: {counts or 'none'}"
    )
    print(
        f"see: ladasearch show {study.name}"
        + (f" --storage {redact(run.storage_url)}" if args.storage else "")
    )
    return 0


def run_studies(args: argparse.Namespace) -> int:
    """List the studies with trial counts by state and best value(s)."""
    from ladasearch.search.studydb.connect import open_storage
    from ladasearch.search.summary import list_studies

    rows = list_studies(open_storage(args.storage, existing=True))
    if not rows:
        print("no studies in this storage")
    for row in rows:
        states = ", ".join(f"{n} {state}" for state, n in row["states"].items()) or "no trials"
        if row["best_values"] is None:
            best = "no complete trial yet"
        elif len(row["directions"]) == 1:
            best = f"best {row['best_values'][0]:.4f} (trial {row['best_trials'][0]})"
        else:
            best = f"Pareto front: trials {', '.join(map(str, row['best_trials']))}"
        print(
            f"{row['study']}  [{row['mode'] or '?'}; {'/'.join(row['directions'])}]  {states}; {best}"
        )
    if args.json:
        print(json.dumps({"studies": rows}))
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Print the trials of one study as a table (and one JSON object with ``--json``)."""
    from ladasearch.search.studydb.connect import open_storage
    from ladasearch.search.summary import format_trials, study_trials, teacher_line
    from ladasearch.stats import weak_teacher_warning

    data = study_trials(args.study, open_storage(args.storage, existing=True))
    for line in format_trials(data["trials"]):
        print(line)
    for extra in (teacher_line(data["teacher"]), weak_teacher_warning(data["teacher"])):
        if extra is not None:
            print(extra)
    if args.json:
        print(json.dumps(data))
    return 0
