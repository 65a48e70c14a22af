"""Significance helpers: the majority-class baseline and exact paired tests.

Paired tests take per-example correctness of two classifiers scored on the same examples
(:func:`mcnemar_exact`, two-sided; :func:`paired_bootstrap`; :func:`verdict` says "beats" only
below the significance level, else "tie"); :func:`mcnemar_one_sided` takes the discordant counts.

A classifier that scores below "always predict the most frequent training label" has learned
nothing useful, yet its accuracy can look respectable on an imbalanced task. :func:`majority_check`
compares a model's predictions with that baseline on the *same* examples with an exact one-sided
McNemar test: only the examples where exactly one of the two is right (the discordant pairs)
count, and under the null hypothesis "the model is no better than the baseline" each discordant
pair favours the model with probability 1/2. Pure Python, no SciPy.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "ALPHA",
    "BootstrapResult",
    "MajorityCheck",
    "binomial_tail",
    "majority_check",
    "majority_label",
    "mcnemar_exact",
    "mcnemar_one_sided",
    "not_above_majority",
    "paired_bootstrap",
    "verdict",
    "weak_student_warning",
    "weak_teacher_warning",
]

ALPHA = 0.05  # significance level of the one-sided "better than the majority class" test


def binomial_tail(k: int, n: int, p: float = 0.5) -> float:
    """``P(X >= k)`` for ``X ~ Binomial(n, p)``, exact (log-space sums, stable for large n)."""
    if n < 0 or not 0 <= p <= 1:
        raise ValueError(f"need n >= 0 and 0 <= p <= 1 (got n={n}, p={p})")
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p in (0.0, 1.0):
        return 1.0 if p == 1.0 else 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [
        math.lgamma(n + 1)
        - math.lgamma(i + 1)
        - math.lgamma(n - i + 1)
        + i * log_p
        + (n - i) * log_q
        for i in range(k, n + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def mcnemar_one_sided(wins: int, losses: int) -> float:
    """One-sided exact McNemar p-value that A beats B, given the discordant pairs.

    ``wins``: examples A gets right and B wrong; ``losses``: B right, A wrong. Returns
    ``P(X >= wins)`` for ``X ~ Binomial(wins + losses, 1/2)`` (1.0 when there is no discordant
    pair: no evidence either way).
    """
    if wins < 0 or losses < 0:
        raise ValueError(f"counts must be >= 0 (got {wins}, {losses})")
    return binomial_tail(wins, wins + losses, 0.5)


def majority_label(labels: Sequence[int]) -> int:
    """The most frequent label (the smallest id on a tie), e.g. of the training split."""
    if not labels:
        raise ValueError("no labels")
    counts = Counter(labels)
    return min(counts, key=lambda label: (-counts[label], label))


@dataclass(frozen=True)
class MajorityCheck:
    """A model against the majority-class baseline on the same examples.

    ``majority_label`` comes from the training labels; both accuracies are on the evaluated
    examples. ``p_value`` is the one-sided exact McNemar test of "the model is better";
    ``significant`` is ``p_value < alpha``.
    """

    examples: int
    majority_label: int
    accuracy: float
    majority_accuracy: float
    wins: int
    losses: int
    p_value: float
    alpha: float = ALPHA

    @property
    def significant(self) -> bool:
        """Whether the model is significantly above the majority baseline."""
        return self.p_value < self.alpha

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, ``significant`` included."""
        return {**asdict(self), "significant": self.significant}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MajorityCheck:
        """Inverse of :meth:`to_dict` (extra keys ignored)."""
        return cls(
            examples=int(data["examples"]),
            majority_label=int(data["majority_label"]),
            accuracy=float(data["accuracy"]),
            majority_accuracy=float(data["majority_accuracy"]),
            wins=int(data["wins"]),
            losses=int(data["losses"]),
            p_value=float(data["p_value"]),
            alpha=float(data.get("alpha", ALPHA)),
        )

    def describe(self) -> str:
        """One line, e.g. ``0.812 vs majority 0.645 (+16.7 points, McNemar p=3e-12)``."""
        delta = 100 * (self.accuracy - self.majority_accuracy)
        return (
            f"{self.accuracy:.4f} vs majority class {self.majority_accuracy:.4f} "
            f"({delta:+.1f} points, one-sided McNemar p={self.p_value:.2g}, "
            f"n={self.examples})"
        )


