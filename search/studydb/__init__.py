"""The study database: the one home of everything that opens, reads or resolves it.

- :mod:`~ladasearch.search.studydb.urls`: the URL (``--storage``, ``$LADASEARCH_STORAGE``, the
  local SQLite file), kept password-free; the SQLite file of a URL; redaction for messages;
- :mod:`~ladasearch.search.studydb.connect`: :func:`open_storage`, Optuna's ``RDBStorage`` opened
  with one-line errors, never creating a missing SQLite file for a reader, schema creation
  serialized across workers; heartbeats for trials;
- :mod:`~ladasearch.search.studydb.records`: studies and trials as plain frozen records
  (:class:`StudyRecord`, :class:`TrialRecord`) and the loaders that read them, plus
  :func:`optuna_study` for code that needs Optuna's own ``Study`` (best trials, figures).

Nothing is imported eagerly here: records need no Optuna until a database is read.
"""

from __future__ import annotations

__all__: list[str] = []
