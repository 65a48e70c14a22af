"""One search worker process, many trials: what it opens once and keeps.

Ray Tune reuses a trial's actor for the next trial of the study (``reuse_actors``, turned off
by ``LADASEARCH_REUSE_ACTORS=0``), so one worker process runs trial after trial. It opens the
study database once (:func:`worker_storage`: one ``RDBStorage``, one SQLAlchemy connection pool,
per storage URL and process) and keeps the cached teacher, the task, its tokenization and the
factorization statistics between trials (:func:`prepare_worker` turns on
:mod:`ladasearch.compression.process_memo`; the teacher's outputs were already shared per
process by ``teacher_outputs.shared_cache``).
"""

from __future__ import annotations

import os
import threading

from optuna.storages import RDBStorage

__all__ = ["REUSE_ENV", "prepare_worker", "reuse_actors", "worker_storage"]

REUSE_ENV = "LADASEARCH_REUSE_ACTORS"
"""``0`` turns actor reuse off (one fresh worker process per trial, the old behaviour)."""

_STORAGES: dict[str, RDBStorage] = {}
_LOCK = threading.Lock()


def reuse_actors() -> bool:
    """Whether Tune should reuse trial actors (default yes; ``LADASEARCH_REUSE_ACTORS=0``: no)."""
    return os.environ.get(REUSE_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def prepare_worker() -> None:
    """Called by each trial in its worker process: keep what later trials can reuse."""
    from ladasearch.compression import process_memo

    if not process_memo.enabled():
        process_memo.enable()


def worker_storage(url: str) -> RDBStorage:
    """The study database of ``url`` for this process, opened (with heartbeats) once."""
    from ladasearch.search.studydb.connect import open_storage

    with _LOCK:
        if url not in _STORAGES:
            _STORAGES[url] = open_storage(url, heartbeat=True)
        return _STORAGES[url]
