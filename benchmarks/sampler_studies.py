"""Real studies, sampler against sampler: N trials of the engine at a fixed target, per seed.

    python -m benchmarks.sampler_studies --sampler tpe --seed 0 --trials 20 --target 0.2 \\
        --device cuda --out results/studies/tpe_0.json

Each study is an Optuna study (SQLite beside ``--out``) over the service's own constrained space
(:class:`~ladasearch.search.space.ConstrainedSpace`, every sample on eq. 7's target), each trial
one ``compress_job`` at the given budget, run in this process (no Ray: this measures the sampler,
not the orchestration). After every trial the JSON file is rewritten with every trial's ratios,
dev and test accuracy and the best dev accuracy so far, so a study cut short keeps what it ran.
``python -m benchmarks.sampler_studies --report FILES...`` prints the table: per sampler, the
median best dev accuracy after 10 and after N trials over the seeds, and the test accuracy of
the dev-best trial.
"""

from __future__ import annotations

import argparse
import json
import statistics
import warnings
from pathlib import Path
from typing import Any

from benchmarks.tabular import settings_from_args
from ladasearch.commands.common import add_model_argument, add_task_arguments, task_spec_from_args
from ladasearch.compression.accounting import parameter_groups
from ladasearch.compression.pipeline import compress_job
from ladasearch.compression.ratios import RATIO_KEYS, Ratios
from ladasearch.models import load_classifier
from ladasearch.search.samplers import make_sampler
from ladasearch.search.space import ConstrainedSpace, GroupSizes
from ladasearch.tasks import load_task

__all__ = ["main", "report", "sampler"]

SAMPLERS = ("tpe", "random", "qmc", "gp")


def sampler(name: str, seed: int) -> Any:
    """The service's sampler ``name`` (as a study file names it, default start-up), seeded."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_sampler(name, seed)


def _best_after(trials: list[dict[str, Any]], n: int) -> float | None:
    done = [t["dev_accuracy"] for t in trials[:n]]
    return max(done) if len(trials) >= n else None


def report(paths: list[Path]) -> str:
    """The markdown table over the study files (one row per sampler)."""
    by_sampler: dict[str, list[dict[str, Any]]] = {}
    for path in paths:
        document = json.loads(path.read_text(encoding="utf-8"))
        by_sampler.setdefault(document["sampler"], []).append(document)
    lines = [
        "| sampler | seeds | trials per study | best dev after 10 (median, min-max) "
        "| best dev after all (median, min-max) | test of the dev-best (median) |",
        "|---|---|---|---|---|---|",
    ]

    def spread(values: list[float]) -> str:
        if not values:
            return "-"
        return (
            f"{100 * statistics.median(values):.2f} ({100 * min(values):.2f}-"
            f"{100 * max(values):.2f})"
        )

    for name, studies in sorted(by_sampler.items()):
        after10 = [v for s in studies if (v := _best_after(s["trials"], 10)) is not None]
        final = [max(t["dev_accuracy"] for t in s["trials"]) for s in studies if s["trials"]]
        tests = [
            max(s["trials"], key=lambda t: t["dev_accuracy"])["test_accuracy"]
            for s in studies
            if s["trials"]
        ]
        counts = sorted({len(s["trials"]) for s in studies})
        lines.append(
            f"| {name} | {len(studies)} | {'/'.join(map(str, counts))} | {spread(after10)} "
            f"| {spread(final)} | {spread(tests)} |"
        )
    rows = [t for studies in by_sampler.values() for s in studies for t in s["trials"]]
    for key, split in (("majority_dev", "dev"), ("majority_test", "test")):
        values = {t[key] for t in rows if isinstance(t.get(key), float)}
        if values:
            lines.append(f"\nmajority class, {split}: {100 * min(values):.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run one study (or ``--report``); return 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_model_argument(parser, required=False)
    add_task_arguments(parser, required=False)
    parser.add_argument("--sampler", choices=SAMPLERS, default="tpe")
    parser.add_argument("--seed", type=int, default=0, help="the sampler's seed (runs use it too)")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--target", type=float, default=0.2)
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--teacher-steps", type=int, default=300, help="0: the recipe's epochs")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--report", type=Path, nargs="*", default=None)
    args = parser.parse_args(argv)
    if args.report is not None:
        print(report(args.report))
        return 0
    if args.out is None:
        parser.error("--out is required to run a study")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = task_spec_from_args(args)
    task = load_task(spec)
    net, _ = load_classifier(args.model, task.label_names)
    space = ConstrainedSpace(GroupSizes.of(parameter_groups(net)), target=args.target)
    del net
    training, teacher = settings_from_args(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    storage = f"sqlite:///{args.out.with_suffix('.db')}"
    study = optuna.create_study(
        study_name=f"{args.sampler}-{args.seed}",
        storage=storage,
        direction="maximize",
        sampler=sampler(args.sampler, args.seed),
        load_if_exists=True,
    )
    # a study cut short resumes: its finished trials (rows kept as user attributes) count
    trials: list[dict[str, Any]] = [
        dict(t.user_attrs["row"])
        for t in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
        if "row" in t.user_attrs
    ]

    def objective(trial: optuna.Trial) -> float:
        point = space(trial)
        metrics = compress_job(
            model=args.model,
            task=spec,
            ratios=Ratios.from_mapping(point),
            training=training,
            teacher_config=teacher,
            seed=args.seed,
            device=args.device,
            measure_latency=False,
            cache_dir=args.cache_dir,
            quiet=True,
        )
        row = {
            **{k: point[k] for k in RATIO_KEYS},
            "ratio": metrics["ratio"],
            "dev_accuracy": metrics["accuracy"],
            "test_accuracy": metrics["test_accuracy"],
            "majority_dev": metrics.get("majority_accuracy"),
            "majority_test": metrics.get("majority_test_accuracy"),
            "wall_s": metrics["timings"]["total_s"],
        }
        trial.set_user_attr("row", row)
        trials.append(row)
        document = {
            "sampler": args.sampler,
            "seed": args.seed,
            "target": args.target,
            "budget": {"iterations": args.iterations, "steps": args.steps},
            "trials": trials,
            "best_so_far": [
                max(t["dev_accuracy"] for t in trials[: i + 1]) for i in range(len(trials))
            ],
        }
        args.out.write_text(json.dumps(document, indent=1), encoding="utf-8")
        print(
            f"{args.sampler} seed {args.seed} trial {len(trials)}: dev {metrics['accuracy']:.4f}",
            flush=True,
        )
        return float(metrics["accuracy"])

    study.optimize(objective, n_trials=max(0, args.trials - len(trials)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
