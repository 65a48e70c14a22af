"""What one worker process keeps between the trials it runs: the teacher, the task, its tokens.

Ray Tune reuses a trial's actor for the next trial (``TuneConfig(reuse_actors=True)``), so a
worker process runs many trials of one study. The search's trainable calls :func:`enable` once
in such a process; from then on :func:`remember` returns what an earlier trial of the same
process built under the same key (the cached teacher loaded from disk, the task's splits, their
tokenization) instead of building it again. Outside a search worker (the CLI, tests, the
benchmarks' in-process runs) nothing is enabled and every call builds afresh, so a file changed
between two calls is always read again there.

Everything remembered must be read-only for its users: the teacher is never trained by a trial
(the student is a deep copy), the task's splits and encoded splits are only read.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

__all__ = ["clear", "enable", "enabled", "encoded", "remember", "stats"]

T = TypeVar("T")

_ENABLED = False
_MEMO: dict[Hashable, tuple[Any, tuple[Any, ...]]] = {}
_STATS = {"hits": 0, "builds": 0}


def enable(on: bool = True) -> None:
    """Turn the memo on (a search worker) or off (and forget what it held)."""
    global _ENABLED
    _ENABLED = on
    if not on:
        clear()


def enabled() -> bool:
    """Whether this process keeps things between trials."""
    return _ENABLED


def clear() -> None:
    """Forget everything remembered (counters too)."""
    _MEMO.clear()
    _STATS.update(hits=0, builds=0)


def remember(key: Hashable, build: Callable[[], T], *keep: Any) -> T:
    """``build()``'s value, built once per ``key`` in this process while enabled.

    ``keep`` are objects whose ``id`` is part of ``key``: they are held with the value so that
    the ids cannot be reused by other objects while the entry lives.
    """
    if not _ENABLED:
        return build()
    if key in _MEMO:
        _STATS["hits"] += 1
        return _MEMO[key][0]
    value = build()
    _STATS["builds"] += 1
    _MEMO[key] = (value, keep)
    return value


def stats() -> dict[str, int]:
    """``hits`` and ``builds`` since the last :func:`clear` (the trials' ``timings`` record them)."""
    return dict(_STATS)


def encoded(examples: Any, tokenizer: Any, max_length: int) -> Any:
    """``ladasearch.tasks.encode``, once per split, tokenizer and length while enabled."""
    from ladasearch.tasks import encode

    key = ("encode", id(examples), id(tokenizer), max_length)
    return remember(key, lambda: encode(examples, tokenizer, max_length), examples, tokenizer)
