"""A study file's ``trial:``, ``teacher:`` and ``resources:`` sections: their settings and
their parsers (shared by the study file and by export, which reads back what a search stored)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ladasearch.search.study_yaml import Reader

__all__ = [
    "FACTORIZATIONS",
    "SCHEDULES",
    "Resources",
    "TeacherSettings",
    "TrialSettings",
    "flag",
    "parse_sections",
    "searched_factorizations",
    "teacher_settings",
    "trial_settings",
]

# The engine's choices (compression.factorize.FACTORIZATIONS, compression.schedule.SCHEDULES),
# repeated here so that reading a study file does not import torch.
FACTORIZATIONS = ("svd", "fisher", "whiten")
SCHEDULES = ("geometric", "linear")


@dataclass(frozen=True)
class TrialSettings:
    """How one trial (one engine run) trains."""

    iterations: int = 2
    steps: int = 40
    batch_size: int = 32
    learning_rate: float = 5e-5
    max_length: int = 64
    temperature: float = 1.0
    factorization: str = "whiten"  # svd, fisher or whiten (ladasearch.compression.factorize)
    schedule: str = "geometric"  # geometric or linear (the old schedule)
    layer_average: bool = True  # distillation recipe, see TrainingSettings
    temperature_squared: bool = True
    label_weight: float = 0.0
    decay_norm_and_bias: bool = False
    measure_latency: bool = True  # false: no latency timing (not with a latency objective/bound)


@dataclass(frozen=True)
class TeacherSettings:
    """How the study's teacher is fine-tuned (trained once per study, cached on disk)."""

    steps: int | None = None  # None: the default epoch-based schedule (TeacherConfig)
    batch_size: int = 32
    learning_rate: float = 5e-5
    seed: int | None = None  # None: the study's seed; pin it to share one teacher across seeds
    allow_weak: bool = False  # search even when the teacher is not above the majority class
    balance_classes: bool = False  # class-balanced fine-tuning loss (TeacherConfig)

    def seed_for(self, study_seed: int) -> int:
        """The teacher's seed in a study seeded ``study_seed``: ``seed`` when pinned."""
        return study_seed if self.seed is None else self.seed


@dataclass(frozen=True)
class Resources:
    """Ray resources of one trial; ``gpu`` > 0 asks Ray for that many GPUs."""

    cpu: float = 1.0
    gpu: float = 0.0


def trial_settings(trial: Reader) -> TrialSettings:
    """The validated ``trial:`` section (a searched factorization list gives its first item)."""
    return TrialSettings(
        iterations=trial.integer("iterations", TrialSettings.iterations),
        steps=trial.integer("steps", TrialSettings.steps),
        batch_size=trial.integer("batch_size", TrialSettings.batch_size),
        learning_rate=trial.number("learning_rate", TrialSettings.learning_rate),
        max_length=trial.integer("max_length", TrialSettings.max_length),
        temperature=trial.number("temperature", TrialSettings.temperature),
        factorization=_fixed_factorization(trial),
        schedule=trial.choice("schedule", TrialSettings.schedule, SCHEDULES),
        layer_average=trial.flag("layer_average", TrialSettings.layer_average),
        temperature_squared=trial.flag("temperature_squared", TrialSettings.temperature_squared),
        label_weight=trial.number("label_weight", TrialSettings.label_weight, allow_zero=True),
        decay_norm_and_bias=trial.flag("decay_norm_and_bias", TrialSettings.decay_norm_and_bias),
        measure_latency=trial.flag("measure_latency", TrialSettings.measure_latency),
    )


def searched_factorizations(trial: Reader) -> tuple[str, ...]:
    """``trial.factorization`` given as a list: the choices a study searches (a categorical
    parameter ``factorization``); () when it is one value."""
    value = trial.get("factorization")
    if not isinstance(value, list):
        return ()
    for item in value:
        if item not in FACTORIZATIONS:
            raise trial.fail(
                "factorization", f"items must be among {', '.join(FACTORIZATIONS)}, got {item!r}"
            )
    if len(set(value)) != len(value) or len(value) < 2:
        raise trial.fail(
            "factorization", f"a searched list needs 2 or more distinct methods, got {value!r}"
        )
    return tuple(value)


def _fixed_factorization(trial: Reader) -> str:
    """The factorization of a trial that is not told one: the value, or a list's first item."""
    searched = searched_factorizations(trial)
    if searched:
        return searched[0]
    return trial.choice("factorization", TrialSettings.factorization, FACTORIZATIONS)


def teacher_settings(teacher: Reader) -> TeacherSettings:
    """The validated ``teacher:`` section."""
    return TeacherSettings(
        steps=None if teacher.data.get("steps") is None else teacher.integer("steps", 300),
        batch_size=teacher.integer("batch_size", TeacherSettings.batch_size),
        learning_rate=teacher.number("learning_rate", TeacherSettings.learning_rate),
        seed=None if teacher.data.get("seed") is None else teacher.integer("seed", 0, minimum=0),
        allow_weak=flag(teacher, "allow_weak"),
        balance_classes=flag(teacher, "balance_classes"),
    )


def parse_sections(
    data: Mapping[str, Any], *, source: str
) -> tuple[TrialSettings, TeacherSettings]:
    """The ``trial:`` and ``teacher:`` sections of ``data`` (a study file's mapping, or the
    settings a search stored), validated as a study file's are; errors name ``source: key``."""
    top = Reader(data, source)
    trial = top.section("trial", tuple(f.name for f in dataclasses.fields(TrialSettings)))
    teacher = top.section("teacher", tuple(f.name for f in dataclasses.fields(TeacherSettings)))
    return trial_settings(trial), teacher_settings(teacher)


def flag(reader: Reader, key: str) -> bool:
    """``key`` as true / false (default false); anything else is refused naming the key."""
    value = reader.get(key, False)
    if not isinstance(value, bool):
        raise reader.fail(key, f"must be true or false, got {value!r}")
    return value