def majority_check(
    predictions: Sequence[int],
    labels: Sequence[int],
    train_labels: Sequence[int],
    alpha: float = ALPHA,
) -> MajorityCheck:
    """Compare ``predictions`` with always predicting the training split's majority label."""
    if len(predictions) != len(labels) or not labels:
        raise ValueError(
            f"need as many predictions as labels (> 0): {len(predictions)}, {len(labels)}"
        )
    majority = majority_label(train_labels)
    wins = sum(1 for p, y in zip(predictions, labels, strict=True) if p == y and y != majority)
    losses = sum(1 for p, y in zip(predictions, labels, strict=True) if p != y and y == majority)
    n = len(labels)
    return MajorityCheck(
        examples=n,
        majority_label=majority,
        accuracy=sum(p == y for p, y in zip(predictions, labels, strict=True)) / n,
        majority_accuracy=sum(y == majority for y in labels) / n,
        wins=wins,
        losses=losses,
        p_value=mcnemar_one_sided(wins, losses),
        alpha=alpha,
    )


def not_above_majority(majority: float, p_value: float) -> str:
    """The clause every weak-model line shares: ``not significantly better than always
    predicting the majority class (0.5783; one-sided McNemar p=0.31)``."""
    return (
        f"not significantly better than always predicting the majority class "
        f"({float(majority):.4f}; one-sided McNemar p={float(p_value):.2g})"
    )


def weak_teacher_warning(fields: Mapping[str, Any]) -> str | None:
    """The one warning line when flat result ``fields`` say the teacher is not significantly
    above the majority class (keys ``teacher_test_accuracy``, ``majority_test_accuracy``,
    ``teacher_majority_p``, ``teacher_significant``); ``None`` when it is, or when not recorded."""
    if fields.get("teacher_significant") is not False:
        return None
    return (
        f"WARNING: the teacher ({float(fields['teacher_test_accuracy']):.4f} test accuracy) is "
        f"{not_above_majority(fields['majority_test_accuracy'], fields['teacher_majority_p'])}: "
        "the student's retention is measured "
        "against a teacher that learned little; train it longer (--teacher-epochs) or check "
        "the data"
    )


def weak_student_warning(fields: Mapping[str, Any]) -> str | None:
    """The one warning line when flat result ``fields`` say the compressed model is not
    significantly above the majority class: on test when it was scored (``student_test_significant``,
    ``student_test_majority_p``, ``test_accuracy``, ``majority_test_accuracy``), else on dev
    (``student_significant``, ``student_majority_p``, ``accuracy``, ``majority_accuracy``);
    ``None`` when it is, or when not recorded."""
    if fields.get("student_test_significant") is not None:
        split, significant = "test", fields["student_test_significant"]
        p_value, accuracy = fields["student_test_majority_p"], fields.get("test_accuracy")
        majority = fields.get("majority_test_accuracy")
    else:
        split, significant = "dev", fields.get("student_significant")
        p_value, accuracy = fields.get("student_majority_p"), fields.get("accuracy")
        majority = fields.get("majority_accuracy")
    if significant is not False or accuracy is None or majority is None or p_value is None:
        return None
    return (
        f"WARNING: the compressed model ({float(accuracy):.4f} {split} accuracy) is "
        f"{not_above_majority(majority, p_value)}: its retained share counts the majority "
        "class's answers, not what it kept of the teacher; compress less, or distill longer "
        "(--steps, --iterations)"
    )


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
