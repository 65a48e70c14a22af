"""Replay an Optuna sampler on a tabular benchmark (``benchmarks.tabular``'s CSV): no training.

The replay asks the service's own sampler (``make_sampler``, as a study file names it) for a
trial, lets the service's :class:`~ladasearch.search.space.ConstrainedSpace` suggest its
parameters (``ConstrainedSpace.suggest``: the suggestions of a real study, in its order, with its
distributions; eq. 7 is not solved again, the table holds each point's ratios), and maps the proposal to the **nearest table
point in the space's unit coordinates**: (P_embd scaled into its feasible range at the target,
prune share) at a fixed target; (target scaled into the range, P_embd position, prune share)
over a target range. The trial is told that point's measured values (dev accuracy; dev accuracy
and parameter count in Pareto mode), so the sampler learns from its own proposal and the
nearest measurement, the usual nearest-neighbour surrogate of a tabular benchmark.

A proposal whose nearest point was already evaluated is refused as the service refuses a repeated
model (``search/dedupe.py``): the trial is told FAIL (samplers ignore failed trials) and the
sampler asked again, at most ``MAX_RESAMPLES`` times; then the nearest point not yet evaluated is
taken. So ``n`` counted trials are ``n`` distinct table points, as ``n`` trials of a real study
are ``n`` distinct models.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ladasearch.search.space import ConstrainedSpace, GroupSizes

__all__ = ["MAX_RESAMPLES", "Table", "hypervolume", "load_table", "replay"]

MAX_RESAMPLES = 20
"""Refused repeats in a row before the nearest unevaluated point is taken (as search/dedupe.py)."""


@dataclass(frozen=True)
class Table:
    """A tabular benchmark: unit coordinates, dev accuracy and size of every point.

    ``target`` is set for a fixed-target table, ``target_range`` for a Pareto one.
    """

    units: list[tuple[float, ...]]
    dev: list[float]
    ratio: list[float]
    params: list[int]
    target: float | None
    target_range: tuple[float, float] | None
    p_embd_range: tuple[float, float] | None = None  # at ``target`` (fixed tables)

    def __len__(self) -> int:
        return len(self.dev)

    @property
    def pareto(self) -> bool:
        """Whether the table spans a target range (two objectives)."""
        return self.target_range is not None

    def space(self, sizes: GroupSizes) -> ConstrainedSpace:
        """The service's space the table was drawn from."""
        return ConstrainedSpace(sizes, self.target, self.target_range)

    def nearest(self, unit: Sequence[float], exclude: set[int] | None = None) -> int:
        """Index of the table point nearest ``unit`` (Euclidean), skipping ``exclude``."""
        best, best_d = -1, math.inf
        for index, point in enumerate(self.units):
            if exclude and index in exclude:
                continue
            d = sum((a - b) ** 2 for a, b in zip(point, unit, strict=True))
            if d < best_d:
                best, best_d = index, d
        if best < 0:
            raise ValueError("every table point is excluded")
        return best


def _scale(value: float, low: float, high: float) -> float:
    return 0.5 if high <= low else (value - low) / (high - low)


def unit_of(params: dict[str, float], sizes: GroupSizes, table: Table) -> tuple[float, ...]:
    """The space's unit coordinates of a trial's (or a table row's) parameters."""
    if table.target_range is None:
        assert table.target is not None
        low, high = table.p_embd_range or sizes.p_embd_range(table.target)
        return (_scale(params["p_embd"], low, high), params["prune_share"])
    return (
        _scale(params["target"], *table.target_range),
        params["embd_position"],
        params["prune_share"],
    )


def load_table(
    rows: list[dict[str, str]],
    sizes: GroupSizes,
    target_range: tuple[float, float] | None = None,
) -> Table:
    """A :class:`Table` from ``benchmarks.tabular`` rows (a Pareto table needs its range)."""
    if not rows:
        raise ValueError("the table has no rows")
    pareto = any(row["embd_position"] for row in rows)
    if pareto and target_range is None:
        raise ValueError("a Pareto table (embd_position set) needs its target range")
    targets = [float(row["target"]) for row in rows]
    if not pareto and max(targets) - min(targets) > 1e-6:
        raise ValueError("a fixed-target table must have one target")
    target = None if pareto else targets[0]
    p_embd_range = None if target is None else sizes.p_embd_range(target)
    shell = Table([], [], [], [], target, target_range if pareto else None, p_embd_range)
    units = []
    for row in rows:
        params = {"prune_share": float(row["prune_share"])}
        if pareto:
            params |= {"target": float(row["target"]), "embd_position": float(row["embd_position"])}
        else:
            params["p_embd"] = float(row["p_embd"])
        units.append(unit_of(params, sizes, shell))
    return Table(
        units=units,
        dev=[float(row["dev_accuracy"]) for row in rows],
        ratio=[float(row["ratio"]) for row in rows],
        params=[int(row["params"]) for row in rows],
        target=shell.target,
        target_range=shell.target_range,
        p_embd_range=p_embd_range,
    )


def hypervolume(points: Sequence[tuple[float, float]], reference: tuple[float, float]) -> float:
    """Area dominated by (accuracy up, size down) ``points`` above/left of ``reference``.

    ``reference`` is (worst accuracy, largest size); points outside it add nothing.
    """
    inside = sorted(
        ((size, accuracy) for accuracy, size in points if accuracy > reference[0]),
        key=lambda item: (item[0], -item[1]),
    )
    area, best = 0.0, reference[0]
    sizes = [size for size, _ in inside] + [reference[1]]
    for index, (size, accuracy) in enumerate(inside):
        if size >= reference[1]:
            break
        best = max(best, accuracy)
        area += (min(sizes[index + 1], reference[1]) - size) * (best - reference[0])
    return area


def replay(
    table: Table,
    sizes: GroupSizes,
    sampler: Any,
    trials: int,
    warm_start: Sequence[dict[str, float]] = (),
) -> tuple[list[int], int]:
    """Run ``trials`` trials of ``sampler`` on ``table``; return (points in order, refused asks).

    ``warm_start``: Optuna parameter dicts enqueued first (a study file's seed points).
    """
    import optuna
    from optuna.trial import TrialState

    if trials > len(table):
        raise ValueError(f"{trials} trials need at least as many table points ({len(table)})")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    directions = ["maximize", "minimize"] if table.pareto else ["maximize"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = optuna.create_study(directions=directions, sampler=sampler)
        for params in warm_start:
            study.enqueue_trial(params)
        space = table.space(sizes)
        chosen: list[int] = []
        seen: set[int] = set()
        refused = 0
        while len(chosen) < trials:
            for attempt in range(MAX_RESAMPLES + 1):
                trial = study.ask()
                unit = unit_of(space.suggest(trial), sizes, table)
                last = attempt == MAX_RESAMPLES
                index = table.nearest(unit, exclude=seen if last else None)
                if index not in seen:
                    break
                refused += 1
                study.tell(trial, state=TrialState.FAIL)
            seen.add(index)
            chosen.append(index)
            values: list[float] = [table.dev[index]]
            if table.pareto:
                values.append(float(table.params[index]))
            study.tell(trial, values)
    return chosen, refused
