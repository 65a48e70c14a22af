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

A second table replays a **plateau guard**: at rung ``r`` a trial whose dev accuracy is not above
the majority class (the study's reference accuracy, plus ``tolerance``) is not ranked (its record
would rank it with the trials that never learn); it runs on to ``2 r`` and stops there only if it
is still on that plateau. The other trials are ranked at ``r`` as above, against each other.
Rung sets or guards whose steps the record study did not measure are left out.
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
    record: dict[str, Any],
    rungs: tuple[int, ...],
    factor: float,
    metric: str,
    total: int,
    guard: float | None = None,
) -> tuple[int, float, float]:
    """(trials stopped, share of steps saved, hypervolume kept) of ``rungs`` on ``record``.

    ``guard``: the plateau guard's tolerance (module docstring), or None for none. With the
    guard, a trial at most ``tolerance`` above the majority class at rung ``r`` is not ranked
    there; it stops at ``2 r`` if still on the plateau and otherwise passes rung ``r``.
    """
    reference = (-record["reference"][0], record["reference"][1])
    plateau = float(record["reference"][0]) + (guard or 0.0)
    curves = "rung_curve" if metric == "accuracy" else "rung_curve_nll"
    recorded: dict[int, list[tuple[float, float]]] = {r: [] for r in rungs}
    steps, stopped, kept = 0, 0, []
    trials = [t for t in record["trials"] if t["state"] == "COMPLETE"]
    for trial in sorted(trials, key=lambda t: t["number"]):
        size = float(trial["rung"]["size"])
        for rung in rungs:
            if guard is not None and float(trial["rung_curve"][str(rung)]) <= plateau:
                if float(trial["rung_curve"][str(2 * rung)]) <= plateau:  # still on it
                    steps, stopped = steps + 2 * rung, stopped + 1
                    break
                continue  # left the plateau: not ranked at this rung
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


def replay_guarded(
    record: dict[str, Any], rung: int, factor: float, metric: str, total: int, tolerance: float
) -> tuple[int, float, float]:
    """:func:`replay_rungs` at one rung with the plateau guard at ``tolerance``."""
    return replay_rungs(record, (rung,), factor, metric, total, guard=tolerance)


def _measured(record: dict[str, Any], steps: tuple[int, ...]) -> bool:
    return all(
        str(s) in (t.get("rung_curve") or {}) and str(s) in (t.get("rung_curve_nll") or {})
        for t in record["trials"]
        if t["state"] == "COMPLETE"
        for s in steps
    )


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
        if not _measured(record, rungs):
            continue
        for factor in (2.0, 3.0, 4.0):
            for metric in ("accuracy", "nll"):
                stopped, saved, kept = replay_rungs(record, rungs, factor, metric, total)
                print(
                    f"| {', '.join(map(str, rungs))} | {factor:g} | {metric} | {stopped} | "
                    f"{100 * saved:.1f}% | {100 * kept:.1f}% |"
                )
    print()
    print("| rung (plateau guard) | tolerance | reduction | metric | stopped | steps saved | "
          "hypervolume kept |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for rung in (10, 15, 20):
        if not _measured(record, (rung, 2 * rung)):
            continue
        for tolerance in (0.0, 0.01):
            for factor in (3.0, 4.0, 6.0):
                for metric in ("accuracy", "nll"):
                    stopped, saved, kept = replay_guarded(
                        record, rung, factor, metric, total, tolerance
                    )
                    print(
                        f"| {rung} | {tolerance:g} | {factor:g} | {metric} | {stopped} | "
                        f"{100 * saved:.1f}% | {100 * kept:.1f}% |"
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
