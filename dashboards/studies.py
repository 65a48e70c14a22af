"""Load the trials of one or several studies from an Optuna storage into plain records.

Everything downstream (the front, the figures, export) works on :class:`StudyRecord` and
:class:`TrialRecord`: frozen dataclasses holding only builtins, so the numbers can be tested
without a database and the database is read once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ladasearch.errors import StorageError

if TYPE_CHECKING:
    from optuna.storages import BaseStorage
    from optuna.trial import FrozenTrial

__all__ = [
    "StudyRecord",
    "TrialRecord",
    "list_study_names",
    "load_studies",
    "load_study",
    "open_storage",
    "resolve_storage_url",
    "sqlite_path",
    "study_record_from_trials",
    "trial_record",
]

RATIO_KEYS = ("p_embd", "p_svd", "p_weight")


def _number(value: Any) -> float | None:
    """``value`` as a finite float, or ``None`` (missing, text, NaN or infinite)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class TrialRecord:
    """One trial: its Optuna state and number, its sampled params and its metric user attributes."""

    study: str
    number: int
    trial_id: int
    state: str  # COMPLETE, PRUNED, FAIL, RUNNING, WAITING
    params: Mapping[str, Any] = field(default_factory=dict)
    user_attrs: Mapping[str, Any] = field(default_factory=dict)
    values: tuple[float, ...] | None = None
    constraints: Mapping[str, float] = field(default_factory=dict)  # Optuna's; > 0 violated

    def metric(self, key: str) -> float | None:
        """A numeric metric user attribute (``accuracy``, ``params``, ``latency_ms``...)."""
        return _number(self.user_attrs.get(key))

    @property
    def accuracy(self) -> float | None:
        """Dev accuracy."""
        return self.metric("accuracy")

    @property
    def nonzero_params(self) -> float | None:
        """Nonzero parameters of the compressed student (the ``params`` metric)."""
        return self.metric("params")

    @property
    def latency_ms(self) -> float | None:
        """Median batch-1 latency in milliseconds, when measured."""
        return self.metric("latency_ms")

    @property
    def fail_reason(self) -> str | None:
        """Why the trial failed or was infeasible, when it says."""
        reason = self.user_attrs.get("fail_reason")
        return str(reason) if reason else None

    def ratio(self, key: str) -> float | None:
        """``p_embd`` / ``p_svd`` / ``p_weight``: the user attribute, else the sampled param."""
        value = self.metric(key)
        return value if value is not None else _number(self.params.get(key))

    @property
    def infeasible(self) -> bool:
        """A constraint violated (``target_latency_ms``): never on a front, never exported."""
        return any(value > 0 for value in self.constraints.values()) or bool(
            self.user_attrs.get("infeasible")
        )

    @property
    def finished(self) -> bool:
        """COMPLETE, feasible, not marked failed, with a dev accuracy and a parameter count."""
        return (
            self.state == "COMPLETE"
            and not self.infeasible
            and self.fail_reason is None
            and self.accuracy is not None
            and self.nonzero_params is not None
        )


@dataclass(frozen=True)
class StudyRecord:
    """One study: its name, user attributes (mode, model, task, teacher metrics...) and trials."""

    name: str
    user_attrs: Mapping[str, Any] = field(default_factory=dict)
    trials: tuple[TrialRecord, ...] = ()
    directions: tuple[str, ...] = ()
    storage_url: str | None = None

    def _teacher_metric(self, key: str) -> float | None:
        value = _number(self.user_attrs.get(key))
        if value is not None:
            return value
        for trial in self.trials:  # compress_job also stores teacher metrics on each trial
            value = trial.metric(key)
            if value is not None:
                return value
        return None

    @property
    def teacher_accuracy(self) -> float | None:
        """Dev accuracy of the fine-tuned teacher."""
        return self._teacher_metric("teacher_accuracy")

    @property
    def teacher_test_accuracy(self) -> float | None:
        """Test accuracy of the fine-tuned teacher."""
        return self._teacher_metric("teacher_test_accuracy")

    @property
    def teacher_params(self) -> float | None:
        """Parameters of the uncompressed model."""
        return self._teacher_metric("teacher_params")

    @property
    def teacher_latency_ms(self) -> float | None:
        """Median batch-1 latency of the teacher, when measured."""
        return self._teacher_metric("teacher_latency_ms")

    def trial(self, number: int) -> TrialRecord:
        """The trial numbered ``number``; a one-line :class:`StorageError` when there is none."""
        for trial in self.trials:
            if trial.number == number:
                return trial
        numbers = [t.number for t in self.trials]
        known = f"trials {min(numbers)}..{max(numbers)}" if numbers else "no trials"
        raise StorageError(f"study {self.name!r} has no trial {number} (it has {known})")


