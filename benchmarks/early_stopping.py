"""MOASHA early stopping on a Pareto study: compute saved, front kept, rung placement checked.

``python -m benchmarks.early_stopping [--trials 16] [--steps 24] [--rung 6] [--smoke]`` runs two
Pareto studies (accuracy up, params down, over ``--target-range``) with the same sampler and
seed, one trial at a time: ``record`` (the rung's dev accuracy is measured and stored, nobody is
stopped: the study without early stopping) and ``moasha`` (``early_stopping: moasha``). It
prints, per study, the compute used (distillation steps run, and the trials' summed wall time),
the trials COMPLETE and PRUNED, the hypervolume of the front of COMPLETE trials (objectives
``-accuracy`` and the measured ``ratio``; reference point: the majority-class dev accuracy and
the high end of the target range), the saving and the hypervolume ratio, and the Spearman
correlation between rung and final dev accuracy over the ``record`` study (the rung is in the
right place at rho >= 0.6). Last line: one JSON object.

Default: the offline ``minilm`` on ``rt`` with the benchmark profiles' teacher (300 steps, batch
32, max length 64: the same cache key, so an existing teacher is reused). ``--smoke``: the tiny
model and task of ``ladasearch.testing`` (a minute). The two studies run one after the other,
so on a shared machine their wall times see different loads; the step counts do not.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from ladasearch.search.early_stopping import METRICS
from ladasearch.search.pareto_rank import RANKINGS, hypervolume_2d

__all__ = ["main", "replay", "study_data", "study_numbers"]


def _study(args: argparse.Namespace, folder: Path, arm: str, rung: int) -> Any:
    from ladasearch.search.study_file import parse_study

    data = study_data(args, folder, arm, rung)
    return parse_study(data, source=f"{data['name']}.yaml")


def study_data(args: argparse.Namespace, folder: Path, arm: str, rung: int) -> dict[str, Any]:
    """The study file (as a mapping) of one arm; ``args`` holds this module's options (or the
    ``settings`` a run stored in its JSON line)."""
    data: dict[str, Any] = {
        "name": f"{args.name}-{arm}",
        "mode": "pareto",
        "target_range": list(args.target_range),
        "objectives": ["accuracy", "params"],
        "trials": args.trials,
        "seed": args.seed,
        "sampler": args.sampler,
        "max_concurrent": 1,
        "runs_dir": str(folder / "runs"),
        "trial": {
            "iterations": args.iterations,
            "steps": args.steps,
            "max_length": 64,
            "learning_rate": args.learning_rate,
            "measure_latency": args.latency,  # off: compute is training and evaluation
        },
        "teacher": {"steps": 300, "batch_size": 32, "learning_rate": 5e-5},
        "resources": {"cpu": 1, "gpu": 0},
        "early_stopping": {
            "method": arm,
            "rung": rung,
            "reduction_factor": args.reduction_factor,
            "min_trials": args.min_trials,
            "ranking": args.ranking,
            "metric": args.metric,
        },
    }
    if args.smoke:
        from ladasearch.testing import make_tiny

        model_dir, csv_path = make_tiny(folder / "tiny")
        data.update(
            model=str(model_dir),
            task=f"csv:{csv_path}",
            text_column="sentence",
            label_column="sentiment",
            teacher={"steps": 20, "batch_size": 16, "allow_weak": True},
        )
        data["trial"]["max_length"] = 16
    else:
        data.update(model=args.model, task=args.task)
    return data


def study_numbers(
    trials: list[Any], total_steps: int, reference: tuple[float, float]
) -> dict[str, Any]:
    """Compute, states and front hypervolume of one study's trials (Optuna ``FrozenTrial`` s)."""
    steps = 0
    wall = 0.0
    states: dict[str, int] = {}
    points = []
    for trial in trials:
        states[trial.state.name] = states.get(trial.state.name, 0) + 1
        attrs = trial.user_attrs
        if trial.state.name == "COMPLETE":
            steps += total_steps
            if isinstance(attrs.get("accuracy"), float) and isinstance(attrs.get("ratio"), float):
                points.append((-attrs["accuracy"], attrs["ratio"]))
        elif trial.state.name == "PRUNED":
            steps += int(attrs.get("pruned_at_step", 0))
        else:
            continue
        if trial.datetime_start and trial.datetime_complete:
            wall += (trial.datetime_complete - trial.datetime_start).total_seconds()
    return {
        "distill_steps": steps,
        "trial_wall_s": wall,
        "states": states,
        "hypervolume": hypervolume_2d(points, reference),
        "front_points": len(points),
    }


