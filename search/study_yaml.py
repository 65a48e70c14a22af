"""Reading a study file's YAML: duplicate keys refused, every value read with a typed check.

:class:`UniqueKeyLoader` is ``yaml.SafeLoader`` refusing a key given twice; :class:`Reader`
gives typed access to one mapping and makes each error a one-line
:class:`~ladasearch.errors.StudyFileError` naming ``source: key path`` and the reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import yaml

from ladasearch.errors import StudyFileError

__all__ = ["DuplicateKey", "Reader", "UniqueKeyLoader"]


class DuplicateKey(Exception):
    """A key given twice in one YAML mapping (``yaml.safe_load`` keeps the last silently)."""


class UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise DuplicateKey(f"key {key!r} is given twice (lines {seen[key]} and {line})")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


class Reader:
    """Typed access to one mapping of the study file; every error names ``source: key``."""

    def __init__(self, data: Mapping[str, Any], source: str, prefix: str = "") -> None:
        self.data = data
        self.source = source
        self.prefix = prefix

    def fail(self, key: str, reason: str) -> StudyFileError:
        return StudyFileError(f"{self.source}: {self.prefix}{key} {reason}")

    def check_keys(self, allowed: tuple[str, ...]) -> None:
        for key in self.data:
            if key not in allowed:
                raise StudyFileError(
                    f"{self.source}: unknown key {self.prefix}{key} (allowed: {', '.join(allowed)})"
                )

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def integer(self, key: str, default: int, *, minimum: int = 1) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
            raise self.fail(key, f"must be {kind}, got {value!r}")
        return value

    def number(
        self, key: str, default: float, *, low: float = 0.0, allow_zero: bool = False
    ) -> float:
        value = self.data.get(key, default)
        ok = (
            isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        )
        if not ok or value < low or (value == low and not allow_zero):
            kind = "a number >= 0" if allow_zero else "a positive number"
            raise self.fail(key, f"must be {kind}, got {value!r}")
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {value!r}")
        return value

    def text(self, key: str, default: str | None) -> str | None:
        value = self.data.get(key, default)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self.fail(key, f"must be a non-empty string, got {value!r}")
        return value

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.data.get(key, default)
        if value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}, got {value!r}")
        return str(value)

    def section(self, key: str, allowed: tuple[str, ...]) -> Reader:
        value = self.data.get(key, {})
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise self.fail(key, f"must be a mapping of {', '.join(allowed)}, got {value!r}")
        reader = Reader(value, self.source, f"{self.prefix}{key}.")
        reader.check_keys(allowed)
        return reader
