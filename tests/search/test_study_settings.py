"""One place turns a study's settings into training and teacher settings (CLI, trials, export)."""

from __future__ import annotations

import dataclasses

import pytest

from ladasearch.compression.distill import LossWeights
from ladasearch.errors import StudyFileError
from ladasearch.search.study_file import parse_study
from ladasearch.search.study_sections import TeacherSettings, TrialSettings
from ladasearch.search.study_settings import (
    stored_settings,
    teacher_config,
    training_settings,
    trial_settings_of,
)
from ladasearch.search.studydb.records import StudyRecord

CUSTOM = TrialSettings(
    iterations=4,
    steps=7,
    batch_size=8,
    learning_rate=3e-4,
    max_length=48,
    temperature=2.0,
    factorization="svd",
    schedule="linear",
    layer_average=False,
    temperature_squared=False,
    label_weight=0.5,
    decay_norm_and_bias=True,
)


def test_every_trial_field_reaches_the_engine_and_engine_knobs_are_added() -> None:
    weights = LossWeights(hidden=2.0)
    training = training_settings(CUSTOM, loss_weights=weights, eval_every=3)
    for name, value in dataclasses.asdict(CUSTOM).items():
        if name == "measure_latency":  # what is measured after training: compress_job's flag
            assert not hasattr(training, name)
            continue
        assert getattr(training, name) == value, name
    assert training.loss_weights == weights and training.eval_every == 3
    with pytest.raises(TypeError, match="steps"):
        training_settings(CUSTOM, steps=1)


def test_teacher_seed_is_pinned_or_the_studys_and_max_length_is_the_trials() -> None:
    config = teacher_config(TeacherSettings(steps=50), study_seed=7, max_length=48, epochs=2.0)
    assert (config.steps, config.seed, config.max_length, config.epochs) == (50, 7, 48, 2.0)
    assert teacher_config(TeacherSettings(seed=1), study_seed=7, max_length=48).seed == 1


def _study(**attrs: object) -> StudyRecord:
    return StudyRecord(name="s", user_attrs=attrs)


def test_stored_settings_round_trip_what_the_search_stored() -> None:
    study_file = parse_study(
        {"name": "s", "target": "5x", "seed": 3, "trial": {"steps": 7, "factorization": "svd"}},
        source="s.yaml",
    )
    for attrs in (
        {"settings": study_file.to_dict()},
        {"study_file": "seed: 3\ntrial: {steps: 7, factorization: svd}\n"},
    ):
        stored = stored_settings(_study(**attrs))
        assert stored.trial == study_file.trial and stored.seed == 3
        assert stored.teacher_config().seed == 3
        assert stored.training().factorization == "svd"
    assert stored_settings(_study()).trial == TrialSettings()


def test_a_bad_stored_value_is_one_line_naming_the_key() -> None:
    with pytest.raises(StudyFileError, match=r"^study s: trial\.steps must be a positive integer"):
        stored_settings(_study(settings={"trial": {"steps": -1}}))


def test_a_trial_trains_with_the_factorization_its_study_searched() -> None:
    assert trial_settings_of({"factorization": "whiten"}, CUSTOM).factorization == "whiten"
    assert trial_settings_of({"p_embd": 0.5}, CUSTOM) is CUSTOM  # not searched: the study's
    study = parse_study(
        {"name": "s", "target": 0.5, "trial": {"factorization": ["svd", "fisher"]}}, source="s"
    )
    record = StudyRecord(name="s", user_attrs={"settings": study.to_dict()})
    stored = stored_settings(record)
    assert stored.training().factorization == "svd"
    assert stored.training({"factorization": "fisher"}).factorization == "fisher"