def replay(
    trials: list[Any],
    step: int,
    reduction_factor: float,
    min_trials: int,
    total_steps: int,
    reference: tuple[float, float],
    ranking: str = "eps_net",
    metric: str = "accuracy",
) -> dict[str, Any]:
    """MOASHA's decisions replayed on a ``record`` study's dev curves, trial by trial in order
    (:func:`ladasearch.search.rung_replay.replay_rung`, as a dict for the JSON line).

    Checked against a real MOASHA run where one ran: trials are deterministic given their ratios
    and seed, and a seeded sampler's start-up proposes the same points whatever was stopped.
    """
    from ladasearch.search.rung_replay import replay_rung

    r = replay_rung(
        trials, step, reduction_factor, total_steps, reference, min_trials, ranking, metric
    )
    return {
        "rung": step,
        "reduction_factor": reduction_factor,
        "ranking": ranking,
        "metric": metric,
        "pruned": list(r.pruned),
        "distill_steps": r.steps_used,
        "hypervolume": r.hypervolume,
    }


def _trial_row(trial: Any) -> dict[str, Any]:
    """What a replay needs of one trial (kept in the JSON line, so replays outlive the database)."""
    attrs = trial.user_attrs
    return {
        "number": trial.number,
        "state": trial.state.name,
        "params": dict(trial.params),
        "rung": attrs.get("rung"),
        "rung_curve": attrs.get("rung_curve"),
        "rung_curve_nll": attrs.get("rung_curve_nll"),
        "accuracy": attrs.get("accuracy"),
        "ratio": attrs.get("ratio"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.early_stopping")
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=1)
    parser.add_argument("--steps", type=int, default=40, help="distillation steps per iteration")
    parser.add_argument(
        "--rung",
        default="10",
        help="global step of the rung, or 'auto': the record study measures dev every "
        "--rung-every steps and MOASHA's rung is the earliest step with Spearman rho >= 0.6",
    )
    parser.add_argument("--rung-every", type=int, default=10)
    parser.add_argument("--reduction-factor", type=float, default=3.0)
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument(
        "--latency", action="store_true", help="measure each trial's latency (slow on a CPU)"
    )
    parser.add_argument("--min-trials", type=int, default=2)
    parser.add_argument(
        "--ranking",
        default="eps_net",
        choices=RANKINGS,
        help="the MOASHA study's rung order (replays show both)",
    )
    parser.add_argument(
        "--metric",
        default="accuracy",
        choices=METRICS,
        help="the MOASHA study's rung score, and the curve 'auto' places the rung on "
        "(replays show both)",
    )
    parser.add_argument("--target-range", nargs=2, default=["2.5x", "10x"])
    parser.add_argument("--sampler", default="tpe")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--task", default="rt")
    parser.add_argument("--smoke", action="store_true", help="tiny model and task (a minute)")
    parser.add_argument("--name", default="es")
    parser.add_argument("--folder", type=Path, default=None, help="work folder (default: temp)")
    parser.add_argument("--cache", default=None, help="teacher cache (default: the usual one)")
    parser.add_argument(
        "--arms",
        nargs="*",
        default=["record", "moasha"],
        help="studies to run now; a study of the other arm already in --folder's database is "
        "read instead (none: only read and replay)",
    )
    args = parser.parse_args(argv)
    import optuna

    from ladasearch.search.orchestrator import run_study
    from ladasearch.search.rung_report import curve_report, earliest_good_step, rung_report
    from ladasearch.search.studydb.connect import open_storage
    from ladasearch.units import parse_target

    folder = args.folder or Path(tempfile.mkdtemp(prefix="early-stopping-"))
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{folder / 'early_stopping.db'}"
    open_storage(url)  # creates the database's tables, so that it can be listed
    high = parse_target(args.target_range[0], what="target_range")  # 2.5x -> 0.4: largest
    total_steps = args.iterations * args.steps
    results: dict[str, Any] = {}
    auto = args.rung == "auto"
    rung = args.rung_every if auto else int(args.rung)
    stored = {s.study_name for s in optuna.get_all_study_summaries(url)}
    for arm in ("record", "moasha"):
        study = _study(args, folder, arm, rung)
        if arm not in args.arms and study.name not in stored:
            continue
        started = time.perf_counter()
        if arm in args.arms:  # else: read the study an earlier invocation ran
            run_study(study, storage=url, cache_dir=args.cache)
        wall = time.perf_counter() - started
        loaded = optuna.load_study(study_name=study.name, storage=url)
        majority = float(loaded.user_attrs.get("majority_accuracy", 0.5))
        trials = loaded.get_trials()
        numbers = study_numbers(trials, total_steps, (-majority, high))
        numbers["study_wall_s"] = wall
        numbers["reference"] = [majority, high]
        report = rung_report(trials, study.name)
        numbers["spearman"] = None if math.isnan(report.spearman) else report.spearman
        numbers["spearman_n"] = report.n
        numbers["spearman_line"] = report.line()
        curves = {metric: curve_report(trials, metric) for metric in METRICS}
        curve = curves[args.metric]
        numbers["rung"] = rung
        for metric, one in curves.items():
            numbers["curve" if metric == "accuracy" else f"curve_{metric}"] = {
                str(k): [n, None if math.isnan(r) else r] for k, (n, r) in one.items()
            }
            for step, (n, rho) in one.items():
                print(
                    f"  dev {metric} curve at step {step}: {n} trials, Spearman rho = {rho:.3f}",
                    flush=True,
                )
        if arm == "record":
            base_steps, base_hv = numbers["distill_steps"], numbers["hypervolume"]
            numbers["replays"] = []
            numbers["trials"] = [_trial_row(t) for t in trials]
            arms = [
                (m, k, f)
                for m in METRICS
                if curves[m] or m == "accuracy"
                for k in RANKINGS
                for f in (2.0, 3.0, 4.0, 6.0)
            ]
            for step in sorted(set(curve) | {rung}):
                for metric, ranking, factor in arms:
                    r = replay(
                        trials,
                        step,
                        factor,
                        args.min_trials,
                        total_steps,
                        (-majority, high),
                        ranking,
                        metric,
                    )
                    r["saving_steps"] = 1 - r["distill_steps"] / max(base_steps, 1)
                    r["hypervolume_ratio"] = r["hypervolume"] / max(base_hv, 1e-12)
                    numbers["replays"].append(r)
                    print(
                        f"  replay: rung {step}, {metric}, {ranking}, reduction {factor:g}: stops "
                        f"{len(r['pruned'])}, "
                        f"saves {100 * r['saving_steps']:.1f}% of the steps, hypervolume "
                        f"{100 * r['hypervolume_ratio']:.1f}%",
                        flush=True,
                    )
        if arm == "record" and auto:
            good = earliest_good_step(curve)
            rung = good if good is not None else max(curve, default=rung)
            print(
                f"  MOASHA's rung: step {rung} (earliest with rho >= 0.6 on the {args.metric} "
                f"curve: {good})",
                flush=True,
            )
        results[arm] = numbers
        print(
            f"{study.name}: {numbers['states']}, {numbers['distill_steps']} distillation steps, "
            f"trials' wall {numbers['trial_wall_s']:.0f} s (study {wall:.0f} s), "
            f"hypervolume {numbers['hypervolume']:.5f} over {numbers['front_points']} points",
            flush=True,
        )
        print(report.line(), flush=True)
    if "record" in results and "moasha" in results:
        base, es = results["record"], results["moasha"]
        results["saving_steps"] = 1 - es["distill_steps"] / max(base["distill_steps"], 1)
        results["saving_wall"] = 1 - es["trial_wall_s"] / max(base["trial_wall_s"], 1e-9)
        results["hypervolume_ratio"] = es["hypervolume"] / max(base["hypervolume"], 1e-12)
        print(
            f"MOASHA saves {100 * results['saving_steps']:.1f}% of the distillation steps and "
            f"{100 * results['saving_wall']:.1f}% of the trials' wall time; its front's "
            f"hypervolume is {100 * results['hypervolume_ratio']:.1f}% of the study without "
            "early stopping"
        )
    results["settings"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
