"""Optuna's ``RDBStorage`` on the study database, opened race-safely with one-line errors.

A database that cannot be reached becomes a one-line :class:`~ladasearch.errors.StorageError`,
never a SQLAlchemy traceback; a reader never creates a missing SQLite file.

Many workers: schema creation (Optuna's ``create_all`` + alembic stamp) is serialized, with a
PostgreSQL advisory lock or a lock file beside the SQLite database, so that workers started at
the same instant on a fresh database all run.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
from filelock import FileLock
from optuna.storages import RDBStorage
from sqlalchemy.engine import make_url

from ladasearch.errors import StorageError
from ladasearch.search.studydb.urls import (
    connect_args,
    public_url,
    redact,
    resolve_storage_url,
    sqlite_path,
)

__all__ = ["GRACE_SECONDS", "HEARTBEAT_SECONDS", "open_storage"]

HEARTBEAT_SECONDS = 5
"""Optuna's trial heartbeat interval (``RDBStorage(heartbeat_interval=...)``)."""
GRACE_SECONDS = 30
"""A RUNNING trial whose heartbeat is older than this is stale (``grace_period``)."""
_SCHEMA_LOCK = 0x1ADA5EA2  # PostgreSQL advisory lock key of the schema creation


@contextlib.contextmanager
def _schema_lock(url: str) -> Iterator[None]:
    """Hold the lock that serializes Optuna's schema creation on this database."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:":
            yield
            return
        with FileLock(Path(database).with_name(Path(database).name + ".lock")):
            yield
        return
    if parsed.get_backend_name() != "postgresql":
        yield
        return
    import sqlalchemy

    engine = sqlalchemy.create_engine(url, connect_args=connect_args(url))
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text(f"SELECT pg_advisory_lock({_SCHEMA_LOCK})"))
            try:
                yield
            finally:
                connection.execute(sqlalchemy.text(f"SELECT pg_advisory_unlock({_SCHEMA_LOCK})"))
    finally:
        engine.dispose()


def open_storage(
    url: str | None = None, *, existing: bool = False, heartbeat: bool = False
) -> RDBStorage:
    """Open (and, unless ``existing``, create the tables of) the Optuna storage at ``url``.

    ``url`` is resolved as :func:`~ladasearch.search.studydb.urls.resolve_storage_url` does
    (``None``: ``$LADASEARCH_STORAGE``, else the local SQLite file) and its password moves to the
    environment (:func:`~ladasearch.search.studydb.urls.public_url`). ``existing=True`` is for readers (``show``, ``studies``, ``export``, the dashboard): a SQLite
    file that does not exist is refused in one line instead of being created. ``heartbeat``
    turns on Optuna's trial heartbeat (``HEARTBEAT_SECONDS``, ``GRACE_SECONDS``).

    Raises :class:`StorageError` with one line when the driver is missing, the server is down or
    the credentials are refused.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("sqlalchemy").setLevel(logging.ERROR)
    url = public_url(resolve_storage_url(url))
    try:
        path = sqlite_path(url)
    except Exception as exc:
        raise StorageError(f"storage {redact(url)!r} is not a SQLAlchemy URL: {exc}") from exc
    if existing and path is not None and not path.is_file():
        raise StorageError(
            f"no study database at {path} (run `ladasearch search` first, or pass --storage URL)"
        )
    if path is not None and not path.parent.is_dir():
        raise StorageError(f"cannot open the study database {url}: folder {path.parent} missing")
    kwargs: dict[str, Any] = {"connect_args": connect_args(url)}
    if not url.startswith("sqlite"):
        kwargs["pool_pre_ping"] = True
    beats: dict[str, Any] = {}
    if heartbeat:
        beats = {"heartbeat_interval": HEARTBEAT_SECONDS, "grace_period": GRACE_SECONDS}
    try:
        with _schema_lock(url), _quiet_experimental():
            return RDBStorage(url, engine_kwargs=kwargs, skip_compatibility_check=False, **beats)
    except ImportError as exc:
        raise StorageError(
            f"storage {redact(url)}: database driver missing ({exc.name or exc})"
        ) from exc
    except Exception as exc:  # SQLAlchemy's OperationalError, ArgumentError, psycopg errors...
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        reason = first[0] if first else type(exc).__name__
        raise StorageError(f"cannot open the study database {redact(url)}: {reason}") from exc


@contextlib.contextmanager
def _quiet_experimental() -> Iterator[None]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield
