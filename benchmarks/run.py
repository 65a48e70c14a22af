"""The one benchmark command: run (or resume) every part, then write BENCHMARKS.md and its plots.

    python -m benchmarks.run --quick | --cpu | --full | --smoke
        [--storage URL] [--out DIR] [--model M --task T ...] [--report-only]

Runs are studies in the benchmark database (default ``sqlite:///benchmarks/results/benchmarks.db``
in the repository), so running the same command again continues an interrupted run and only
rewrites the report once everything is done. The ``cpu`` profile's report is the repository's
``BENCHMARKS.md`` (under ``--out``, default the repository root); every other profile's goes to
``<out>/benchmarks/results/<profile>/BENCHMARKS.md``, next to its plots, so a quick run never
overwrites the reported numbers.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.profiles import PROFILES, Profile, estimate_seconds, get_profile
from ladasearch.errors import LadaError

__all__ = ["main", "run"]

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def default_storage(profile: Profile) -> str:
    """The study database a profile uses unless ``--storage`` names one: the committed
    ``benchmarks/results/benchmarks.db`` for the profile BENCHMARKS.md reports, a database of its
    own (untracked) for every other, so a quick run neither dirties nor is skipped by it."""
    if profile.headline:
        return f"sqlite:///{RESULTS / 'benchmarks.db'}"
    return f"sqlite:///{RESULTS / profile.name / 'benchmarks.db'}"


PARTS = ("quality", "curves", "efficiency", "costs")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.splitlines()[0] if __doc__ else None
    )
    chosen = parser.add_mutually_exclusive_group(required=True)
    for name in PROFILES:
        chosen.add_argument(
            f"--{name}",
            dest="profile",
            action="store_const",
            const=name,
            help=PROFILES[name].description,
        )
    chosen.add_argument("--profile", dest="profile", help="a profile by name (same as --NAME)")
    parser.add_argument(
        "--storage",
        default=None,
        help="study database URL (default: sqlite:///benchmarks/results/benchmarks.db for cpu, "
        "committed with the numbers it reports; benchmarks/results/PROFILE/benchmarks.db for "
        "the others)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO,
        help="root of the results (default: the repo): the cpu profile writes OUT/BENCHMARKS.md, "
        "others OUT/benchmarks/results/PROFILE/BENCHMARKS.md; figures go to the latter folder",
    )
    parser.add_argument("--model", default=None, help="model to compress (default: the profile's)")
    parser.add_argument("--task", default=None, help="task (default: the profile's)")
    parser.add_argument("--text-column", default=None)
    parser.add_argument("--label-column", default=None)
    parser.add_argument("--cache", type=Path, default=None, help="teacher cache folder")
    parser.add_argument(
        "--device", default="auto", help="auto (CUDA when visible), cpu, cuda or cuda:N"
    )
    parser.add_argument(
        "--parts", nargs="+", choices=PARTS, default=list(PARTS), help="parts to run"
    )
    parser.add_argument("--report-only", action="store_true", help="write the report, run nothing")
    return parser


def _profile(args: argparse.Namespace) -> Profile:
    """The chosen profile with the command line's model and task (one-line error if unknown)."""
    return get_profile(args.profile).with_overrides(
        model=args.model,
        task=args.task,
        text_column=args.text_column,
        label_column=args.label_column,
    )


def _with_smoke_data(profile: Profile, out: Path) -> Profile:
    """The smoke profile, when no model was given, on a tiny model written under ``out``, and on
    its tiny task unless the command line named a task."""
    smoke = get_profile("smoke")
    if profile.name != "smoke" or profile.model != smoke.model:
        return profile
    from ladasearch.testing import make_tiny

    model_dir, csv_path = make_tiny(out / "benchmarks" / "results" / "smoke-data")
    tiny: dict[str, str] = {"model": str(model_dir)}
    if profile.task == smoke.task:
        tiny.update(task=f"csv:{csv_path}", text_column="sentence", label_column="sentiment")
    return profile.with_overrides(**tiny)


