"""No repeated trials: a point whose engine-rounded ratios match a COMPLETE or RUNNING trial's.

Why a study could run one parameter set twice (seen in the 2.5x benchmark study: trials 1, 2
and 3 all ran P = (0.409, 0.753, 0.490)):

* a trial interrupted by the end of a run is FAIL ``stopped:`` / ``stale:`` and its parameters
  are enqueued again, and a resumed sampler re-created with the study's seed replays the first
  run's draws, so the retry and a fresh draw both run the interrupted point (fixed by seeding a
  resumed sampler with ``seed + stored trials``, and per-worker seeds; a seed offset only makes
  repeats unlikely, it does not exclude them);
* enqueued points are put back by a surplus refusal, a stale retry or a benchmark restart while
  an equal point already ran;
* the constrained space re-solves P_weight on rounded ranks and clamps P_svd into its feasible
  range, so distinct samples (``prune_share`` near 0 or 1, P_svd within one rank step) map to the
  same compressed model.

So the searcher compares what the engine would build: :func:`engine_key` is the tuple of the
embedding rank, each encoder matrix's rank and kept-entry count (the roundings of
:mod:`ladasearch.compression.accounting`), or the ratios rounded to 1e-6 when the model's groups are
unknown. A proposal equal to a COMPLETE or RUNNING trial's key is told FAIL ``duplicate:`` (not
counted, not requeued) and the sampler asked again, at most ``MAX_RESAMPLES`` times.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from optuna.trial import FrozenTrial, TrialState

from ladasearch.compression.ratios import RATIO_KEYS

__all__ = ["DUPLICATE", "MAX_RESAMPLES", "duplicate_reason", "engine_key", "find_twin"]

DUPLICATE = "duplicate:"
"""Prefix of the ``fail_reason`` of a proposal that repeated an existing trial's point."""

MAX_RESAMPLES = 20
"""Proposals refused in a row before the search stops (the space looks exhausted)."""

_TAKEN = (TrialState.COMPLETE, TrialState.RUNNING)

EngineKey = tuple[Any, ...]


def engine_key(point: Mapping[str, Any], groups: Any = None) -> EngineKey | None:
    """What the engine builds for ``point``'s ratios; None when a ratio is missing.

    With ``groups`` (:class:`~ladasearch.compression.accounting.ParameterGroups`): (embedding rank,
    per encoder matrix (rank, kept entries)). Without: the three ratios rounded to 1e-6. A
    study that searches the factorization adds the point's ``factorization`` (one model per
    method).
    """
    try:
        ratios = [float(point[key]) for key in RATIO_KEYS]
    except (KeyError, TypeError, ValueError):
        return None
    method = point.get("factorization")
    if groups is None:
        return (*(round(value, 6) for value in ratios), method)
    from ladasearch.compression.accounting import embedding_rank, encoder_rank, kept

    p_embd, p_svd, p_weight = ratios
    vocab, dim = groups.embedding_shape
    matrices = []
    for m, n in sorted({(m, n) for _, m, n in groups.encoder_shapes}):
        rank = encoder_rank(m, n, p_svd)
        entries = (m * n,) if rank is None else (m * rank, rank * n)
        matrices.append((rank, tuple(kept(numel, p_weight) for numel in entries)))
    return (embedding_rank(vocab, dim, p_embd), tuple(matrices), method)


def find_twin(
    point: Mapping[str, Any],
    trials: Iterable[FrozenTrial],
    groups: Any = None,
    *,
    exclude: int | None = None,
) -> int | None:
    """The number of a COMPLETE or RUNNING trial (not ``exclude``) whose key equals ``point``'s."""
    key = engine_key(point, groups)
    if key is None:
        return None
    for trial in trials:
        if trial.number == exclude or trial.state not in _TAKEN:
            continue
        if engine_key(trial.user_attrs, groups) == key:
            return trial.number
    return None


def duplicate_reason(twin: int) -> str:
    """The one-line ``fail_reason`` of a proposal that repeated trial ``twin``."""
    return f"{DUPLICATE} the engine would build the same model as trial {twin}; resampled"
