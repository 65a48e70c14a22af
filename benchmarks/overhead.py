"""Per-trial orchestration overhead of a search, with and without worker reuse.

``python -m benchmarks.overhead [--trials 6] [--rounds 1] [--model minilm --task rt]`` runs the
same small study (fixed target, constrained space, TPE, no scheduler, one trial at a time) in
arms ``before`` (``LADASEARCH_REUSE_ACTORS=0``: a fresh Ray actor process per trial, which loads
the teacher, the task and the database again) and ``after`` (actors reused, the worker keeps
them), alternating arms ``--rounds`` times. For every trial:

- ``wall``: the trial's wall time as the driver records it (Optuna's start and completion),
- ``job``: the engine's own time (``timings.total_s`` of ``compress_job``, teacher and task
  loading included),
- ``setup``: the part of ``job`` spent getting the teacher, task and factorizer ready
  (``timings.teacher_s``),
- ``overhead = wall - job`` (Ray, Optuna, the database, process start) and
  ``overhead + setup`` (everything that is not compressing, training or evaluating the student).

It prints one table (mean and median per arm, first trial of a run apart from the others) and,
last line, one JSON object. The default is the tiny model and task of ``ladasearch.testing``
(seconds per trial); the overhead is then also given as a share of the 105 s engine total of a
minilm/rt trial (BENCHMARKS.md, costs table).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["main", "measure_arm"]

MINILM_TRIAL_S = 105.0  # BENCHMARKS.md costs table: engine total of one minilm/rt trial


def _study(args: argparse.Namespace, folder: Path, name: str) -> Any:
    from ladasearch.search.study_file import parse_study

    data: dict[str, Any] = {
        "name": name,
        "mode": "fixed",
        "target": args.target,
        "trials": args.trials,
        "seed": 0,
        "scheduler": "none",
        "max_concurrent": 1,
        "runs_dir": str(folder / "runs"),
        "trial": {
            "iterations": args.iterations,
            "steps": args.steps,
            "batch_size": 16 if args.model == "tiny" else 32,
            "max_length": 16 if args.model == "tiny" else 64,
        },
        "teacher": {"steps": args.teacher_steps, "allow_weak": True},
        "resources": {"cpu": 1, "gpu": 0},
    }
    if args.model == "tiny":
        from ladasearch.testing import make_tiny

        model_dir, csv_path = make_tiny(folder / "tiny")
        data.update(
            model=str(model_dir),
            task=f"csv:{csv_path}",
            text_column="sentence",
            label_column="sentiment",
        )
    else:
        data.update(model=args.model, task=args.task)
    return parse_study(data, source=f"{name}.yaml")


def measure_arm(args: argparse.Namespace, folder: Path, arm: str, run: int) -> list[dict[str, Any]]:
    """Run one study in ``arm`` (``before`` / ``after``); one row per COMPLETE trial."""
    import optuna

    from ladasearch.search.orchestrator import run_study
    from ladasearch.search.worker import REUSE_ENV

    os.environ[REUSE_ENV] = "0" if arm == "before" else "1"
    name = f"overhead-{arm}-{run}"
    url = f"sqlite:///{folder / 'overhead.db'}"
    started = time.perf_counter()
    run_study(_study(args, folder, name), storage=url, cache_dir=str(args.cache))
    study_s = time.perf_counter() - started
    rows = []
    trials = optuna.load_study(study_name=name, storage=url).get_trials()
    for index, trial in enumerate(sorted(trials, key=lambda t: t.number)):
        timings = trial.user_attrs.get("timings") or {}
        if trial.state.name != "COMPLETE" or not trial.datetime_start or "total_s" not in timings:
            continue
        assert trial.datetime_complete is not None
        wall = (trial.datetime_complete - trial.datetime_start).total_seconds()
        job, setup = float(timings["total_s"]), float(timings.get("teacher_s", 0.0))
        rows.append(
            {
                "arm": arm,
                "run": run,
                "trial": trial.number,
                "first": index == 0,
                "wall": wall,
                "job": job,
                "setup": setup,
                "overhead": wall - job,
                "overhead_setup": wall - job + setup,
                "reused": timings.get("worker_reused", 0),
                "study_s": study_s,
            }
        )
    return rows


def _summary(rows: list[dict[str, Any]], arm: str, which: str) -> dict[str, float] | None:
    chosen = [
        r for r in rows if r["arm"] == arm and (which == "all" or r["first"] == (which == "first"))
    ]
    if not chosen:
        return None
    out: dict[str, float] = {"n": len(chosen)}
    for key in ("wall", "job", "setup", "overhead", "overhead_setup"):
        values = [r[key] for r in chosen]
        out[key] = statistics.fmean(values)
        out[key + "_median"] = statistics.median(values)
    out["share_of_trial"] = out["overhead_setup"] / max(out["wall"], 1e-9)
    out["share_of_minilm_trial"] = out["overhead_setup"] / (MINILM_TRIAL_S + out["overhead_setup"])
    return out


def _table(summaries: dict[str, dict[str, float] | None]) -> list[str]:
    lines = [
        "| arm | trials | wall s | job s | setup s (in job) | overhead s (wall - job) "
        "| overhead + setup s | share of this trial | share of a 105 s minilm trial |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, s in summaries.items():
        if s is None:
            continue
        lines.append(
            f"| {label} | {int(s['n'])} | {s['wall']:.2f} | {s['job']:.2f} | {s['setup']:.2f} "
            f"| {s['overhead']:.2f} (median {s['overhead_median']:.2f}) "
            f"| {s['overhead_setup']:.2f} | {100 * s['share_of_trial']:.1f}% "
            f"| {100 * s['share_of_minilm_trial']:.1f}% |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.overhead")
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=1, help="before/after pairs, alternated")
    parser.add_argument("--model", default="tiny", help="tiny (ladasearch.testing) or minilm, ...")
    parser.add_argument("--task", default="rt")
    parser.add_argument("--target", default="2x")
    parser.add_argument("--iterations", type=int, default=1)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--teacher-steps", type=int, default=20)
    parser.add_argument("--cache", type=Path, default=None, help="teacher cache (default: temp)")
    parser.add_argument("--folder", type=Path, default=None, help="work folder (default: temp)")
    args = parser.parse_args(argv)
    folder = args.folder or Path(tempfile.mkdtemp(prefix="overhead-"))
    folder.mkdir(parents=True, exist_ok=True)
    args.cache = args.cache or folder / "cache"
    rows: list[dict[str, Any]] = []
    for run in range(args.rounds):
        for arm in ("before", "after"):
            rows += measure_arm(args, folder, arm, run)
    summaries = {}
    for arm in ("before", "after"):
        summaries[f"{arm}, all trials"] = _summary(rows, arm, "all")
        summaries[f"{arm}, first trial of a run"] = _summary(rows, arm, "first")
        summaries[f"{arm}, later trials"] = _summary(rows, arm, "later")
    print(
        f"model {args.model}, {args.trials} trials x {args.rounds} round(s), "
        f"{args.iterations} iteration(s) x {args.steps} steps, one trial at a time"
    )
    print("\n".join(_table(summaries)))
    print(json.dumps({"summaries": summaries, "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
