"""The accuracy / size (or latency) Pareto front as numbers: computed apart from any drawing.

A trial is on the front when no other finished trial of the same study is at least as small
(fewer nonzero parameters, or lower latency) *and* at least as accurate, with one of the two
strictly better. Ties (the same size and accuracy) are all kept, as Optuna's own front does.
A trial that violates a constraint (``target_latency_ms``, stored with Optuna's
``Trial.set_constraint``) is infeasible: drawn among the ``unfinished`` ones, never on the front.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

from ladasearch.search.studydb.records import StudyRecord, TrialRecord

__all__ = [
    "Axis",
    "ParetoFront",
    "TeacherPoint",
    "compression_ticks",
    "compute_front",
    "pareto_indices",
]

Axis = Literal["params", "latency_ms"]

NICE_FACTORS = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 50.0, 100.0)


class TeacherPoint(NamedTuple):
    """The uncompressed teacher as a reference point."""

    accuracy: float
    x: float


class ParetoFront(NamedTuple):
    """One study's points against one axis, and which of them form the front.

    ``points`` are the finished trials that have a value on the axis, sorted by (x, -accuracy);
    ``front`` indexes into ``points`` in increasing x; ``unfinished`` are the pruned, failed or
    infeasible trials that still have both numbers (drawn greyed, never on the front);
    ``omitted`` counts the trials with nothing to draw (running, or failed without metrics).
    """

    study: str
    axis: Axis
    points: tuple[TrialRecord, ...]
    xs: tuple[float, ...]
    accuracies: tuple[float, ...]
    front: tuple[int, ...]
    unfinished: tuple[TrialRecord, ...]
    omitted: int
    teacher: TeacherPoint | None
    teacher_params: float | None

    @property
    def front_trials(self) -> tuple[TrialRecord, ...]:
        """The trials on the front, in increasing x."""
        return tuple(self.points[i] for i in self.front)

    @property
    def dominated(self) -> tuple[int, ...]:
        """Indices (into ``points``) of the finished trials that are not on the front."""
        on_front = set(self.front)
        return tuple(i for i in range(len(self.points)) if i not in on_front)


def pareto_indices(xs: Sequence[float], ys: Sequence[float]) -> tuple[int, ...]:
    """Indices of the points not dominated when minimising x and maximising y, by increasing x.

    >>> pareto_indices([1, 2, 3, 2], [0.5, 0.7, 0.6, 0.4])
    (0, 1)
    """
    if len(xs) != len(ys):
        raise ValueError(f"xs and ys differ in length ({len(xs)} != {len(ys)})")
    order = sorted(range(len(xs)), key=lambda i: (xs[i], -ys[i]))
    front: list[int] = []
    best_y = float("-inf")
    best_x = float("nan")
    for i in order:
        if ys[i] > best_y:
            front.append(i)
            best_y, best_x = ys[i], xs[i]
        elif ys[i] == best_y and xs[i] == best_x:
            front.append(i)  # an exact tie with a front point is not dominated
    return tuple(front)


def _axis_value(trial: TrialRecord, axis: Axis) -> float | None:
    return trial.nonzero_params if axis == "params" else trial.latency_ms


def compute_front(study: StudyRecord, axis: Axis = "params") -> ParetoFront:
    """The front of ``study`` for accuracy against ``axis`` (nonzero params or latency_ms)."""
    finished: list[tuple[float, float, TrialRecord]] = []
    unfinished: list[TrialRecord] = []
    omitted = 0
    for trial in study.trials:
        x, accuracy = _axis_value(trial, axis), trial.accuracy
        if trial.finished and x is not None and accuracy is not None:
            finished.append((x, accuracy, trial))
        elif (
            trial.state in ("COMPLETE", "PRUNED", "FAIL") and x is not None and accuracy is not None
        ):
            unfinished.append(trial)
        elif not trial.finished:
            omitted += 1
    finished.sort(key=lambda item: (item[0], -item[1], item[2].number))
    xs = tuple(item[0] for item in finished)
    accuracies = tuple(item[1] for item in finished)
    teacher_x = study.teacher_params if axis == "params" else study.teacher_latency_ms
    teacher_accuracy = study.teacher_accuracy
    teacher = (
        TeacherPoint(teacher_accuracy, teacher_x)
        if teacher_accuracy is not None and teacher_x is not None
        else None
    )
    return ParetoFront(
        study=study.name,
        axis=axis,
        points=tuple(item[2] for item in finished),
        xs=xs,
        accuracies=accuracies,
        front=pareto_indices(xs, accuracies),
        unfinished=tuple(unfinished),
        omitted=omitted,
        teacher=teacher,
        teacher_params=study.teacher_params,
    )


def compression_ticks(
    teacher_params: float, low: float, high: float, factors: Sequence[float] = NICE_FACTORS
) -> list[tuple[float, float]]:
    """``(params, factor)`` ticks at ``teacher_params / factor`` that fall inside [low, high].

    The axis then reads "5x", "7.5x" ... as the paper's figures do, while the points stay at
    their true parameter counts.
    """
    if teacher_params <= 0:
        return []
    ticks = [(teacher_params / f, f) for f in factors if low <= teacher_params / f <= high]
    return sorted(ticks)
