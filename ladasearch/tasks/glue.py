"""``glue/<config>``: GLUE classification tasks from the Hugging Face hub.

GLUE's test splits carry no labels, so the splits are re-cut:

* test = the official validation split (``validation_matched`` for MNLI);
* dev = a seeded 10 % carve-out of the official train split (at most 2,000 examples);
* train = the rest of the official train split.

STS-B is a regression task and is not supported. MRPC and QQP are also scored by binary F1.
Loading needs the hub (``datasets.load_dataset``); the column mapping itself
(:func:`glue_task_from_splits`) works on any in-memory ``datasets.Dataset``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ladasearch.errors import DataError
from ladasearch.tasks._base import Example, TaskData, carve_dev, fingerprint_task

__all__ = ["GLUE_COLUMNS", "GLUE_DATASET", "glue_task_from_splits", "load_glue"]

GLUE_DATASET = "nyu-mll/glue"  # the hub's canonical id of the dataset once named "glue"
DEV_FRACTION, DEV_MAX = 0.1, 2000

# config -> (text column, text-pair column or None)
GLUE_COLUMNS: dict[str, tuple[str, str | None]] = {
    "sst2": ("sentence", None),
    "cola": ("sentence", None),
    "mnli": ("premise", "hypothesis"),
    "qqp": ("question1", "question2"),
    "qnli": ("question", "sentence"),
    "mrpc": ("sentence1", "sentence2"),
    "rte": ("sentence1", "sentence2"),
    "wnli": ("sentence1", "sentence2"),
}
_F1_CONFIGS = frozenset({"mrpc", "qqp"})


def _label_names(dataset: Any, config: str) -> tuple[str, ...]:
    feature = dataset.features.get("label")
    names = getattr(feature, "names", None)
    if not names:
        raise DataError(f"glue/{config}: the 'label' column is not a class label")
    return tuple(str(name) for name in names)


def _examples(dataset: Any, config: str) -> tuple[Example, ...]:
    """Examples from whole columns (much faster than iterating rows of a large Dataset)."""
    text_column, pair_column = GLUE_COLUMNS[config]
    texts = list(dataset[text_column])
    pairs = list(dataset[pair_column]) if pair_column is not None else [None] * len(texts)
    labels = [int(label) for label in dataset["label"]]
    return tuple(
        Example(text=text, text_pair=pair, label=label)
        for text, pair, label in zip(texts, pairs, labels, strict=True)
        if label >= 0  # -1 marks an unlabelled row
    )


def glue_task_from_splits(config: str, train: Any, validation: Any, seed: int = 0) -> TaskData:
    """Build ``glue/<config>`` from its official train and validation ``datasets.Dataset`` s.

    Maps the config's text (and pair) columns, takes label names from the ``label`` ClassLabel,
    and re-cuts the splits as the module docstring says.
    """
    if config not in GLUE_COLUMNS:
        raise DataError(f"unknown GLUE task glue/{config}: use one of {_accepted()}")
    needed = [c for c in (*GLUE_COLUMNS[config], "label") if c is not None]
    for split, dataset in (("train", train), ("validation", validation)):
        missing = [c for c in needed if c not in dataset.column_names]
        if missing:
            found = ", ".join(dataset.column_names)
            raise DataError(f"glue/{config} {split}: no column {missing[0]!r} (found: {found})")
    label_names = _label_names(train, config)
    train_examples, dev = carve_dev(
        _examples(train, config), seed, fraction=DEV_FRACTION, max_size=DEV_MAX
    )
    test = _examples(validation, config)
    metrics = ("accuracy", "f1") if config in _F1_CONFIGS else ("accuracy",)
    name = f"glue/{config}"
    splits = (("train", train_examples), ("dev", dev), ("test", test))
    return TaskData(
        name=name,
        label_names=label_names,
        train=train_examples,
        dev=dev,
        test=test,
        metrics=metrics,
        fingerprint=fingerprint_task(name, label_names, metrics, splits),
        note="dev = seeded part of GLUE train, test = GLUE validation",
    )


def _accepted() -> str:
    return ", ".join(f"glue/{c}" for c in GLUE_COLUMNS)


def load_glue(config: str, seed: int = 0) -> TaskData:
    """Download ``glue/<config>`` from the hub and re-cut its splits (see the module docstring)."""
    if config == "stsb":
        raise DataError("glue/stsb is a regression task: only classification tasks are supported")
    if config not in GLUE_COLUMNS:
        raise DataError(f"unknown GLUE task glue/{config}: use one of {_accepted()}")
    validation_split = "validation_matched" if config == "mnli" else "validation"
    try:
        import datasets

        splits: Sequence[Any] = [
            datasets.load_dataset(GLUE_DATASET, config, split=split)
            for split in ("train", validation_split)
        ]
    except Exception as exc:  # network, hub and cache errors all end here
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise DataError(
            f"could not load glue/{config} from the Hugging Face hub ({reason})"
        ) from exc
    return glue_task_from_splits(config, splits[0], splits[1], seed=seed)
