"""Read studies and trials from the study database into plain records.

Everything downstream (``show``, the front, the figures, export) works on :class:`StudyRecord` and
:class:`TrialRecord`: frozen dataclasses holding only builtins, so the numbers can be tested
without a database and the database is read once. :func:`optuna_study` is for the few readers
that need Optuna's own ``Study`` (best trials of ``studies``, the dashboard's figures).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ladasearch.compression.ratios import RATIO_KEYS, Ratios
from ladasearch.errors import StorageError

if TYPE_CHECKING:
    import optuna
    from optuna.storages import BaseStorage
    from optuna.trial import FrozenTrial

__all__ = [
    "StudyRecord",
    "TrialRecord",
    "list_study_names",
    "load_studies",
    "load_study",
    "optuna_study",
    "study_names",
    "trial_record",
]



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

    def ratios(self) -> Ratios | None:
        """The trial's :class:`Ratios` (each by :meth:`ratio`), or ``None`` when one is missing."""
        values = {key: self.ratio(key) for key in RATIO_KEYS}
        return None if None in values.values() else Ratios.from_mapping(values)

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


def trial_record(study: str, trial: FrozenTrial, trial_id: int) -> TrialRecord:
    """Convert an Optuna ``FrozenTrial`` (whose storage id is ``trial_id``) to a :class:`TrialRecord`."""
    values = tuple(float(v) for v in trial.values) if trial.values is not None else None
    return TrialRecord(
        study=study,
        number=trial.number,
        trial_id=trial_id,
        state=trial.state.name,
        params=dict(trial.params),
        user_attrs=dict(trial.user_attrs),
        values=values,
        constraints={str(k): float(v) for k, v in trial.constraints.items()},
    )


def study_names(storage: BaseStorage) -> list[str]:
    """Names of every study in ``storage``, in the order they were created."""
    return [s.study_name for s in storage.get_all_studies()]


def list_study_names(storage: BaseStorage) -> list[str]:
    """Names of every study in ``storage``, sorted."""
    return sorted(study_names(storage))


def _study_id(name: str, storage: BaseStorage) -> int:
    """The study's id; a missing study is a :class:`StorageError` naming the studies that exist."""
    try:
        return storage.get_study_id_from_name(name)
    except KeyError:
        names = list_study_names(storage)
        known = ", ".join(names) if names else "none"
        raise StorageError(f"no study named {name!r} in the database (studies: {known})") from None


def load_study(name: str, storage: BaseStorage) -> StudyRecord:
    """Load one study; a missing one is a :class:`StorageError` naming the studies that exist."""
    study_id = _study_id(name, storage)
    trials = storage.get_all_trials(study_id, deepcopy=False)
    url = getattr(storage, "url", None)
    return StudyRecord(
        name=name,
        user_attrs=dict(storage.get_study_user_attrs(study_id)),
        trials=tuple(
            trial_record(
                name, t, storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
            )
            for t in trials
        ),
        directions=tuple(d.name.lower() for d in storage.get_study_directions(study_id)),
        storage_url=str(url) if url is not None else None,
    )


def load_studies(names: Sequence[str], url: str | None = None) -> list[StudyRecord]:
    """Load several studies from one database (``url`` resolved as the CLI does)."""
    from ladasearch.search.studydb.connect import open_storage

    storage = open_storage(url, existing=True)
    return [load_study(name, storage) for name in names]


def optuna_study(name: str, storage: BaseStorage) -> optuna.Study:
    """Optuna's ``Study`` named ``name``; a missing one is a one-line :class:`StorageError`."""
    import optuna

    _study_id(name, storage)  # a missing study: the one-line error
    return optuna.load_study(study_name=name, storage=storage)
