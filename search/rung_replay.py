"""What a MOASHA rung would have cost a study's front: its rule replayed on a ``record`` study.

Spearman's rho (:mod:`~ladasearch.search.rung_report`) says whether a rung ranks trials as their
end does, over all of them. A Pareto study cares about a few: the ones that end on the front. A
trial that still predicts the majority class at the rung and leaves that plateau later (a "late
bloomer") can end on the front while the rung ranks it with the trials that never learn, and a
rung with rho >= 0.6 can still cost the front several percent of its hypervolume (measured on a
32-trial study: BENCHMARKS.md 3b). So before choosing a rung, replay the rule on a ``method:
record`` study, whose trials measured their dev curve every ``rung`` steps and were never stopped:

- :func:`replay_rung` walks the trials in the order they ran and applies MOASHA's rule
  (:func:`~ladasearch.search.pareto_rank.promote`) at one step of their curves: a trial that
  loses costs the steps up to the rung and leaves the front, one that goes on costs all its steps;
- :func:`front_reference` is the hypervolume's reference point: the majority class's dev accuracy
  (else the worst final accuracy) and the largest size of the study;
- :func:`earliest_safe_step` is the earliest step whose replay keeps at least ``kept`` (98 %) of
  the front's hypervolume: a rung for a Pareto study.

A replay assumes the sampler would have proposed the same points with trials stopped (true of a
seeded sampler's random start-up; TPE's later proposals move with the results), and that a
trial's curve does not depend on the other trials (true: each trial trains alone).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ladasearch.search.early_stopping import CURVE_ATTR, CURVE_NLL_ATTR, RUNG_ATTR, rung_score
from ladasearch.search.pareto_rank import hypervolume_2d, promote

__all__ = [
    "CURVES",
    "SAFE_KEPT",
    "RungReplay",
    "earliest_safe_step",
    "front_reference",
    "replay_rung",
    "replay_steps",
]

SAFE_KEPT = 0.98
"""A rung "keeps the front" when its replay keeps at least this share of the hypervolume."""

CURVES = {"accuracy": CURVE_ATTR, "nll": CURVE_NLL_ATTR}
"""Rung metric -> the user attribute holding a record study's dev curve of it."""


@dataclass(frozen=True)
class RungReplay:
    """MOASHA replayed at one rung of a record study: what it stops, saves and keeps."""

    step: int
    reduction_factor: float
    ranking: str
    metric: str
    pruned: tuple[int, ...]  # trial numbers the rule would have stopped
    steps_used: int  # distillation steps with the rule
    steps_full: int  # distillation steps of the study as it ran (nobody stopped)
    hypervolume: float  # the front of the trials the rule lets finish
    hypervolume_full: float  # the front of every trial

    @property
    def saved(self) -> float:
        """Share of the distillation steps the rule saves."""
        return 1.0 - self.steps_used / self.steps_full if self.steps_full else 0.0

    @property
    def kept(self) -> float:
        """Share of the front's hypervolume that survives (1.0 when the front is empty)."""
        return self.hypervolume / self.hypervolume_full if self.hypervolume_full > 0 else 1.0

    def line(self) -> str:
        """One line for people."""
        return (
            f"replay at step {self.step} by {self.metric}, reduction {self.reduction_factor:g}: "
            f"stops {len(self.pruned)}, saves {100 * self.saved:.1f}% of the steps, keeps "
            f"{100 * self.kept:.1f}% of the front's hypervolume"
        )


def _final_point(attrs: Mapping[str, Any]) -> tuple[float, float] | None:
    accuracy, ratio = attrs.get("accuracy"), attrs.get("ratio")
    if not isinstance(accuracy, (int, float)) or not isinstance(ratio, (int, float)):
        return None
    return (-float(accuracy), float(ratio))


def front_reference(trials: Sequence[Any], majority: float | None = None) -> tuple[float, float]:
    """(-accuracy, size) reference point of the hypervolume, both minimised: the majority class's
    dev accuracy (``majority``; else the worst final accuracy) and the largest final size."""
    points = [p for t in trials if t.state.name == "COMPLETE" if (p := _final_point(t.user_attrs))]
    if not points:
        return (0.0, 1.0)
    worst = -max(p[0] for p in points) if majority is None else float(majority)
    return (-worst, max(p[1] for p in points))


def replay_rung(
    trials: Sequence[Any],
    step: int,
    reduction_factor: float,
    total_steps: int,
    reference: tuple[float, float],
    min_trials: int = 2,
    ranking: str = "eps_net",
    metric: str = "accuracy",
) -> RungReplay:
    """MOASHA at ``step`` replayed on the COMPLETE trials of a record study, in trial order.

    ``trials``: Optuna ``FrozenTrial`` s whose user attributes hold the dev curve (``rung_curve``,
    ``rung_curve_nll``: step -> value) or a rung record at ``step``, the final ``accuracy`` and
    ``ratio``; trials without a value at ``step`` are left out. ``total_steps``: a trial's
    distillation steps (iterations x steps).
    """
    recorded: list[tuple[float, float]] = []
    kept_points: list[tuple[float, float]] = []
    all_points: list[tuple[float, float]] = []
    pruned: list[int] = []
    used = full = 0
    for trial in sorted(trials, key=lambda t: t.number):
        attrs = trial.user_attrs
        final = _final_point(attrs)
        if trial.state.name != "COMPLETE" or final is None:
            continue
        curve = attrs.get(CURVES[metric]) or {}
        record = attrs.get(RUNG_ATTR) or {}
        value = curve.get(str(step))
        if value is None and record.get("step") == step:
            value = record.get(metric)
        score = None if value is None else rung_score({metric: value}, metric)
        if score is None:
            continue
        size = record.get("size", final[1])
        point = (score, float(size))
        go_on = promote(point, recorded, reduction_factor, min_trials, ranking)
        recorded.append(point)
        all_points.append(final)
        full += total_steps
        if go_on:
            kept_points.append(final)
            used += total_steps
        else:
            pruned.append(trial.number)
            used += step
    return RungReplay(
        step=step,
        reduction_factor=reduction_factor,
        ranking=ranking,
        metric=metric,
        pruned=tuple(pruned),
        steps_used=used,
        steps_full=full,
        hypervolume=hypervolume_2d(kept_points, reference),
        hypervolume_full=hypervolume_2d(all_points, reference),
    )


def replay_steps(trials: Sequence[Any], metric: str = "accuracy") -> list[int]:
    """The steps a record study measured on its ``metric`` curve (sorted)."""
    steps: set[int] = set()
    for trial in trials:
        curve = trial.user_attrs.get(CURVES[metric])
        if trial.state.name == "COMPLETE" and isinstance(curve, Mapping):
            steps.update(int(s) for s in curve)
    return sorted(steps)


def earliest_safe_step(replays: Sequence[RungReplay], kept: float = SAFE_KEPT) -> int | None:
    """The earliest step whose replay keeps at least ``kept`` of the front (None: none does)."""
    safe = [r.step for r in replays if r.kept >= kept]
    return min(safe, default=None)
