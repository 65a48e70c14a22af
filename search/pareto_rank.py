"""Multi-objective ranking for early stopping: non-dominated sorting and MOASHA's rung rule.

Pure functions over lists of points; every objective is **minimised** here (callers negate the
accuracy). :func:`non_dominated_ranks` gives each point the index of its non-dominated front
(0: nobody dominates it; 1: only points of front 0 dominate it; ...), as NSGA-II's sorting does.
:func:`priority_order` turns the fronts into one total order, front by front, each front ordered
by an epsilon-net (Clarkson 2005; the ``NonDominatedPriority`` of Syne Tune's MOASHA): its most
accurate point first, then each time the point farthest from those already taken, in objectives
scaled to the rung's range. :func:`promote` is the asynchronous successive-halving rule of MOASHA
(Salinas et al., 2021; Schmucker et al., 2021): a trial reaching a rung continues when its place
in that order is in the top ``1 / reduction_factor`` of the rung's recorded trials (``eps_net``,
the default), or, with ``ranking="front"``, when the share of the rung's trials on a strictly
better front is at most ``1 / reduction_factor`` (a looser rule: every non-dominated trial goes on,
and in a Pareto study of accuracy against size most trials are non-dominated at the rung).
:func:`hypervolume_2d` measures a front (benchmarks compare studies with it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = [
    "RANKINGS",
    "dominates",
    "epsilon_net_order",
    "hypervolume_2d",
    "non_dominated_ranks",
    "priority_order",
    "promote",
]

RANKINGS = ("eps_net", "front")

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


def epsilon_net_order(points: Sequence[Point]) -> list[int]:
    """Indices of ``points`` in epsilon-net order: the best in the first objective first, then
    each time the point whose distance to the ones taken is largest (ties: the earlier index).

    Distances are Euclidean in objectives scaled by their range over ``points`` (an objective
    that does not vary counts for nothing), so accuracy and size weigh alike.
    """
    if not points:
        return []
    dims = len(points[0])
    low = [min(p[d] for p in points) for d in range(dims)]
    span = [max(p[d] for p in points) - low[d] for d in range(dims)]
    scaled = [
        [(p[d] - low[d]) / span[d] if span[d] > 0 else 0.0 for d in range(dims)] for p in points
    ]
    first = min(range(len(points)), key=lambda i: (points[i][0], i))
    order = [first]
    nearest = [math.dist(scaled[i], scaled[first]) for i in range(len(points))]
    left = set(range(len(points))) - {first}
    while left:
        pick = max(sorted(left), key=lambda i: nearest[i])  # the first index of the largest
        order.append(pick)
        left.remove(pick)
        for i in left:
            nearest[i] = min(nearest[i], math.dist(scaled[i], scaled[pick]))
    return order


def priority_order(points: Sequence[Point]) -> list[int]:
    """Indices of ``points`` best first: front by front (non-dominated sorting), each front in
    epsilon-net order (:func:`epsilon_net_order`): MOASHA's total order of a rung."""
    ranks = non_dominated_ranks(points)
    order: list[int] = []
    for front in range(max(ranks, default=-1) + 1):
        members = [i for i, rank in enumerate(ranks) if rank == front]
        order.extend(members[j] for j in epsilon_net_order([points[i] for i in members]))
    return order


def promote(
    mine: Point,
    recorded: Sequence[Point],
    reduction_factor: float,
    min_trials: int = 1,
    ranking: str = "eps_net",
) -> bool:
    """Whether the trial at ``mine`` continues past a rung where ``recorded`` already stand.

    MOASHA's rule over the ``n`` points (itself included): with ``ranking="eps_net"`` it
    continues when its place ``k`` (0-based) in :func:`priority_order` has ``k / n`` at most
    ``1 / reduction_factor`` (Syne Tune's MOASHA rule); with ``ranking="front"`` when the share of
    points on a strictly better front is at most ``1 / reduction_factor``. While fewer than
    ``min_trials`` points (itself included) stand at the rung, every trial continues (the first
    one always does).
    """
    if reduction_factor <= 1:
        raise ValueError(f"reduction_factor must be > 1, got {reduction_factor}")
    if ranking not in RANKINGS:
        raise ValueError(f"ranking must be one of {', '.join(RANKINGS)}, got {ranking!r}")
    points = [*recorded, mine]
    if len(points) < max(1, min_trials) or len(points) == 1:
        return True
    if ranking == "eps_net":
        place = priority_order(points).index(len(points) - 1)
        return place / len(points) <= 1.0 / reduction_factor
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
