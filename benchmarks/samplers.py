"""The sampler's value on tabular benchmarks: TPE, random, QMC and NSGA-II replayed over seeds.

    python -m benchmarks.samplers --json
    python -m benchmarks.samplers --table benchmarks/results/tabular_5x.csv --seeds 50 \\
        --samplers tpe,random,tpe+warm,gp,cmaes,tpe-mv

Each table (``benchmarks.tabular``'s CSV; default: the committed ``tabular_5x.csv`` and
``tabular_pareto.csv``) is replayed by every sampler over ``--seeds`` seeds, ``--trials`` trials
each (:mod:`benchmarks.replay`: the service's own samplers and ConstrainedSpace, a proposal
mapped to its nearest table point, repeats refused). Per sampler: median and IQR over seeds of
the best dev accuracy after each checkpoint (default 10 and 20 trials) and, on a Pareto table, of
the hypervolume of (dev accuracy, size ratio), as a share of the whole table's. Every sampler is
compared with random on the same seeds (sign test over seeds, exact: "beats" / "loses" when
one-sided p < 0.05, else "tie"). Markdown tables first; with ``--json`` the last line is one JSON
object of all of it.

Sampler names: ``tpe``, ``random``, ``qmc``, ``nsga2`` (as a study file names them), ``gp``
(GPSampler; slow: about 15 s a 20-trial replay), ``cmaes`` (fixed target only; needs the
``cmaes`` package), ``tpe-mv`` (multivariate TPE), ``tpe-sN`` (TPE with
``startup_trials: N``); ``NAME+warm`` first enqueues the study files' ``balanced`` seed points.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from benchmarks.replay import Table, hypervolume, load_table, replay
from benchmarks.tabular import read_rows
from ladasearch.errors import LadaError
from ladasearch.search.space import GroupSizes, enqueue_points
from ladasearch.stats import mcnemar_one_sided

__all__ = ["DEFAULT_TABLES", "main", "make", "summarize"]

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_TABLES = (RESULTS / "tabular_5x.csv", RESULTS / "tabular_pareto.csv")
SERVICE = ("tpe", "random", "qmc", "nsga2")


def make(name: str, seed: int, pareto: bool) -> Any:
    """A seeded sampler by name (``+warm`` stripped): the service's four, or an extra."""
    import optuna

    from ladasearch.search.samplers import make_sampler

    base = name.removesuffix("+warm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if base in SERVICE:
            return make_sampler(base, seed)
        if base.startswith("tpe-s") and base[5:].isdigit():  # study file's startup_trials
            return make_sampler("tpe", seed, int(base[5:]))
        if base == "gp":
            return optuna.samplers.GPSampler(seed=seed)
        if base == "tpe-mv":
            return optuna.samplers.TPESampler(seed=seed, multivariate=True)
        if base == "cmaes" and not pareto:
            if importlib.util.find_spec("cmaes") is None:
                raise ValueError("cmaes needs the cmaes package (pip install cmaes)")
            return optuna.samplers.CmaEsSampler(seed=seed)
    raise ValueError(f"unknown sampler {name!r}" + (" (cmaes is single-objective)" * pareto))


def _spread(values: list[float]) -> dict[str, Any]:
    if len(values) < 2:
        return {"median": values[0] if values else None, "iqr": None}
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return {"median": round(q2, 6), "iqr": [round(q1, 6), round(q3, 6)]}


def _paired(ours: list[float], theirs: list[float]) -> dict[str, Any]:
    wins = sum(a > b for a, b in zip(ours, theirs, strict=True))
    losses = sum(a < b for a, b in zip(ours, theirs, strict=True))
    better, worse = mcnemar_one_sided(wins, losses), mcnemar_one_sided(losses, wins)
    verdict = "beats" if better < 0.05 else "loses" if worse < 0.05 else "tie"
    return {
        "wins": wins,
        "losses": losses,
        "ties": len(ours) - wins - losses,
        "p_better": float(f"{better:.3g}"),
        "p_worse": float(f"{worse:.3g}"),
        "verdict": verdict,
    }


def summarize(
    table: Table,
    sizes: GroupSizes,
    names: list[str],
    seeds: int,
    checkpoints: list[int],
) -> dict[str, Any]:
    """Replay ``names`` on ``table`` over ``seeds`` seeds; the per-sampler statistics."""
    for name in names:
        make(name, 0, table.pareto)  # an unknown or unusable sampler: refused before any replay
    trials = max(checkpoints)
    reference = (min(table.dev), max(table.ratio))
    whole = hypervolume(list(zip(table.dev, table.ratio, strict=True)), reference)
    warm = enqueue_points(table.space(sizes), "balanced")
    runs: dict[str, dict[str, list[float]]] = {}
    out: dict[str, Any] = {}
    for name in names:
        series: dict[str, list[float]] = {}
        refused: list[int] = []
        for seed in range(seeds):
            sampler = make(name, seed, table.pareto)
            start = warm if name.endswith("+warm") else []
            chosen, resampled = replay(table, sizes, sampler, trials, start)
            refused.append(resampled)
            for n in checkpoints:
                series.setdefault(f"best_dev@{n}", []).append(max(table.dev[i] for i in chosen[:n]))
                if table.pareto and whole > 0:
                    front = [(table.dev[i], table.ratio[i]) for i in chosen[:n]]
                    series.setdefault(f"hv@{n}", []).append(hypervolume(front, reference) / whole)
        runs[name] = series
        out[name] = {key: _spread(values) for key, values in series.items()}
        out[name]["refused_asks_mean"] = round(statistics.fmean(refused), 2)
    final = f"best_dev@{trials}"
    keys = [final] + ([f"hv@{trials}"] if table.pareto and whole > 0 else [])
    versus = {
        name: {key: _paired(runs[name][key], runs["random"][key]) for key in keys}
        for name in names
        if name != "random" and "random" in runs
    }
    return {
        "points": len(table),
        "mode": "pareto" if table.pareto else "fixed",
        "target": table.target,
        "target_range": list(table.target_range) if table.target_range else None,
        "table_best_dev": max(table.dev),
        "table_median_dev": statistics.median(table.dev),
        "warm_start_points": len(warm),
        "samplers": out,
        "vs_random": versus,
    }


def markdown(name: str, result: dict[str, Any], checkpoints: list[int]) -> str:
    """One table's results as a markdown table."""

    def cell(stat: dict[str, Any], scale: float = 100.0) -> str:
        if stat["iqr"] is None:
            return "-" if stat["median"] is None else f"{scale * stat['median']:.2f}"
        q1, q3 = stat["iqr"]
        return f"{scale * stat['median']:.2f} ({scale * q1:.2f}-{scale * q3:.2f})"

    hv = result["mode"] == "pareto" and f"hv@{checkpoints[0]}" in next(
        iter(result["samplers"].values())
    )
    head = [f"best dev after {n}" for n in checkpoints]
    head += [f"hypervolume after {n} (% of table)" for n in checkpoints] if hv else []
    last = checkpoints[-1]
    lines = [
        f"{name}: {result['points']} points, table best dev {100 * result['table_best_dev']:.2f}, "
        f"median {100 * result['table_median_dev']:.2f}",
        "",
        "| sampler | " + " | ".join(head) + f" | vs random after {last} (W/L/T, verdict) |",
        "|---" * (len(head) + 2) + "|",
    ]
    for sampler, stats in result["samplers"].items():
        cells = [cell(stats[f"best_dev@{n}"]) for n in checkpoints]
        cells += [cell(stats[f"hv@{n}"]) for n in checkpoints] if hv else []
        versus = result["vs_random"].get(sampler)
        verdicts = "-"
        if versus:
            verdicts = "; ".join(
                f"{key.split('@')[0]} {v['wins']}/{v['losses']}/{v['ties']} {v['verdict']} "
                f"(p {min(v['p_better'], v['p_worse']):.3g})"
                for key, v in versus.items()
            )
        lines.append(f"| {sampler} | " + " | ".join(cells) + f" | {verdicts} |")
    return "\n".join(lines)


def _sizes(model: str, labels: int) -> GroupSizes:
    from ladasearch.compression.accounting import parameter_groups
    from ladasearch.models import load_classifier

    net, _ = load_classifier(model, [str(i) for i in range(labels)])
    return GroupSizes.of(parameter_groups(net))


def main(argv: list[str] | None = None) -> int:
    """Replay the samplers on each table; print markdown (and ``--json``'s last line)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--table", type=Path, action="append", default=None)
    parser.add_argument(
        "--target-range",
        default="0.1,0.4",
        metavar="LOW,HIGH",
        help="a Pareto table's range (benchmarks.tabular --target-range)",
    )
    parser.add_argument("--model", default="minilm", help="the tables' model (for eq. 7 sizes)")
    parser.add_argument("--labels", type=int, default=2)
    parser.add_argument("--samplers", default=",".join(SERVICE))
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--checkpoints", default="10,20", help="trial counts reported")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        low, high = (float(v) for v in args.target_range.split(","))
        checkpoints = sorted({int(v) for v in args.checkpoints.split(",")})
        names = [n.strip() for n in args.samplers.split(",") if n.strip()]
        if args.seeds < 1 or checkpoints[0] < 1:
            raise ValueError("--seeds and --checkpoints must be positive")
    except ValueError as error:
        parser.exit(2, f"error: {error}\n")
    tables = args.table or [path for path in DEFAULT_TABLES if path.is_file()]
    if not tables:
        parser.exit(2, "error: no table: run benchmarks.tabular first or give --table\n")
    try:
        sizes = _sizes(args.model, args.labels)
    except LadaError as error:
        parser.exit(2, f"error: {error}\n")
    results: dict[str, Any] = {}
    for path in tables:
        rows = read_rows(path)
        try:
            table = load_table(rows, sizes, (low, high))
            result = summarize(table, sizes, names, args.seeds, checkpoints)
        except ValueError as error:
            parser.exit(2, f"error: {path}: {error}\n")
        results[path.stem] = result
        print(markdown(path.stem, result, checkpoints), end="\n\n", flush=True)
    seconds = time.perf_counter() - started
    print(
        f"{len(names)} samplers x {args.seeds} seeds x {max(checkpoints)} trials on "
        f"{len(tables)} table(s) in {seconds:.1f} s",
        file=sys.stderr,
    )
    if args.json:
        document = {
            "seeds": args.seeds,
            "checkpoints": checkpoints,
            "seconds": round(seconds, 2),
            "tables": results,
        }
        print(json.dumps(document, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
