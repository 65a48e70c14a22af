"""``csv:PATH`` and ``jsonl:PATH``: the user's own labelled files.

Columns: ``text_column`` (default ``text``), an optional ``text_pair_column`` and ``label_column``
(default ``label``). Labels may be strings or integers; the sorted unique values (numerically when
they all are integers) become ids ``0 .. n-1`` and their string forms the label names. Without
``test_path`` a seeded, label-stratified 10 % of the file is held out as test (for reporting);
with it, the test file (same format and columns) is test. Then, without ``dev_path``, a seeded
10 % of the rest (at least one example) becomes dev (for selection); with it, the dev file is
dev. Dev and test are never the same examples, so reported test accuracy is not the one that
chose the model.

Any problem is a :class:`DataError` naming the file: missing or unreadable, empty, a missing column
(with the columns found), an empty text or label (with its line), a malformed JSON line (with its
line number), fewer than two labels, fewer than :data:`MIN_EXAMPLES_PER_CLASS` examples of a
label in the training file (a classifier cannot learn, nor a dev split measure, a class seen
once or twice: such a run would "succeed" with a meaningless accuracy).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ladasearch.errors import DataError
from ladasearch.tasks._base import (
    Example,
    TaskData,
    TaskSpec,
    carve_dev,
    carve_stratified,
    fingerprint_task,
)

__all__ = ["MIN_EXAMPLES_PER_CLASS", "load_file_task"]

MIN_EXAMPLES_PER_CLASS = 5
"""The fewest rows of each label a training file must hold."""

DEFAULT_TEXT_COLUMN = "text"
DEFAULT_LABEL_COLUMN = "label"


@dataclass(frozen=True)
class _Row:
    """A raw row before labels are mapped to ids; ``line`` is its 1-based line in the file."""

    line: int
    text: str
    text_pair: str | None
    label: str


@dataclass(frozen=True)
class _Columns:
    text: str
    text_pair: str | None
    label: str

    def check(self, path: Path, found: Sequence[str], where: str = "") -> None:
        for column in (self.text, self.text_pair, self.label):
            if column is not None and column not in found:
                listed = ", ".join(found) if found else "none"
                raise DataError(f"{path}{where}: no column {column!r} (columns found: {listed})")


def _open_text(path: Path) -> Any:
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if not path.is_file():
        raise DataError(f"{path}: not a file")
    try:
        return path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise DataError(f"{path}: cannot read it ({exc.strerror or exc})") from exc


def _label_key(value: Any, path: Path, line: int) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(f"{path}, line {line}: label {value!r} is not a string or an integer")
    key = str(value).strip()
    if not key:
        raise DataError(f"{path}, line {line}: empty label")
    return key


def _text_value(value: Any, column: str, path: Path, line: int) -> str:
    if value is not None and not isinstance(value, str):
        raise DataError(f"{path}, line {line}: non-string text in column {column!r}")
    if not value or not value.strip():
        raise DataError(f"{path}, line {line}: empty text in column {column!r}")
    return value


def _make_row(record: dict[str, Any], columns: _Columns, path: Path, line: int) -> _Row:
    pair = None
    if columns.text_pair is not None:
        pair = _text_value(record.get(columns.text_pair), columns.text_pair, path, line)
    return _Row(
        line=line,
        text=_text_value(record.get(columns.text), columns.text, path, line),
        text_pair=pair,
        label=_label_key(record.get(columns.label), path, line),
    )


def _read_csv(path: Path, columns: _Columns) -> list[_Row]:
    rows: list[_Row] = []
    with _open_text(path) as handle:
        try:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None:
                raise DataError(f"{path}: empty file")
            columns.check(path, [str(name) for name in reader.fieldnames])
            for record in reader:
                rows.append(_make_row(record, columns, path, reader.line_num))
        except csv.Error as exc:
            raise DataError(f"{path}, line {reader.line_num}: malformed CSV ({exc})") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: cannot read it ({exc})") from exc
    return rows


def _json_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with _open_text(path) as handle:
        try:
            for line_number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(
                        f"{path}, line {line_number}: malformed JSON ({exc.msg})"
                    ) from exc
                if not isinstance(record, dict):
                    raise DataError(f"{path}, line {line_number}: expected a JSON object")
                yield line_number, record
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: cannot read it ({exc})") from exc


def _read_jsonl(path: Path, columns: _Columns) -> list[_Row]:
    rows: list[_Row] = []
    for line, record in _json_records(path):
        columns.check(path, list(record), where=f", line {line}")
        rows.append(_make_row(record, columns, path, line))
    return rows


def _read_rows(kind: str, path: Path, columns: _Columns) -> list[_Row]:
    rows = _read_csv(path, columns) if kind == "csv" else _read_jsonl(path, columns)
    if not rows:
        raise DataError(f"{path}: empty file (no data rows)")
    return rows


def _label_names(keys: set[str]) -> tuple[str, ...]:
    """Sorted label names: numerically when every key is an integer, else as strings."""
    try:
        return tuple(sorted(keys, key=int))
    except ValueError:
        return tuple(sorted(keys))


def _examples(rows: Sequence[_Row], ids: dict[str, int]) -> tuple[Example, ...]:
    return tuple(Example(text=r.text, text_pair=r.text_pair, label=ids[r.label]) for r in rows)


def _check_class_sizes(path: Path, rows: Sequence[_Row], column: str) -> None:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.label] = counts.get(row.label, 0) + 1
    small = sorted((n, label) for label, n in counts.items() if n < MIN_EXAMPLES_PER_CLASS)
    if small:
        n, label = small[0]
        raise DataError(
            f"{path}: label {label!r} in column {column!r} has {n} example(s); every label needs "
            f"at least {MIN_EXAMPLES_PER_CLASS} (MIN_EXAMPLES_PER_CLASS)"
        )


def load_file_task(spec: TaskSpec) -> TaskData:
    """Load a ``csv:PATH`` or ``jsonl:PATH`` task (see the module docstring for the rules)."""
    kind, _, raw_path = spec.name.partition(":")
    if kind not in ("csv", "jsonl") or not raw_path:
        raise DataError(f"task {spec.name!r}: expected csv:PATH or jsonl:PATH")
    columns = _Columns(
        text=spec.text_column or DEFAULT_TEXT_COLUMN,
        text_pair=spec.text_pair_column or None,
        label=spec.label_column or DEFAULT_LABEL_COLUMN,
    )
    path = Path(raw_path).expanduser()
    rows = _read_rows(kind, path, columns)
    dev_rows = test_rows = None
    if spec.dev_path is not None:
        dev_rows = _read_rows(kind, Path(spec.dev_path).expanduser(), columns)
    if spec.test_path is not None:
        test_rows = _read_rows(kind, Path(spec.test_path).expanduser(), columns)
    keys = {r.label for r in rows} | {r.label for r in [*(dev_rows or []), *(test_rows or [])]}
    if len(keys) < 2:
        raise DataError(f"{path}: fewer than two labels in column {columns.label!r} ({len(keys)})")
    _check_class_sizes(path, rows, columns.label)
    label_names = _label_names(keys)
    ids = {name: i for i, name in enumerate(label_names)}
    notes = []
    pool = _examples(rows, ids)
    if test_rows is None:
        pool, test = carve_stratified(pool, spec.seed)
        notes.append("test = seeded stratified 10% of the file")
    else:
        test = _examples(test_rows, ids)
    if dev_rows is None:
        train, dev = carve_dev(pool, spec.seed)
        notes.append("dev = seeded 10% of the rest")
    else:
        train, dev = pool, _examples(dev_rows, ids)
    if not train or not test:
        raise DataError(f"{path}: too few rows to carve dev and test splits ({len(rows)})")
    metrics = ("accuracy",)
    # Content only (not the path), so a moved or renamed file keeps its cached teachers.
    splits = (("train", train), ("dev", dev), ("test", test))
    fingerprint = fingerprint_task(kind, label_names, metrics, splits)
    return TaskData(
        name=spec.name,
        label_names=label_names,
        train=train,
        dev=dev,
        test=test,
        metrics=metrics,
        fingerprint=fingerprint,
        note="; ".join(notes),
    )