def _announce(profile: Profile, storage: str, echo: object) -> None:
    say = print if not callable(echo) else echo
    say(f"benchmarks: profile {profile.name} ({profile.description}); database {storage}")
    for line in profile.budget_lines():
        say(f"  {line}")
    if profile.model == "minilm" and profile.task == "rt":
        parts = estimate_seconds(profile)
        detail = ", ".join(f"{k} {v / 60:.0f}" for k, v in parts.items() if k != "total")
        limit = f" (limit {profile.limit_minutes:g} min)" if profile.limit_minutes else ""
        say(
            f"  estimate on an idle 2-core CPU: {parts['total'] / 60:.0f} min{limit}: {detail} min "
            "(a cached teacher saves its share; a GPU is much faster)"
        )


def shown_storage(url: str, root: Path) -> str:
    """The database URL as the report shows it: credentials hidden, a SQLite file under ``root``
    as a relative URL (``sqlite:///benchmarks/results/benchmarks.db``), valid from ``root``."""
    from ladasearch.search.studydb.urls import redact

    if url.startswith("sqlite:////"):
        path = Path(url.removeprefix("sqlite:///"))
        if path.is_relative_to(root):
            return f"sqlite:///{path.relative_to(root).as_posix()}"
    return redact(url)


def run(argv: Sequence[str] | None = None) -> Path:
    """Run the command; return the path of the BENCHMARKS.md it wrote."""
    args = _parser().parse_args(argv)
    from benchmarks.costs import collect_costs, run_costs
    from benchmarks.curves import collect_curves, run_curves
    from benchmarks.efficiency import collect_efficiency, run_efficiency
    from benchmarks.latency_report import collect_latency
    from benchmarks.quality import collect_quality, run_quality
    from benchmarks.report import Report, render, write_figures
    from benchmarks.runs import Bench
    from ladasearch.search.studydb.connect import open_storage
    from ladasearch.search.studydb.urls import redact, resolve_storage_url

    out = Path(args.out).resolve()
    profile = _profile(args)  # an unknown profile fails first
    url = resolve_storage_url(args.storage or default_storage(profile))
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    storage = open_storage(url)  # a dead database fails next, in one line
    profile = _with_smoke_data(profile, out)
    shown = ["python", "-m", "benchmarks.run", *(argv if argv is not None else sys.argv[1:])]
    command = shlex.join(shown)
    results = out / "benchmarks" / "results" / profile.name
    bench = Bench(
        profile,
        url,
        results,
        command,
        cache_dir=args.cache,
        echo=lambda s: print(s, flush=True),
        device=args.device,
    )
    bench._storage = storage
    bench.check_subject()
    _announce(profile, redact(url), bench.echo)
    started = time.perf_counter()
    if not args.report_only:
        steps = {
            "quality": run_quality,
            "curves": run_curves,
            "efficiency": run_efficiency,
            "costs": run_costs,
        }
        for part in PARTS:
            if part in args.parts:
                steps[part](bench)
                bench.echo(
                    f"part {part} done ({(time.perf_counter() - started) / 60:.1f} min so far)"
                )
    from ladasearch.tasks import load_task

    report = Report(
        profile=profile,
        storage=shown_storage(url, out),
        quality=collect_quality(bench),
        curves=collect_curves(bench),
        efficiency=collect_efficiency(bench),
        costs=collect_costs(bench),
        train_size=len(load_task(bench.task_spec()).train),
        figures={},
        wall_seconds=bench.wall_seconds(),
        last_run=bench.last_finished(),
        latency=collect_latency(results),
    )
    path = (out if profile.headline else results) / "BENCHMARKS.md"
    figures = write_figures(report, results, path.parent)
    report = Report(**{**report.__dict__, "figures": figures})
    path.write_text(render(report, command), encoding="utf-8")
    bench.echo(f"wrote {path}")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: one-line errors (exit 2) for bad input and dead databases."""
    try:
        run(argv)
    except LadaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: run the same command again to continue", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
