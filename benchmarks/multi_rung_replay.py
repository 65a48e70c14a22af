"""Would a second MOASHA rung save more? Replays several rungs on a record study's dev curves.

    python -m benchmarks.multi_rung_replay benchmarks/results/early-stopping-es4-record-nll-2026-12-05.txt

Reads the last JSON line of a ``benchmarks.early_stopping`` output (its ``record.trials`` rows:
each trial's dev curve every ``--rung-every`` steps, final accuracy and ratio) and replays, trial by
trial in order, an asynchronous successive-halving rule with one to three rungs: at each rung the
trial is ranked (:func:`~ladasearch.search.pareto_rank.promote`, eps_net) against the earlier
trials' records at that rung and stops there when it loses. Prints, per rung set, reduction factor
and rung metric: trials stopped, distillation steps saved and the front's hypervolume kept (of the
record study's, same reference point). The service runs one rung; this only measures whether more
would pay.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ladasearch.search.pareto_rank import hypervolume_2d, promote

__all__ = ["main", "replay_rungs"]

RUNG_SETS = ((10,), (10, 20), (10, 20, 30), (10, 15), (10, 25), (15, 30), (5, 10), (5, 20))


def replay_rungs(
    record: dict[str, Any], rungs: tuple[int, ...], factor: float, metric: str, total: int
) -> tuple[int, float, float]:
    """(trials stopped, share of steps saved, hypervolume kept) of ``rungs`` on ``record``."""
    reference = (-record["reference"][0], record["reference"][1])
    curves = "rung_curve" if metric == "accuracy" else "rung_curve_nll"
    recorded: dict[int, list[tuple[float, float]]] = {r: [] for r in rungs}
    steps, stopped, kept = 0, 0, []
    trials = [t for t in record["trials"] if t["state"] == "COMPLETE"]
    for trial in sorted(trials, key=lambda t: t["number"]):
        size = float(trial["rung"]["size"])
        for rung in rungs:
            value = float(trial[curves][str(rung)])
            point = (-value if metric == "accuracy" else value, size)
            goes_on = promote(point, recorded[rung], factor, 2, "eps_net")
            recorded[rung].append(point)
            if not goes_on:
                steps, stopped = steps + rung, stopped + 1
                break
        else:
            steps += total
            kept.append((-float(trial["accuracy"]), float(trial["ratio"])))
    base = len(trials) * total
    return stopped, 1 - steps / base, hypervolume_2d(kept, reference) / record["hypervolume"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.multi_rung_replay")
    parser.add_argument("output", type=Path, help="a benchmarks.early_stopping output file")
    args = parser.parse_args(argv)
    lines = [x for x in args.output.read_text(encoding="utf-8").splitlines() if x.startswith("{")]
    document = json.loads(lines[-1])
    record = document["record"]
    settings = document["settings"]
    total = int(settings["iterations"]) * int(settings["steps"])
    print("| rungs | reduction | metric | stopped | steps saved | hypervolume kept |")
    print("| --- | --- | --- | --- | --- | --- |")
    for rungs in RUNG_SETS:
        for factor in (2.0, 3.0, 4.0):
            for metric in ("accuracy", "nll"):
                stopped, saved, kept = replay_rungs(record, rungs, factor, metric, total)
                print(
                    f"| {', '.join(map(str, rungs))} | {factor:g} | {metric} | {stopped} | "
                    f"{100 * saved:.1f}% | {100 * kept:.1f}% |"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
