"""Paired tests between two classifiers scored on the same examples.

Both take per-example correctness (``a_correct[i]`` is whether model A got example i right), so
the comparison is paired: only the examples where the two models disagree carry information.

- :func:`mcnemar_exact`: McNemar's exact test, the two-sided binomial test of the discordant
  pairs (b = A right and B wrong, c = the reverse) against p = 1/2.
- :func:`paired_bootstrap`: the two-sided p-value of a paired bootstrap of the accuracy
  difference (resampling examples, both models together), with a percentile interval.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["BootstrapResult", "mcnemar_exact", "paired_bootstrap", "verdict"]


def _check(a_correct: Sequence[bool], b_correct: Sequence[bool]) -> None:
    if len(a_correct) != len(b_correct):
        raise ValueError(
            f"paired tests need the same examples: {len(a_correct)} vs {len(b_correct)} results"
        )


def mcnemar_exact(a_correct: Sequence[bool], b_correct: Sequence[bool]) -> float:
    """Two-sided exact McNemar p-value (1.0 when the models never disagree)."""
    _check(a_correct, b_correct)
    b = sum(1 for x, y in zip(a_correct, b_correct, strict=True) if x and not y)
    c = sum(1 for x, y in zip(a_correct, b_correct, strict=True) if y and not x)
    n = b + c
    if n == 0:
        return 1.0
    low = min(b, c)
    # P(X <= low) for X ~ Binomial(n, 1/2), doubled (the distribution is symmetric).
    tail = sum(math.comb(n, k) for k in range(low + 1)) / 2**n
    return min(1.0, 2.0 * tail)


@dataclass(frozen=True)
class BootstrapResult:
    """Accuracy of A minus accuracy of B, its percentile interval and two-sided p-value."""

    difference: float
    low: float
    high: float
    p_value: float


def paired_bootstrap(
    a_correct: Sequence[bool],
    b_correct: Sequence[bool],
    *,
    samples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> BootstrapResult:
    """Paired bootstrap of ``acc(A) - acc(B)`` over the same resampled examples.

    The p-value is twice the share of resamples whose difference falls on the other side of 0
    from the observed one (at most 1); ties at 0 count half.
    """
    _check(a_correct, b_correct)
    n = len(a_correct)
    if n == 0:
        raise ValueError("paired_bootstrap needs at least one example")
    delta = [int(bool(x)) - int(bool(y)) for x, y in zip(a_correct, b_correct, strict=True)]
    observed = sum(delta) / n
    rng = random.Random(seed)
    diffs = sorted(sum(delta[rng.randrange(n)] for _ in range(n)) / n for _ in range(samples))
    alpha = (1.0 - confidence) / 2
    low = diffs[int(alpha * (samples - 1))]
    high = diffs[int((1 - alpha) * (samples - 1))]
    if observed == 0:
        return BootstrapResult(0.0, low, high, 1.0)
    other = sum(
        1.0 if (d < 0 if observed > 0 else d > 0) else 0.5 if d == 0 else 0.0 for d in diffs
    )
    return BootstrapResult(observed, low, high, min(1.0, 2.0 * other / samples))


def verdict(accuracy_a: float, accuracy_b: float, p_value: float, alpha: float = 0.05) -> str:
    """``"beats"`` / ``"loses to"`` when ``p_value < alpha``, else ``"tie"``."""
    if p_value >= alpha:
        return "tie"
    return "beats" if accuracy_a > accuracy_b else "loses to"
