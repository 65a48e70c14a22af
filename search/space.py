"""Search spaces over (P_embd, P_svd, P_weight) under eq. 7, as Optuna define-by-run functions.

Contract of a :class:`SearchSpace` (the one extension point of this module):

* ``space(trial)`` is cheap and pure: it only calls ``trial.suggest_*`` (with STATIC
  distributions, so TPE / NSGA-II model them) and returns a :class:`Point`-shaped dict
  ``{p_embd, p_svd, p_weight, target_ratio, predicted_ratio[, rejected_samples]}`` that becomes
  the trial's config. It never trains and never rejects the trial.
* ``space.params_for(ratios, target)`` converts known-good ratios (a study file's ``enqueue``)
  into the Optuna parameters that make ``space(trial)`` reproduce them (for ``enqueue_trial``).

Spaces: :class:`ConstrainedSpace` (the product: every sample lands on eq. 7's target within 1%),
and the two baselines :class:`IndependentSpace` (the three ratios free, the target missed) and
:class:`RejectionSpace` (free samples, those that miss the target discarded and counted).
"""

from __future__ import annotations

import math
import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from ladasearch.compression.ratios import RATIO_KEYS, Ratios
from ladasearch.errors import InfeasibleTarget

__all__ = [
    "FREE_RANGE",
    "PAPER_TABLE2",
    "ConstrainedSpace",
    "FactorizationChoice",
    "GroupSizes",
    "IndependentSpace",
    "RejectionSpace",
    "SearchSpace",
    "balanced_points",
    "build_space",
    "enqueue_points",
    "paper_table2_points",
]

FREE_RANGE = (0.05, 1.0)
"""Range of each ratio in the baselines (sampled independently)."""

TOLERANCE = 0.01
"""A sample hits its target when |predicted - target| <= 1% of the target."""

PAPER_TABLE2: tuple[tuple[float, float, float, float], ...] = (
    (2.5, 1.43, 2.0, 1.56),
    (5.0, 2.05, 2.0, 3.41),
    (7.5, 5.0, 2.0, 4.33),
    (10.0, 5.0, 2.5, 5.45),
)
"""LadaBERT Table 2 as compression factors: (overall, embedding, matrix factorization, pruning)."""

@dataclass(frozen=True)
class GroupSizes:
    """eq. 7's groups as plain numbers plus the accounting functions' ``groups`` object.

    ``groups`` is :class:`ladasearch.compression.accounting.ParameterGroups`; the space calls
    ``feasible_ranges``, ``solve_p_weight`` and ``predict_params`` on it (rounded ranks).
    """

    total: int
    embedding: int
    encoder: int
    fixed: int
    groups: Any

    @classmethod
    def of(cls, groups: Any) -> GroupSizes:
        """Read the numbers from a ``ParameterGroups``."""
        data = groups.to_dict()
        return cls(
            int(data["total"]),
            int(data["embedding"]),
            int(data["encoder"]),
            int(data["fixed"]),
            groups,
        )

    def hybrid(self, target: float, p_embd: float) -> float:
        """H = P_svd * P_weight that eq. 7 leaves for the encoder at ``target`` and ``p_embd``."""
        left = target * self.total - self.fixed - p_embd * self.embedding
        return min(1.0, max(left / self.encoder, 1e-9))

    def p_embd_range(self, target: float) -> tuple[float, float]:
        """The feasible P_embd range at ``target`` (from ``accounting.feasible_ranges``)."""
        from ladasearch.compression.accounting import feasible_ranges

        low, high = feasible_ranges(self.groups, target).p_embd
        return float(low), float(high)

    def solve(self, target: float, p_embd: float, p_svd: float) -> tuple[float, float]:
        """(P_svd, P_weight) that put the rounded count on ``target``.

        ``p_svd`` is first clamped into its feasible range given ``p_embd`` (rank rounding can
        move it out by a hair), then ``accounting.solve_p_weight`` finds P_weight.
        """
        from ladasearch.compression.accounting import feasible_ranges, solve_p_weight

        low, high = feasible_ranges(self.groups, target, p_embd=p_embd).p_svd
        p_svd = _clamp(p_svd, low, high)
        return p_svd, float(solve_p_weight(self.groups, target, p_embd, p_svd))

    def predicted_ratio(self, ratios: Ratios) -> float:
        """Predicted nonzero parameters over the total, for ``ratios``."""
        from ladasearch.compression.accounting import predict_params

        return predict_params(self.groups, ratios) / self.total


def _point(sizes: GroupSizes | None, ratios: Ratios, target: float | None) -> dict[str, Any]:
    predicted = sizes.predicted_ratio(ratios) if sizes is not None else None
    return {**ratios.to_dict(), "target_ratio": target, "predicted_ratio": predicted}


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


def _prune_share(p_svd: float, p_weight: float) -> float:
    """The share of log H taken by pruning: log(P_weight) / log(P_svd * P_weight)."""
    hybrid = p_svd * p_weight
    if hybrid >= 1.0:
        return 0.5
    return _clamp(math.log(p_weight) / math.log(hybrid), 0.0, 1.0)


class SearchSpace(ABC):
    """A define-by-run space: see the module docstring for the contract."""

    def __init__(self, target: float | None, target_range: tuple[float, float] | None) -> None:
        self.target = target
        self.target_range = target_range

    @abstractmethod
    def __call__(self, trial: Any) -> dict[str, Any]:
        """Suggest this trial's parameters and return its ratios (the trial config)."""

    @abstractmethod
    def params_for(self, ratios: Ratios, target: float | None) -> dict[str, float]:
        """Optuna parameters that reproduce ``ratios`` (at ``target`` in pareto mode)."""

    def targets(self) -> tuple[float, float]:
        """The (lowest, highest) target ratio this space samples."""
        if self.target is not None:
            return self.target, self.target
        assert self.target_range is not None
        return self.target_range