def trial_record(study: str, trial: FrozenTrial) -> TrialRecord:
    """Convert an Optuna ``FrozenTrial`` to a :class:`TrialRecord`."""
    values = tuple(float(v) for v in trial.values) if trial.values is not None else None
    return TrialRecord(
        study=study,
        number=trial.number,
        trial_id=trial._trial_id,
        state=trial.state.name,
        params=dict(trial.params),
        user_attrs=dict(trial.user_attrs),
        values=values,
        constraints={str(k): float(v) for k, v in trial.constraints.items()},
    )


def study_record_from_trials(
    name: str,
    trials: Sequence[FrozenTrial],
    user_attrs: Mapping[str, Any] | None = None,
    directions: Sequence[str] = (),
    storage_url: str | None = None,
) -> StudyRecord:
    """Build a :class:`StudyRecord` from Optuna trials (used by the loader and by tests)."""
    return StudyRecord(
        name=name,
        user_attrs=dict(user_attrs or {}),
        trials=tuple(trial_record(name, t) for t in trials),
        directions=tuple(directions),
        storage_url=storage_url,
    )


def resolve_storage_url(url: str | None = None) -> str:
    """``--storage`` if given, else ``$LADASEARCH_STORAGE``, else ``sqlite:///ladasearch.db``."""
    from ladasearch.search.storage import resolve_storage_url as resolve

    return resolve(url)


def sqlite_path(url: str) -> Path | None:
    """The database file of a ``sqlite:///PATH`` URL, ``None`` for other URLs or in-memory."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url in ("sqlite://", "sqlite:///:memory:"):
        return None
    return Path(url[len(prefix) :].split("?", 1)[0])


def open_storage(url: str | None = None, *, must_exist: bool = True) -> BaseStorage:
    """Open the study database at ``url`` (resolved as :func:`resolve_storage_url` does).

    With ``must_exist``, a SQLite file that is not there is an error instead of a new empty
    database. Connection problems become one-line :class:`StorageError` (search's storage rule).
    """
    from ladasearch.search.storage import open_storage as search_open_storage
    from ladasearch.search.storage import public_url

    resolved = public_url(resolve_storage_url(url))
    path = sqlite_path(resolved)
    if must_exist and path is not None and not path.is_file():
        raise StorageError(
            f"no study database at {path} (run `ladasearch search` first, or pass --storage URL)"
        )
    return search_open_storage(resolved, existing=must_exist)


def list_study_names(storage: BaseStorage) -> list[str]:
    """Names of every study in ``storage``, sorted."""
    return sorted(s.study_name for s in storage.get_all_studies())


def load_study(name: str, storage: BaseStorage) -> StudyRecord:
    """Load one study; a missing one is a :class:`StorageError` naming the studies that exist."""
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        names = list_study_names(storage)
        known = ", ".join(names) if names else "none"
        raise StorageError(f"no study named {name!r} in the database (studies: {known})") from None
    trials = storage.get_all_trials(study_id, deepcopy=False)
    directions = tuple(d.name.lower() for d in storage.get_study_directions(study_id))
    url = getattr(storage, "url", None)
    return study_record_from_trials(
        name,
        trials,
        user_attrs=storage.get_study_user_attrs(study_id),
        directions=directions,
        storage_url=str(url) if url is not None else None,
    )


def load_studies(names: Sequence[str], url: str | None = None) -> list[StudyRecord]:
    """Load several studies from one database (``url`` resolved as the CLI does)."""
    storage = open_storage(url)
    return [load_study(name, storage) for name in names]
