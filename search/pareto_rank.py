"""Multi-objective ranking for early stopping: non-dominated sorting and MOASHA's rung rule.

Pure functions over lists of points; every objective is **minimised** here (callers negate the
accuracy). :func:`non_dominated_ranks` gives each point the index of its non-dominated front
(0: nobody dominates it; 1: only points of front 0 dominate it; ...), as NSGA-II's sorting does.
:func:`promote` is the asynchronous successive-halving rule of MOASHA (Salinas et al., 2021;
Schmucker et al., 2021; Syne Tune's ``MOASHA``): a trial reaching a rung continues when the share
of the rung's recorded trials on a strictly better front is at most ``1 / reduction_factor``.
:func:`hypervolume_2d` measures a front (benchmarks compare studies with it).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["dominates", "hypervolume_2d", "non_dominated_ranks", "promote"]

Point = Sequence[float]


def dominates(a: Point, b: Point) -> bool:
    """``a`` is no worse than ``b`` in every objective and better in one (all minimised)."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True)
    )


def non_dominated_ranks(points: Sequence[Point]) -> list[int]:
    """The front index of every point (0 = non-dominated), in the order given.

    Equal points share a front. O(n^2 m) per front: rungs hold tens of trials, not thousands.
    """
    remaining = set(range(len(points)))
    ranks = [0] * len(points)
    front = 0
    while remaining:
        current = {
            i
            for i in remaining
            if not any(dominates(points[j], points[i]) for j in remaining if j != i)
        }
        for i in current:
            ranks[i] = front
        remaining -= current
        front += 1
    return ranks


def promote(
    mine: Point, recorded: Sequence[Point], reduction_factor: float, min_trials: int = 1
) -> bool:
    """Whether the trial at ``mine`` continues past a rung where ``recorded`` already stand.

    MOASHA's rule: rank ``mine`` with the recorded points by non-dominated sorting; it continues
    when the share of the ``n`` points (itself included) on a strictly better front is at most
    ``1 / reduction_factor``. While fewer than ``min_trials`` points (itself included) stand at
    the rung, every trial continues (the first one always does).
    """
    if reduction_factor <= 1:
        raise ValueError(f"reduction_factor must be > 1, got {reduction_factor}")
    points = [*recorded, mine]
    if len(points) < max(1, min_trials) or len(points) == 1:
        return True
    ranks = non_dominated_ranks(points)
    better = sum(1 for rank in ranks[:-1] if rank < ranks[-1])
    return better / len(points) <= 1.0 / reduction_factor


def hypervolume_2d(points: Sequence[Point], reference: Point) -> float:
    """The area dominated by ``points`` and bounded by ``reference`` (both objectives minimised).

    Points not strictly better than ``reference`` in both objectives add nothing.
    """
    inside = sorted(
        (float(x), float(y)) for x, y in points if x < reference[0] and y < reference[1]
    )
    area = 0.0
    best_y = float(reference[1])
    for x, y in inside:  # by the first objective, ascending: each adds a slab below best_y
        if y < best_y:
            area += (reference[0] - x) * (best_y - y)
            best_y = y
    return area
