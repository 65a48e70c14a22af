"""The one place that turns a study's settings into the engine's training and teacher settings.

A study file's ``trial:`` section (:class:`TrialSettings`) becomes the engine's
:class:`~ladasearch.compression.schedule.TrainingSettings` by :func:`training_settings` (every
field of the section carried over by name, so none can be forgotten), and its ``teacher:``
section (:class:`TeacherSettings`) the teacher's
:class:`~ladasearch.compression.teacher.TeacherConfig` by :func:`teacher_config`. The CLI's
``compress``, every trial, the search driver, export's retraining and the benchmarks build
them here. :func:`stored_settings` reads back what a search stored on its study, validated as
a study file is (a bad stored value is one line naming the key, never a silent default).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from ladasearch.errors import StudyFileError
from ladasearch.search.study_sections import TeacherSettings, TrialSettings, parse_sections

if TYPE_CHECKING:
    from ladasearch.compression.schedule import TrainingSettings
    from ladasearch.compression.teacher import TeacherConfig
    from ladasearch.search.studydb.records import StudyRecord

__all__ = [
    "StoredSettings",
    "stored_settings",
    "teacher_config",
    "training_settings",
    "trial_settings_of",
]


def trial_settings_of(point: Mapping[str, Any], trial: TrialSettings) -> TrialSettings:
    """One trial's settings: the study's ``trial``, with what the study searched and ``point``
    (the trial's config, params or user attributes) holds: its ``factorization``."""
    method = point.get("factorization")
    return trial if method is None else dataclasses.replace(trial, factorization=str(method))


def training_settings(trial: TrialSettings, **engine: Any) -> TrainingSettings:
    """The engine's settings of one run trained as ``trial`` says.

    ``engine`` sets what a study file does not hold (``loss_weights``, ``objective``,
    ``eval_every``, ``teacher_cache_mb``); it cannot override a ``trial`` field.
    """
    from ladasearch.compression.schedule import TrainingSettings

    values = dataclasses.asdict(trial)
    values.pop("measure_latency")  # what the trial measures after training, not how it trains
    clash = sorted(set(values) & set(engine))
    if clash:
        raise TypeError(f"training_settings: {', '.join(clash)} come from the trial settings")
    return TrainingSettings(**values, **engine)


def teacher_config(
    teacher: TeacherSettings, *, study_seed: int, max_length: int, **extra: Any
) -> TeacherConfig:
    """The teacher's fine-tuning settings: ``teacher``'s, at the trials' ``max_length``.

    Its seed is ``teacher.seed`` when pinned, else ``study_seed``. ``extra`` sets what a study
    file does not hold (``epochs``, ``min_steps``, ``evaluations``...); the same settings give the
    same teacher cache key wherever they are built.
    """
    from ladasearch.compression.teacher import TeacherConfig

    return TeacherConfig(
        steps=teacher.steps,
        batch_size=teacher.batch_size,
        learning_rate=teacher.learning_rate,
        max_length=max_length,
        seed=teacher.seed_for(study_seed),
        balance_classes=teacher.balance_classes,
        **extra,
    )


@dataclass(frozen=True)
class StoredSettings:
    """What a search stored on its study, validated: enough to retrain one of its trials."""

    model: str
    task: Any  # the task name, or the stored TaskSpec dict
    seed: int
    runs_dir: str
    trial: TrialSettings
    teacher: TeacherSettings
    raw: Mapping[str, Any]  # the stored mapping itself (written into an export's config)

    def training(self, point: Mapping[str, Any] | None = None, **engine: Any) -> TrainingSettings:
        """:func:`training_settings` of the stored ``trial:`` section, as the trial whose
        params or user attributes are ``point`` trained (a searched factorization)."""
        return training_settings(trial_settings_of(point or {}, self.trial), **engine)

    def teacher_config(self, **extra: Any) -> TeacherConfig:
        """:func:`teacher_config` of the stored ``teacher:`` section, as the search built it."""
        return teacher_config(
            self.teacher, study_seed=self.seed, max_length=self.trial.max_length, **extra
        )


def _stored_mapping(study: StudyRecord) -> Mapping[str, Any]:
    """``settings`` (``StudyFile.to_dict()``) when stored, else the stored file's ``study_file``
    text read as YAML; ``{}`` when neither is there (an old or foreign study)."""
    settings = study.user_attrs.get("settings")
    if isinstance(settings, Mapping):
        return settings
    text = study.user_attrs.get("study_file")
    if isinstance(text, str) and text.strip():
        try:
            parsed = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise StudyFileError(f"study {study.name}: its stored study file is not YAML") from exc
        if isinstance(parsed, Mapping):
            return parsed
    return {}


def stored_settings(study: StudyRecord) -> StoredSettings:
    """The settings ``study`` was searched with (defaults where it stored none)."""
    data = _stored_mapping(study)
    source = f"study {study.name}"
    trial, teacher = parse_sections(data, source=source)
    seed = data.get("seed") or 0
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise StudyFileError(f"{source}: seed must be a non-negative integer, got {seed!r}")
    return StoredSettings(
        model=str(study.user_attrs.get("model") or data.get("model") or "minilm"),
        task=study.user_attrs.get("task", data.get("task", "rt")),
        seed=seed,
        runs_dir=str(data.get("runs_dir") or "runs"),
        trial=trial,
        teacher=teacher,
        raw=dict(data),
    )
