"""Where studies live: SQLAlchemy URLs resolved once, Optuna's ``RDBStorage`` opened race-safely.

Resolution order: ``--storage URL``, then the ``LADASEARCH_STORAGE`` variable, then
``sqlite:///ladasearch.db`` in the current folder. A database that cannot be reached becomes a
one-line :class:`~ladasearch.errors.StorageError`, never a SQLAlchemy traceback.

Secrets: :func:`public_url` strips the password from a URL and keeps it in this process's
environment (``PGPASSWORD`` for PostgreSQL, which libpq reads itself; ``LADASEARCH_STORAGE_PASSWORD``
for other drivers), so the URL that is passed to Ray, pickled into Tune's state or written under
the run folder never holds it. :func:`open_storage` puts the password back at connect time only.

Many workers: schema creation (Optuna's ``create_all`` + alembic stamp) is serialized, with a
PostgreSQL advisory lock or a lock file beside the SQLite database, so that workers started at
the same instant on a fresh database all run.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import RDBStorage
from sqlalchemy.engine import make_url

from ladasearch.errors import StorageError

__all__ = [
    "DEFAULT_STORAGE",
    "ENV_VAR",
    "GRACE_SECONDS",
    "HEARTBEAT_SECONDS",
    "PASSWORD_ENV",
    "open_storage",
    "public_url",
    "redact",
    "resolve_storage_url",
]

ENV_VAR = "LADASEARCH_STORAGE"
PASSWORD_ENV = "LADASEARCH_STORAGE_PASSWORD"
DEFAULT_STORAGE = "sqlite:///ladasearch.db"
HEARTBEAT_SECONDS = 5
"""Optuna's trial heartbeat interval (``RDBStorage(heartbeat_interval=...)``)."""
GRACE_SECONDS = 30
"""A RUNNING trial whose heartbeat is older than this is stale (``grace_period``)."""
_SCHEMA_LOCK = 0x1ADA5EA2  # PostgreSQL advisory lock key of the schema creation


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


def public_url(url: str) -> str:
    """``url`` without its password; the password moves to this process's environment.

    PostgreSQL URLs set ``PGPASSWORD`` (replacing one already there), which psycopg reads when
    it connects; other drivers get ``LADASEARCH_STORAGE_PASSWORD``, which :func:`open_storage`
    passes to the driver. Child processes (a local Ray's workers) inherit the environment.
    """
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise StorageError(f"storage {redact(url)!r} is not a SQLAlchemy URL: {exc}") from exc
    if parsed.password is None:
        return url
    password = str(parsed.password)
    if parsed.get_backend_name() == "postgresql":
        os.environ["PGPASSWORD"] = password  # the URL given wins over an older variable
    else:
        os.environ[PASSWORD_ENV] = password
    # URL.set() takes None as "unchanged"; the NamedTuple copy drops the password
    return parsed._replace(password=None).render_as_string(hide_password=False)


def _connect_args(url: str) -> dict[str, Any]:
    """The driver's connect arguments: the password kept out of the URL, a SQLite timeout."""
    if url.startswith("sqlite"):
        return {"timeout": 60}
    parsed = make_url(url)
    password = os.environ.get(PASSWORD_ENV)
    if parsed.password is None and password and parsed.get_backend_name() != "postgresql":
        return {"password": password}
    return {}


@contextlib.contextmanager
def _schema_lock(url: str) -> Iterator[None]:
    """Hold the lock that serializes Optuna's schema creation on this database."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if not database or database == ":memory:":
            yield
            return
        lock = Path(database).with_name(Path(database).name + ".lock")
        with open(lock, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    if parsed.get_backend_name() != "postgresql":
        yield
        return
    import sqlalchemy

    engine = sqlalchemy.create_engine(url, connect_args=_connect_args(url))
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text(f"SELECT pg_advisory_lock({_SCHEMA_LOCK})"))
            try:
                yield
            finally:
                connection.execute(sqlalchemy.text(f"SELECT pg_advisory_unlock({_SCHEMA_LOCK})"))
    finally:
        engine.dispose()


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (``None`` for other databases and in-memory SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database))


def open_storage(url: str, *, existing: bool = False, heartbeat: bool = False) -> RDBStorage:
    """Open (and, unless ``existing``, create the tables of) the Optuna storage at ``url``.

    ``existing=True`` is for readers (``show``, ``studies``, ``export``, the dashboard): a SQLite
    file that does not exist is refused in one line instead of being created. ``heartbeat``
    turns on Optuna's trial heartbeat (``HEARTBEAT_SECONDS``, ``GRACE_SECONDS``).

    Raises :class:`StorageError` with one line when the driver is missing, the server is down or
    the credentials are refused.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("sqlalchemy").setLevel(logging.ERROR)
    try:
        path = sqlite_path(url)
    except Exception as exc:
        raise StorageError(f"storage {redact(url)!r} is not a SQLAlchemy URL: {exc}") from exc
    if existing and path is not None and not path.is_file():
        raise StorageError(f"no study database at {path} (check the --storage path)")
    if path is not None and not path.parent.is_dir():
        raise StorageError(f"cannot open the study database {url}: folder {path.parent} missing")
    kwargs: dict[str, Any] = {"connect_args": _connect_args(url)}
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