class ConstrainedSpace(SearchSpace):
    """Every sample satisfies eq. 7 at its target: nothing is rejected or wasted.

    Parameters (static distributions): ``p_embd`` ~ U(feasible range) at a fixed target, or
    ``target`` ~ U(range) and ``embd_position`` ~ U(0, 1) mapped into the feasible P_embd range at
    that target (pareto); ``prune_share`` ~ U(0, 1) splits H = P_svd * P_weight into
    P_svd = H^(1 - share) and P_weight = H^share. P_weight is then re-solved on rounded ranks.
    """

    def __init__(
        self,
        sizes: GroupSizes,
        target: float | None = None,
        target_range: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(target, target_range)
        self.sizes = sizes
        self._fixed_range = sizes.p_embd_range(target) if target is not None else None

    def __call__(self, trial: Any) -> dict[str, Any]:
        params = self.suggest(trial)
        if self._fixed_range is not None:
            assert self.target is not None
            target, p_embd = self.target, params["p_embd"]
        else:
            target = params["target"]
            low, high = self.sizes.p_embd_range(target)
            p_embd = low + params["embd_position"] * (high - low)
        return self.point_at(target, p_embd, params["prune_share"])

    def suggest(self, trial: Any) -> dict[str, float]:
        """The trial's suggestions alone (no eq.-7 solving): what a sampler sees of a point."""
        if self._fixed_range is not None:
            p_embd = trial.suggest_float("p_embd", *self._fixed_range)
            return {"p_embd": p_embd, "prune_share": trial.suggest_float("prune_share", 0.0, 1.0)}
        assert self.target_range is not None
        target = trial.suggest_float("target", *self.target_range)
        position = trial.suggest_float("embd_position", 0.0, 1.0)
        share = trial.suggest_float("prune_share", 0.0, 1.0)
        return {"target": target, "embd_position": position, "prune_share": share}

    def point_at(self, target: float, p_embd: float, share: float) -> dict[str, Any]:
        """The point for (target, P_embd, prune share): the deterministic half of ``__call__``."""
        hybrid = self.sizes.hybrid(target, p_embd)
        p_svd, p_weight = self.sizes.solve(target, p_embd, min(1.0, hybrid ** (1.0 - share)))
        return _point(self.sizes, Ratios(p_embd, p_svd, p_weight), target)

    def params_for(self, ratios: Ratios, target: float | None) -> dict[str, float]:
        share = _prune_share(ratios.p_svd, ratios.p_weight)
        if self._fixed_range is not None:
            return {"p_embd": _clamp(ratios.p_embd, *self._fixed_range), "prune_share": share}
        assert self.target_range is not None
        at = _clamp(
            target if target is not None else sum(self.target_range) / 2, *self.target_range
        )
        low, high = self.sizes.p_embd_range(at)
        position = 0.5 if high <= low else _clamp((ratios.p_embd - low) / (high - low), 0.0, 1.0)
        return {"target": at, "embd_position": position, "prune_share": share}


class IndependentSpace(SearchSpace):
    """Baseline: the three ratios sampled freely in [0.05, 1]; the measured ratio misses the target."""

    def __init__(
        self,
        sizes: GroupSizes | None,
        target: float | None = None,
        target_range: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(target, target_range)
        self.sizes = sizes

    def __call__(self, trial: Any) -> dict[str, Any]:
        ratios = Ratios(*(trial.suggest_float(key, *FREE_RANGE) for key in RATIO_KEYS))
        return _point(self.sizes, ratios, self.target)

    def params_for(self, ratios: Ratios, target: float | None) -> dict[str, float]:
        return {key: _clamp(value, *FREE_RANGE) for key, value in ratios.to_dict().items()}


class RejectionSpace(SearchSpace):
    """Baseline: sample the three ratios freely, discard samples that miss the target by > 1%.

    The draws come from a generator seeded by (study seed, trial number), not from the Optuna
    sampler (a trial cannot re-suggest a parameter), so the accepted ratios are recorded as user
    attributes only; ``rejected_samples`` counts the discarded draws.
    """

    MAX_DRAWS = 2_000_000

    def __init__(self, sizes: GroupSizes, target: float, seed: int = 0) -> None:
        super().__init__(target, None)
        self.sizes = sizes
        self.seed = seed

    def __call__(self, trial: Any) -> dict[str, Any]:
        assert self.target is not None
        rng = random.Random(self.seed * 1_000_003 + int(trial.number))
        sizes, target = self.sizes, self.target
        for rejected in range(self.MAX_DRAWS):
            p_embd, p_svd, p_weight = (rng.uniform(*FREE_RANGE) for _ in range(3))
            rough = (
                sizes.fixed + p_embd * sizes.embedding + p_svd * p_weight * sizes.encoder
            ) / sizes.total
            if (
                abs(rough - target) <= 2 * TOLERANCE * target
            ):  # cheap pre-check, then the exact count
                ratios = Ratios(p_embd, p_svd, p_weight)
                if abs(sizes.predicted_ratio(ratios) - target) <= TOLERANCE * target:
                    return {**_point(sizes, ratios, target), "rejected_samples": rejected}
        raise InfeasibleTarget(
            f"rejection sampling found no ratios in [{FREE_RANGE[0]}, 1]^3 within 1% of {target:.4f} "
            f"after {self.MAX_DRAWS:,} draws",
            smallest_reachable=target,
        )

    def params_for(self, ratios: Ratios, target: float | None) -> dict[str, float]:
        return {}


class FactorizationChoice(SearchSpace):
    """``inner``'s ratios and a categorical ``factorization`` among ``choices``.

    A study searches the factorization when its study file's ``trial.factorization`` is a list:
    the config then carries ``factorization``, which the trial trains with. An enqueued point
    (``params_for``) leaves it to the sampler.
    """

    def __init__(self, inner: SearchSpace, choices: tuple[str, ...]) -> None:
        super().__init__(inner.target, inner.target_range)
        self.inner = inner
        self.choices = choices
        self.sizes = getattr(inner, "sizes", None)

    def __call__(self, trial: Any) -> dict[str, Any]:
        config = self.inner(trial)
        config["factorization"] = trial.suggest_categorical("factorization", list(self.choices))
        return config

    def params_for(self, ratios: Ratios, target: float | None) -> dict[str, float]:
        return self.inner.params_for(ratios, target)


def build_space(
    kind: str,
    sizes: GroupSizes,
    *,
    target: float | None,
    target_range: tuple[float, float] | None,
    seed: int = 0,
    factorizations: tuple[str, ...] = (),
) -> SearchSpace:
    """The space a study file's ``space:`` names (``constrained``, ``independent``, ``rejection``),
    with a searched ``factorization`` when ``factorizations`` lists two or more."""
    space: SearchSpace
    if kind == "constrained":
        space = ConstrainedSpace(sizes, target, target_range)
    elif kind == "independent":
        space = IndependentSpace(sizes, target, target_range)
    elif kind == "rejection":
        assert target is not None
        space = RejectionSpace(sizes, target, seed)
    else:
        raise ValueError(f"unknown space {kind!r}")
    return FactorizationChoice(space, factorizations) if factorizations else space


def paper_table2_points(low: float, high: float) -> list[tuple[float, Ratios]]:
    """Table 2 rows as (overall ratio, ratios): the rows inside [low, high], else the nearest one."""
    rows = [
        (1 / overall, Ratios(1 / e, 1 / s, 1 / w))
        for overall, e, s, w in PAPER_TABLE2
    ]
    inside = [row for row in rows if low * (1 - 1e-6) <= row[0] <= high * (1 + 1e-6)]
    if inside:
        return inside
    middle = math.sqrt(low * high)
    return [min(rows, key=lambda row: abs(math.log(row[0] / middle)))]


def balanced_points(sizes: GroupSizes, low: float, high: float) -> list[tuple[float, Ratios]]:
    """At Table 2's overall ratios in [low, high] (else their geometric middle): P_embd equal to
    the encoder's H = P_svd * P_weight, split evenly (P_svd = P_weight = sqrt(H)).

    The paper's Table 2 ratios were tuned for BERT-base, whose word embeddings are a fifth of its
    parameters; on a model whose embeddings are half of it (MiniLM) they starve the encoder.
    Compressing both groups alike is a neutral starting point for any model.
    """
    targets = [target for target, _ in paper_table2_points(low, high)]
    if not any(low * (1 - 1e-6) <= target <= high * (1 + 1e-6) for target in targets):
        targets = [math.sqrt(low * high)]
    points = []
    for target in targets:
        share = (target * sizes.total - sizes.fixed) / (sizes.embedding + sizes.encoder)
        share = _clamp(share, 1e-6, 1.0)
        points.append(
            (target, Ratios(share, math.sqrt(share), math.sqrt(share)))
        )
    return points


def enqueue_points(
    space: SearchSpace, enqueue: tuple[dict[str, float], ...] | str
) -> list[dict[str, float]]:
    """The Optuna parameter dicts to ``enqueue_trial`` for a study file's ``enqueue`` value."""
    low, high = space.targets()
    sizes = getattr(space, "sizes", None)
    if enqueue == "balanced" and sizes is not None:
        points = balanced_points(sizes, low, high)
    elif isinstance(enqueue, str):  # "paper_table2"
        points = paper_table2_points(low, high)
    else:
        given = [Ratios.from_mapping(point) for point in enqueue]
        points = [
            (sizes.predicted_ratio(ratios) if sizes is not None else math.sqrt(low * high), ratios)
            for ratios in given
        ]
    params = [space.params_for(ratios, target) for target, ratios in points]
    return [item for item in params if item]
