"""Pair tasks that ask about the *relation* of the two texts, built from rt reviews (issue 17).

The three tasks of :mod:`benchmarks.pair_tasks` that came first (``polarity``, ``film``,
``continuation``) turned out to be (nearly) unlearnable from 4,400 pairs: a word-feature logistic
regression does not beat the majority class on ``film`` or ``continuation`` either
(:mod:`benchmarks.pair_learnable`). These three are learnable by construction and need both
segments (no label can be read off one text alone), with the issue's label mix (35.5 % the
minority label, so the majority class scores about 64.5 %):

- ``negation`` (entailment-like): a review and an edited copy of it. ``entailment``: 1 or 2
  ordinary words deleted; ``contradiction``: the same deletions and the statement negated
  ("not" inserted after its first auxiliary verb, or an existing "not"/"never" removed).
- ``claim`` (a review and a claim about it): one of 8 positive or 8 negative claims ("the critic
  liked this film", ...); ``agree`` when the claim's polarity is the review's (fresh/rotten).
  Single-text sentiment needs the review, the label needs the claim too.
- ``paraphrase`` (MRPC/QQP-like): a review and a noisy copy (about 15 % of the words dropped,
  two neighbours swapped) of either the same review (``same``) or another review of the same
  film (``other``; of any film when the film has one review in the split).

Every builder takes a pool of reviews and a seeded :class:`random.Random` and is deterministic.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Protocol

__all__ = ["NLI_LABELS", "NLI_TASKS", "claim", "negate", "negation", "paraphrase", "perturb"]

NLI_TASKS = ("negation", "claim", "paraphrase")
NLI_LABELS = {
    "negation": ("entailment", "contradiction"),
    "claim": ("disagree", "agree"),
    "paraphrase": ("other", "same"),
}
MINORITY_RATE = 0.355  # the mix: the majority class is 64.5 %

_AUX = frozenset(
    [
        "is",
        "was",
        "are",
        "were",
        "has",
        "have",
        "had",
        "does",
        "do",
        "did",
        "can",
        "will",
        "would",
        "could",
        "should",
        "must",
    ]
)
_NEGATORS = frozenset(("not", "never"))
POSITIVE_CLAIMS = (
    "the critic liked this film",
    "this review is positive",
    "the reviewer recommends the movie",
    "the film is praised here",
    "a favourable review",
    "the writer enjoyed it",
    "the critic thinks it is worth seeing",
    "this is a good review of the movie",
)
NEGATIVE_CLAIMS = (
    "the critic disliked this film",
    "this review is negative",
    "the reviewer advises against the movie",
    "the film is panned here",
    "an unfavourable review",
    "the writer did not enjoy it",
    "the critic thinks it is not worth seeing",
    "this is a bad review of the movie",
)

Row = tuple[str, str, str]


class Review(Protocol):
    """What a builder reads of a review (``benchmarks.pair_tasks._Review`` has these)."""

    @property
    def film(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def fresh(self) -> bool: ...


def _bare(word: str) -> str:
    return re.sub(r"\W", "", word.lower())


def _delete_some(words: list[str], rng: random.Random, protect: set[int]) -> list[str]:
    """``words`` without 1 or 2 ordinary words (never an index in ``protect``)."""
    candidates = [i for i in range(len(words)) if i not in protect]
    drop = set(rng.sample(candidates, min(len(candidates), rng.choice((1, 2)))))
    return [w for i, w in enumerate(words) if i not in drop]


def negate(words: list[str], rng: random.Random) -> list[str] | None:
    """``words`` with the statement negated, or None when there is no place to do it."""
    negators = [i for i, w in enumerate(words) if _bare(w) in _NEGATORS]
    if negators and rng.random() < 0.5:
        i = rng.choice(negators)
        return words[:i] + words[i + 1 :]
    for i, word in enumerate(words[:-1]):
        if _bare(word) in _AUX and word.isalpha() and _bare(words[i + 1]) not in _NEGATORS:
            return [*words[: i + 1], "not", *words[i + 1 :]]
    if negators:
        i = negators[0]
        return words[:i] + words[i + 1 :]
    return None


def negation(reviews: Sequence[Review], n: int, rng: random.Random) -> list[Row]:
    """``n`` (review, edited review, entailment|contradiction) rows, 35.5 % contradiction."""
    rows: list[Row] = []
    contradiction = rng.random() < MINORITY_RATE  # drawn before the review: the mix stays exact
    tries = 0
    while len(rows) < n and tries < 50 * n:
        tries += 1
        words = reviews[rng.randrange(len(reviews))].text.split()
        edited = negate(words, rng) if contradiction else words
        if len(words) < 6 or edited is None:
            continue
        keep = {i for i, w in enumerate(edited) if _bare(w) in _AUX | _NEGATORS}
        hypothesis = " ".join(_delete_some(edited, rng, keep))
        rows.append((" ".join(words), hypothesis, NLI_LABELS["negation"][int(contradiction)]))
        contradiction = rng.random() < MINORITY_RATE
    return rows


def claim(reviews: Sequence[Review], n: int, rng: random.Random) -> list[Row]:
    """``n`` (review, claim, agree|disagree) rows, 35.5 % agree."""
    rows: list[Row] = []
    while len(rows) < n:
        review = reviews[rng.randrange(len(reviews))]
        agree = rng.random() < MINORITY_RATE
        positive = review.fresh if agree else not review.fresh
        text = rng.choice(POSITIVE_CLAIMS if positive else NEGATIVE_CLAIMS)
        rows.append((review.text, text, NLI_LABELS["claim"][int(agree)]))
    return rows


def perturb(text: str, rng: random.Random) -> str:
    """``text`` with about 15 % of its words dropped (at least one kept) and two neighbours
    swapped."""
    words = [w for w in text.split() if rng.random() >= 0.15] or text.split()[:1]
    if len(words) > 2:
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def paraphrase(reviews: Sequence[Review], n: int, rng: random.Random) -> list[Row]:
    """``n`` (review, noisy copy of it or of another review of its film, same|other) rows,
    35.5 % same."""
    by_film: dict[str, list[Review]] = defaultdict(list)
    for review in reviews:
        by_film[review.film].append(review)
    rows: list[Row] = []
    while len(rows) < n and len(reviews) > 1:
        review = reviews[rng.randrange(len(reviews))]
        same = rng.random() < MINORITY_RATE
        if same:
            other = review
        else:
            siblings = by_film[review.film]
            pool = siblings if len(siblings) > 1 else reviews
            other = pool[rng.randrange(len(pool))]
            if other.text == review.text:
                continue
        rows.append((review.text, perturb(other.text, rng), NLI_LABELS["paraphrase"][int(same)]))
    return rows


BUILDERS: dict[str, Callable[[Sequence[Review], int, random.Random], list[Row]]] = {
    "negation": negation,
    "claim": claim,
    "paraphrase": paraphrase,
}
