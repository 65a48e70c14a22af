"""Eq. 7 accounting in exact integers: parameter groups, predicted and counted parameters.

``P |theta| = P_embd |theta_embd| + P_svd P_weight |theta_encoder| + |theta_fixed|`` where
``|theta_embd|`` is the word-embedding matrix (V x d), ``|theta_encoder|`` the weight matrices of
the encoder linears (biases excluded) and "fixed" everything else (see docs/ARCHITECTURE.md).

A ratio of 1 means "leave dense". Otherwise a matrix (m, n) gets rank
``r = max(1, round(mn / (m + n) * P))`` and each factor keeps ``max(1, round(P_weight * numel))``
entries. ``predict_params`` reproduces exactly the count that ``compress_`` produces, and
``feasible_ranges`` / ``solve_p_weight`` work on those rounded counts, so a target is met even on
tiny models.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from ladasearch.compression.kinds import compressed_layers, kind_of
from ladasearch.compression.matrix_ops import keep_count
from ladasearch.compression.ratios import Ratios, check_ratio
from ladasearch.compression.targets import DEFAULT_ENCODER_PATTERN, encoder_linears, word_embedding
from ladasearch.errors import InfeasibleTarget, RatioError

__all__ = [
    "FeasibleRanges",
    "ParameterGroups",
    "count_nonzero_params",
    "embedding_rank",
    "encoder_rank",
    "feasible_ranges",
    "kept",
    "parameter_groups",
    "predict_params",
    "predicted_ratio",
    "smallest_reachable_ratio",
    "solve_p_svd",
    "solve_p_weight",
]

_BISECT_STEPS = 60
_SOLVE_RTOL = 0.01


@dataclass(frozen=True)
class ParameterGroups:
    """Eq. 7's groups of an uncompressed model; ``total == embedding + encoder + fixed``.

    ``embedding_shape`` is (V, d); ``encoder_shapes`` holds ``(fqn, m, n)`` per encoder matrix
    (m = out features, n = in features).
    """

    total: int
    embedding: int
    encoder: int
    fixed: int
    embedding_shape: tuple[int, int]
    encoder_shapes: tuple[tuple[str, int, int], ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (shapes as lists)."""
        return {
            "total": self.total,
            "embedding": self.embedding,
            "encoder": self.encoder,
            "fixed": self.fixed,
            "embedding_shape": list(self.embedding_shape),
            "encoder_shapes": [list(shape) for shape in self.encoder_shapes],
        }


@dataclass(frozen=True)
class FeasibleRanges:
    """For ``target``: the interval of each ratio for which the other two can still meet it."""

    p_embd: tuple[float, float]
    p_svd: tuple[float, float]
    p_weight: tuple[float, float]
    target: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (intervals as lists)."""
        return {
            "p_embd": list(self.p_embd),
            "p_svd": list(self.p_svd),
            "p_weight": list(self.p_weight),
            "target": self.target,
        }


def _low_rank(m: int, n: int, ratio: float) -> int | None:
    if ratio == 1.0:
        return None
    return min(m, n, max(1, round(m * n / (m + n) * ratio)))


def embedding_rank(vocab: int, dim: int, p_embd: float) -> int | None:
    """Rank k = round(Vd / (V + d) * P_embd) in [1, min(V, d)]; None when P_embd = 1 (dense)."""
    return _low_rank(vocab, dim, check_ratio("p_embd", p_embd))


def encoder_rank(m: int, n: int, p_svd: float) -> int | None:
    """Eq. 4: r = round(mn / (m + n) * P_svd) in [1, min(m, n)]; None when P_svd = 1 (dense)."""
    return _low_rank(m, n, check_ratio("p_svd", p_svd))


def kept(numel: int, p_weight: float) -> int:
    """Entries a pruned tensor of ``numel`` keeps: max(1, round(P_weight * numel)).

    The rule is :func:`~ladasearch.compression.layers.keep_count`'s (what pruning keeps is what
    eq. 7 counts); here the ratio is checked under its name, ``p_weight``.
    """
    return keep_count(numel, check_ratio("p_weight", p_weight))


def parameter_groups(model: nn.Module, pattern: str = DEFAULT_ENCODER_PATTERN) -> ParameterGroups:
    """Eq. 7's groups, counting unique parameter tensors.

    Meant for the uncompressed model; on a compressed one the groups are those of the dense
    model it came from (shapes from ``in_features`` / ``out_features``, fixed parameters as is).
    """
    _, embedding = word_embedding(model)
    vocab, dim = int(embedding.num_embeddings), int(embedding.embedding_dim)
    owned = set(_matrix_parameter_ids(embedding))
    shapes = []
    for fqn, module in encoder_linears(model, pattern):
        shapes.append((fqn, int(module.out_features), int(module.in_features)))
        owned.update(_matrix_parameter_ids(module))
    fixed = sum(p.numel() for p in model.parameters() if id(p) not in owned)
    encoder = sum(m * n for _, m, n in shapes)
    return ParameterGroups(
        total=vocab * dim + encoder + fixed,
        embedding=vocab * dim,
        encoder=encoder,
        fixed=fixed,
        embedding_shape=(vocab, dim),
        encoder_shapes=tuple(shapes),
    )


def _matrix_parameter_ids(module: Any) -> list[int]:
    """Ids of the parameters that stand for the module's weight matrix (not its bias)."""
    kind = kind_of(module)
    if kind is None:
        return [id(module.weight)]
    if kind.prunable:
        return [id(param) for param, _ in module.masked_parameters()]
    return [id(module.first.weight), id(module.second)]  # the factorized embedding


