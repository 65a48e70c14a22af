"""Where studies live: the study database URL resolved once, its password kept out of it.

Resolution order: ``--storage URL``, then the ``LADASEARCH_STORAGE`` variable, then
``sqlite:///ladasearch.db`` in the current folder.

Secrets: :func:`public_url` strips the password from a URL and keeps it in this process's
environment (``PGPASSWORD`` for PostgreSQL, which libpq reads itself; ``LADASEARCH_STORAGE_PASSWORD``
for other drivers), so the URL that is passed to Ray, pickled into Tune's state or written under
the run folder never holds it. :func:`connect_args` puts the password back at connect time only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from ladasearch.errors import StorageError

__all__ = [
    "DEFAULT_STORAGE",
    "ENV_VAR",
    "PASSWORD_ENV",
    "connect_args",
    "public_url",
    "redact",
    "resolve_storage_url",
    "sqlite_path",
]

ENV_VAR = "LADASEARCH_STORAGE"
PASSWORD_ENV = "LADASEARCH_STORAGE_PASSWORD"
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


def public_url(url: str) -> str:
    """``url`` without its password; the password moves to this process's environment.

    PostgreSQL URLs set ``PGPASSWORD`` (replacing one already there), which psycopg reads when
    it connects; other drivers get ``LADASEARCH_STORAGE_PASSWORD``, which :func:`connect_args`
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


def connect_args(url: str) -> dict[str, Any]:
    """The driver's connect arguments: the password kept out of the URL, a SQLite timeout."""
    if url.startswith("sqlite"):
        return {"timeout": 60}
    parsed = make_url(url)
    password = os.environ.get(PASSWORD_ENV)
    if parsed.password is None and password and parsed.get_backend_name() != "postgresql":
        return {"password": password}
    return {}


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (``None`` for other databases and in-memory SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database))
