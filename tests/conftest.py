"""Shared fixtures: tiny random BERT-family models and a tiny labelled task, no downloads."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from transformers import BertForSequenceClassification

# One definition of the tiny model and task, shared with the benchmarks' smoke profile.
from ladasearch.testing import make_tiny, tiny_bert_config, tiny_sentences

__all__ = ["tiny_bert_config", "tiny_sentences"]


@pytest.fixture
def tiny_bert() -> BertForSequenceClassification:
    """A freshly initialised tiny BERT classifier (seeded, eval mode)."""
    torch.manual_seed(0)
    return BertForSequenceClassification(tiny_bert_config()).eval()


@pytest.fixture(scope="session")
def _tiny_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_tiny(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def tiny_model_dir(_tiny_files: tuple[Path, Path]) -> Path:
    """A folder holding a tiny BERT classifier and its WordPiece tokenizer, as on the hub."""
    return _tiny_files[0]


@pytest.fixture(scope="session")
def tiny_csv(_tiny_files: tuple[Path, Path]) -> Path:
    """A CSV task (columns ``sentence``, ``sentiment``) of 400 rows with string labels."""
    return _tiny_files[1]


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Tiny models and SVDs run faster on one thread than on a contended pool of two."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


POSTGRES_SERVER = "postgres@127.0.0.1:5432"


@contextlib.contextmanager
def _postgres_database() -> Iterator[str]:
    """A unique, empty database on the real PostgreSQL of DATA.md, dropped afterwards.

    A missing server fails the test (it is part of every developer's and CI's machine); set
    LADASEARCH_SKIP_POSTGRES=1 to skip instead on a machine without one.
    """
    import psycopg

    name = f"ladasearch_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(
            f"postgresql://{POSTGRES_SERVER}/postgres", autocommit=True, connect_timeout=5
        )
    except psycopg.OperationalError as exc:
        if os.environ.get("LADASEARCH_SKIP_POSTGRES") == "1":
            pytest.skip(f"no PostgreSQL server at {POSTGRES_SERVER}: {exc}")
        pytest.fail(
            f"no PostgreSQL server at {POSTGRES_SERVER} (start it, or set LADASEARCH_SKIP_POSTGRES=1): {exc}"
        )
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://{POSTGRES_SERVER}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test (see :func:`_postgres_database`)."""
    with _postgres_database() as url:
        yield url


BACKENDS = ("sqlite", pytest.param("postgresql", marks=pytest.mark.postgres))


@pytest.fixture(params=BACKENDS)
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty study database on each backend: a SQLite file in the test's folder, then a
    database of its own on the real PostgreSQL server (the storage suite runs over both)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'studies.db'}"
        return
    with _postgres_database() as url:
        yield url
