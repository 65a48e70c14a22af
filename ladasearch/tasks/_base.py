"""The task contract: a :class:`TaskSpec` names a task, :func:`load_task` turns it into
:class:`TaskData`.

Every task loader (``rt``, ``glue/<config>``, ``csv:PATH``, ``jsonl:PATH``) returns the same
immutable :class:`TaskData`: three labelled splits of :class:`Example` with integer labels
``0 .. num_labels - 1``, the label names, the metrics the task is scored by, and a content
fingerprint that caches (teachers, benchmarks) key on. Loaders raise
:class:`ladasearch.errors.DataError` (one line naming the file and the problem) for bad data.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Example", "TaskData", "TaskSpec", "carve_dev", "carve_stratified", "fingerprint_task"]


@dataclass(frozen=True)
class TaskSpec:
    """What the user asked for: a task name plus the column options of their own files.

    ``name`` is ``rt``, ``glue/<config>``, ``csv:PATH`` or ``jsonl:PATH``. The column options,
    ``dev_path`` and ``test_path`` apply to ``csv:`` / ``jsonl:`` only; ``seed`` drives the seeded dev carve-outs
    (``glue/*`` and files without ``dev_path``), never the fixed ``rt`` split.
    """

    name: str
    text_column: str | None = None
    text_pair_column: str | None = None
    label_column: str | None = None
    dev_path: str | None = None
    seed: int = 0
    test_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (for study files and trial attributes)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Example:
    """One labelled example: a sentence (or sentence pair) and its integer label id."""

    text: str
    text_pair: str | None
    label: int


@dataclass(frozen=True)
class TaskData:
    """A loaded task: train / dev / test splits with integer labels, ready to tokenize.

    ``metrics`` is ``("accuracy",)`` or ``("accuracy", "f1")`` (binary F1 of label 1, for MRPC
    and QQP). ``fingerprint`` is the sha256 hex digest of the content (name, label names, metrics
    and every example of every split), stable across processes and machines. ``note`` says where
    the splits came from when that is not obvious (e.g. "test = GLUE validation").
    """

    name: str
    label_names: tuple[str, ...]
    train: tuple[Example, ...]
    dev: tuple[Example, ...]
    test: tuple[Example, ...]
    metrics: tuple[str, ...]
    fingerprint: str
    note: str = ""

    @property
    def num_labels(self) -> int:
        """Number of classes (``len(label_names)``)."""
        return len(self.label_names)

    def describe(self) -> str:
        """One line: name, label names and split sizes (and where test came from)."""
        text = (
            f"{self.name}: {self.num_labels} labels ({', '.join(self.label_names)}), "
            f"train {len(self.train):,} / dev {len(self.dev):,} / test {len(self.test):,}"
        )
        if self.test is self.dev:
            text += " (no test set given: test = dev)"
        if self.note:
            text += f" ({self.note})"
        return text


def fingerprint_task(
    name: str,
    label_names: Sequence[str],
    metrics: Sequence[str],
    splits: Iterable[tuple[str, Sequence[Example]]],
) -> str:
    """sha256 hex of a task's content, fed split by split, example by example."""
    digest = hashlib.sha256()
    head = {"name": name, "label_names": list(label_names), "metrics": list(metrics)}
    digest.update(json.dumps(head, sort_keys=True).encode("utf-8"))
    for split_name, examples in splits:
        digest.update(f"\n#{split_name}:{len(examples)}\n".encode())
        for example in examples:
            row = [example.text, example.text_pair, example.label]
            digest.update(json.dumps(row, ensure_ascii=False).encode("utf-8"))
            digest.update(b"\n")
    return digest.hexdigest()


def carve_dev(
    examples: Sequence[Example], seed: int, *, fraction: float = 0.1, max_size: int | None = None
) -> tuple[tuple[Example, ...], tuple[Example, ...]]:
    """Split ``examples`` into (train, dev) with a seeded shuffle; dev gets ``fraction`` of them.

    The dev set has at least one example and at most ``max_size``; both keep the input order.
    """
    n_dev = max(1, round(len(examples) * fraction))
    if max_size is not None:
        n_dev = min(n_dev, max_size)
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    dev_ids = set(order[:n_dev])
    train = tuple(e for i, e in enumerate(examples) if i not in dev_ids)
    dev = tuple(e for i, e in enumerate(examples) if i in dev_ids)
    return train, dev


def carve_stratified(
    examples: Sequence[Example], seed: int, *, fraction: float = 0.1
) -> tuple[tuple[Example, ...], tuple[Example, ...]]:
    """Split ``examples`` into (rest, held out) with ``fraction`` of each label held out.

    Per label, a seeded shuffle picks ``round(fraction * count)`` examples (at least one when
    the label has two or more); both parts keep the input order.
    """
    by_label: dict[int, list[int]] = {}
    for i, example in enumerate(examples):
        by_label.setdefault(example.label, []).append(i)
    rng = random.Random(seed)
    held: set[int] = set()
    for label in sorted(by_label):
        positions = by_label[label]
        rng.shuffle(positions)
        count = round(len(positions) * fraction)
        if count == 0 and len(positions) >= 2:
            count = 1
        held.update(positions[:count])
    rest = tuple(e for i, e in enumerate(examples) if i not in held)
    return rest, tuple(e for i, e in enumerate(examples) if i in held)
