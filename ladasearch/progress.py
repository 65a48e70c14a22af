"""Progress bars that stay quiet when nobody is watching.

Bars are drawn on stderr only when stderr is a terminal and ``--quiet`` was not given, so logs and
``--json`` output stay clean in CI, in Ray workers and in pipes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

__all__ = ["announce", "progress", "set_quiet"]

T = TypeVar("T")

_QUIET = os.environ.get("LADASEARCH_QUIET", "") not in ("", "0")


def set_quiet(quiet: bool) -> None:
    """Turn progress bars off (``True``) or back to automatic (``False``) for this process."""
    global _QUIET
    _QUIET = quiet


def _enabled() -> bool:
    isatty = getattr(sys.stderr, "isatty", None)  # Ray Tune may swap stderr for a bare writer
    return not _QUIET and callable(isatty) and bool(isatty())


def progress(
    iterable: Iterable[T], *, total: int | None = None, desc: str = "", leave: bool = False
) -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm bar when stderr is a terminal, else yield it unchanged."""
    if not _enabled():
        yield from iterable
        return
    yield from tqdm(
        iterable, total=total, desc=desc, leave=leave, file=sys.stderr, dynamic_ncols=True
    )


def announce(message: str) -> None:
    """One status line on stderr (also when it is not a terminal), unless quiet."""
    if not _QUIET:
        print(message, file=sys.stderr, flush=True)
