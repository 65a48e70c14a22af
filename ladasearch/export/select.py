"""Which trial an export takes: ``--trial N`` or the best one under the constraints (pure)."""

from __future__ import annotations

from ladasearch.errors import LadaError
from ladasearch.search.studydb.records import StudyRecord, TrialRecord

__all__ = ["NothingQualifies", "select_trial"]


class NothingQualifies(LadaError):
    """No finished trial meets the export constraints (nothing is written)."""


def _describe(min_accuracy: float | None, max_params: float | None) -> str:
    parts = []
    if max_params is not None:
        parts.append(f"params <= {max_params:,.0f}")
    if min_accuracy is not None:
        parts.append(f"accuracy >= {min_accuracy:g}")
    return " and ".join(parts) if parts else "no constraint"


def select_trial(
    study: StudyRecord,
    *,
    number: int | None = None,
    min_accuracy: float | None = None,
    max_params: float | None = None,
) -> TrialRecord:
    """The trial to export.

    With ``number``: that trial, which must be finished and meet the constraints given.
    Without it (``--best``): among finished (COMPLETE, with metrics, not failed) trials meeting
    ``max_params`` and ``min_accuracy``, the most accurate one (fewer params break ties); when
    only ``min_accuracy`` is given, the smallest one (higher accuracy breaks ties).
    Raises :class:`NothingQualifies` (or ``StorageError`` for a missing trial number).
    """

    def meets(trial: TrialRecord) -> bool:
        accuracy, params = trial.accuracy, trial.nonzero_params
        if accuracy is None or params is None:
            return False
        if max_params is not None and params > max_params:
            return False
        return min_accuracy is None or accuracy >= min_accuracy

    if number is not None:
        trial = study.trial(number)
        if not trial.finished:
            why = f": {trial.fail_reason}" if trial.fail_reason else ""
            if trial.infeasible and not why:
                why = f" but {trial.user_attrs.get('infeasible') or 'infeasible'}"
            raise NothingQualifies(
                f"trial {number} of study {study.name!r} is {trial.state}{why}; "
                "only finished (feasible) trials with metrics can be exported"
            )
        if not meets(trial):
            raise NothingQualifies(
                f"trial {number} of study {study.name!r} does not meet "
                f"{_describe(min_accuracy, max_params)}; nothing exported"
            )
        return trial
    finished = [t for t in study.trials if t.finished]
    if not finished:
        raise NothingQualifies(f"study {study.name!r} has no finished trial; nothing exported")
    candidates = [t for t in finished if meets(t)]
    if not candidates:
        raise NothingQualifies(
            f"no finished trial of study {study.name!r} has {_describe(min_accuracy, max_params)} "
            f"({len(finished)} finished); nothing exported"
        )

    def most_accurate(t: TrialRecord) -> tuple[float, float, int]:
        return (-(t.accuracy or 0.0), t.nonzero_params or 0.0, t.number)

    def smallest(t: TrialRecord) -> tuple[float, float, int]:
        return (t.nonzero_params or 0.0, -(t.accuracy or 0.0), t.number)

    key = smallest if (min_accuracy is not None and max_params is None) else most_accurate
    return min(candidates, key=key)
