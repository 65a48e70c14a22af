"""Where studies live: SQLAlchemy URLs resolved once, Optuna's ``RDBStorage`` opened once.

Resolution order: ``--storage URL``, then the ``LADASEARCH_STORAGE`` variable, then
``sqlite:///ladasearch.db`` in the current folder. A database that cannot be reached becomes a
one-line :class:`~ladasearch.errors.StorageError`, never a SQLAlchemy traceback.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import optuna
from optuna.storages import RDBStorage

from ladasearch.errors import StorageError

__all__ = [
    "DEFAULT_STORAGE",
    "ENV_VAR",
    "open_storage",
    "redact",
    "resolve_storage_url",
]

ENV_VAR = "LADASEARCH_STORAGE"
DEFAULT_STORAGE = "sqlite:///ladasearch.db"


def resolve_storage_url(url: str | None = None) -> str:
    """The study database URL: ``url``, else ``$LADASEARCH_STORAGE``, else the local SQLite file.

    A relative SQLite path is made absolute against the current folder, so Ray workers (which
    run in other folders) open the same file.
    """
    chosen = url or os.environ.get(ENV_VAR) or DEFAULT_STORAGE
    if "://" not in chosen:
        raise StorageError(
            f"storage {chosen!r} is not a SQLAlchemy URL (e.g. sqlite:///ladasearch.db)"
        )
    prefix = "sqlite:///"
    if (
        chosen.startswith(prefix)
        and not chosen.startswith(prefix + "/")
        and ":memory:" not in chosen
    ):
        chosen = prefix + str(Path.cwd() / chosen[len(prefix) :])
    return chosen


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}" if ":" in credentials else url


def open_storage(url: str, *, heartbeat: bool = False) -> RDBStorage:
    """Open (and create the tables of) the Optuna storage at ``url``.

    Raises :class:`StorageError` with one line when the driver is missing, the server is down or
    the credentials are refused.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("sqlalchemy").setLevel(logging.ERROR)
    kwargs: dict[str, object] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": 60}}
    try:
        return RDBStorage(url, engine_kwargs=kwargs, skip_compatibility_check=False)
    except ImportError as exc:
        raise StorageError(
            f"storage {redact(url)}: database driver missing ({exc.name or exc})"
        ) from exc
    except Exception as exc:  # SQLAlchemy's OperationalError, ArgumentError, psycopg errors...
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        reason = first[0] if first else type(exc).__name__
        raise StorageError(f"cannot open the study database {redact(url)}: {reason}") from exc