def _encoder_count(m: int, n: int, p_svd: float, p_weight: float) -> int:
    rank = _low_rank(m, n, p_svd)
    if rank is None:
        return kept(m * n, p_weight)
    return kept(m * rank, p_weight) + kept(rank * n, p_weight)


def _embedding_count(vocab: int, dim: int, p_embd: float) -> int:
    rank = _low_rank(vocab, dim, p_embd)
    return vocab * dim if rank is None else rank * (vocab + dim)


def predict_params(groups: ParameterGroups, ratios: Ratios) -> int:
    """The exact count ``compress_(model, ratios)`` leaves (as ``count_nonzero_params`` counts)."""
    vocab, dim = groups.embedding_shape
    encoder = sum(
        _encoder_count(m, n, ratios.p_svd, ratios.p_weight) for _, m, n in groups.encoder_shapes
    )
    return groups.fixed + _embedding_count(vocab, dim, ratios.p_embd) + encoder


def predicted_ratio(groups: ParameterGroups, ratios: Ratios) -> float:
    """``predict_params / total``."""
    return predict_params(groups, ratios) / groups.total


def count_nonzero_params(model: nn.Module) -> int:
    """Parameters the model keeps: every unique parameter tensor's entries, masked ones counted
    through their masks (a kept weight that happens to be 0.0, e.g. a fresh bias, still counts).
    """
    masks: dict[int, Tensor] = {}
    for _, module, kind in compressed_layers(model):
        if kind.prunable:
            masks.update((id(param), mask) for param, mask in module.masked_parameters())
    return sum(int(masks[id(p)].sum()) if id(p) in masks else p.numel() for p in model.parameters())


# --- feasibility -----------------------------------------------------------------------------


def _floors(groups: ParameterGroups) -> Ratios:
    """The smallest meaningful ratios: rank 1 everywhere, one kept entry per pruned tensor."""
    vocab, dim = groups.embedding_shape
    shapes = [(m, n) for _, m, n in groups.encoder_shapes] or [(1, 1)]
    p_svd = max((m + n) / (m * n) for m, n in shapes)
    p_weight = 0.5 / max(m * n for m, n in shapes)
    return Ratios(min(1.0, (vocab + dim) / (vocab * dim)), min(1.0, p_svd), p_weight)


def smallest_reachable_ratio(groups: ParameterGroups) -> float:
    """The smallest ratio any ``Ratios`` reaches: ``fixed`` plus rank-1 / one-entry leftovers."""
    floor = _floors(groups)
    return min(
        predicted_ratio(groups, floor),
        predicted_ratio(groups, Ratios(floor.p_embd, 1.0, floor.p_weight)),
    )


def _check_target(groups: ParameterGroups, target: float) -> None:
    smallest = smallest_reachable_ratio(groups)
    valid = not isinstance(target, bool) and isinstance(target, int | float)
    if valid and math.isfinite(target) and smallest <= target <= 1.0:
        return
    if valid and math.isfinite(target) and target > 1.0:
        raise InfeasibleTarget(
            f"target ratio {target:.4f} is infeasible: a compression ratio must be at most 1",
            smallest,
        )
    shown = f"{target:.4f} ({1 / target:.1f}x)" if valid and 0 < target < math.inf else repr(target)
    raise InfeasibleTarget(
        f"target ratio {shown} is infeasible for this model: the smallest reachable ratio is "
        f"{smallest:.4f} ({1 / smallest:.1f}x), since {groups.fixed:,} parameters (classifier, "
        "pooler, biases, LayerNorms, position embeddings) are never compressed",
        smallest,
    )


def _bisect(predicate: Callable[[float], bool], low: float, high: float, want_low: bool) -> float:
    """Boundary of a monotone ``predicate`` on [low, high].

    ``want_low``: the smallest x with predicate(x) true (predicate false -> true as x grows);
    otherwise the largest x with predicate(x) true (true -> false).
    """
    if want_low:
        if predicate(low):
            return low
        for _ in range(_BISECT_STEPS):
            mid = (low + high) / 2
            low, high = (low, mid) if predicate(mid) else (mid, high)
        return high
    if predicate(high):
        return high
    for _ in range(_BISECT_STEPS):
        mid = (low + high) / 2
        low, high = (mid, high) if predicate(mid) else (low, mid)
    return low


def feasible_ranges(
    groups: ParameterGroups, target: float, *, p_embd: float | None = None
) -> FeasibleRanges:
    """The interval in (0, 1] of each ratio for which the other two can still meet ``target``.

    Idealised, with ``X = target * total - fixed``: ``P_embd in [(X - C) / E, X / E]`` and
    ``P_svd, P_weight in [(X - E) / C, 1]``. The bounds are found on the exact rounded counts of
    ``predict_params`` (floors: rank 1, one kept entry), so every endpoint really reaches the
    target once the third ratio is solved. Given ``p_embd``, the ``p_svd`` and ``p_weight``
    intervals are conditional on it (sample ``p_embd``, then ``p_svd``, then ``solve_p_weight``).
    Raises ``InfeasibleTarget`` when no ratios reach ``target``.
    """
    _check_target(groups, target)
    goal = target * groups.total
    floor = _floors(groups)

    def count(e: float, s: float, w: float) -> int:
        return predict_params(groups, Ratios(e, s, w))

    if p_embd is None:
        # Marginal intervals: lower bounds with the others at their most, upper at their least.
        low_e, high_e = floor.p_embd, 1.0
        embd = (
            _bisect(lambda e: count(e, 1.0, 1.0) >= goal, floor.p_embd, 1.0, want_low=True),
            _bisect(
                lambda e: count(e, floor.p_svd, floor.p_weight) <= goal,
                floor.p_embd,
                1.0,
                want_low=False,
            ),
        )
    else:
        low_e = high_e = check_ratio("p_embd", p_embd)
        embd = (low_e, low_e)
        if not count(low_e, floor.p_svd, floor.p_weight) <= goal <= count(low_e, 1.0, 1.0):
            marginal = feasible_ranges(groups, target).p_embd
            raise RatioError(
                f"p_embd={low_e:g} cannot reach target ratio {target:.4f}: "
                f"p_embd must be in [{marginal[0]:.4f}, {marginal[1]:.4f}]"
            )
    svd = (
        _bisect(lambda s: count(high_e, s, 1.0) >= goal, floor.p_svd, 1.0, want_low=True),
        _bisect(
            lambda s: count(low_e, s, floor.p_weight) <= goal, floor.p_svd, 1.0, want_low=False
        ),
    )
    weight = (
        _bisect(lambda w: count(high_e, 1.0, w) >= goal, floor.p_weight, 1.0, want_low=True),
        _bisect(
            lambda w: count(low_e, floor.p_svd, w) <= goal, floor.p_weight, 1.0, want_low=False
        ),
    )
    return FeasibleRanges(p_embd=embd, p_svd=svd, p_weight=weight, target=float(target))


def solve_p_weight(
    groups: ParameterGroups,
    target: float,
    p_embd: float,
    p_svd: float,
    *,
    rtol: float = _SOLVE_RTOL,
) -> float:
    """The ``P_weight`` whose rounded count (``predict_params``) is nearest ``target * total``.

    Raises ``InfeasibleTarget`` for a target no ratios reach, and ``RatioError`` when with these
    ``p_embd`` and ``p_svd`` no ``P_weight`` in (0, 1] comes within ``rtol`` (relative) of it.
    """
    _check_target(groups, target)
    Ratios(p_embd, p_svd, 1.0)  # validates both
    goal = target * groups.total
    floor = _floors(groups).p_weight

    def count(w: float) -> int:
        return predict_params(groups, Ratios(p_embd, p_svd, w))

    above = _bisect(lambda w: count(w) >= goal, floor, 1.0, want_low=True)
    below = _bisect(lambda w: count(w) < goal, floor, above, want_low=False)
    best = min((above, below), key=lambda w: abs(count(w) - goal))
    if abs(count(best) - goal) > rtol * goal:
        reach = f"[{count(floor) / groups.total:.4f}, {count(1.0) / groups.total:.4f}]"
        raise RatioError(
            f"p_embd={p_embd:g}, p_svd={p_svd:g} cannot reach target ratio {target:.4f} with "
            f"p_weight in (0, 1]: they reach ratios in {reach}"
        )
    return best


def solve_p_svd(groups: ParameterGroups, target: float, p_embd: float) -> float:
    """The ``P_svd`` with ``P_weight = 1`` (factorization only) whose rounded count is the largest
    at or below ``target * total`` (bisection on ``predict_params``)."""
    _check_target(groups, target)
    goal = target * groups.total
    low, high = 1e-6, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        if predict_params(groups, Ratios(p_embd, mid, 1.0)) > goal:
            high = mid
        else:
            low = mid
    return low
