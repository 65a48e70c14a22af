"""The samplers a study file names: each builds seeded, a resumed one draws anew, gp models a mix."""

from __future__ import annotations

import optuna
import pytest

from ladasearch.errors import StudyFileError
from ladasearch.search.samplers import make_sampler, resumed_sampler
from ladasearch.search.study_file import SAMPLERS, parse_study

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _draws(sampler: optuna.samplers.BaseSampler, n: int) -> list[tuple[float, str]]:
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        x = trial.suggest_float("share", 0.0, 1.0)
        method = trial.suggest_categorical("factorization", ["svd", "whiten"])
        return x * (1.0 if method == "whiten" else 0.5), x

    study.optimize(objective, n_trials=n)
    return [(t.params["share"], t.params["factorization"]) for t in study.trials]


@pytest.mark.parametrize("name", SAMPLERS)
def test_every_named_sampler_is_seeded_and_a_resumed_one_draws_anew(name: str) -> None:
    first = _draws(make_sampler(name, 0, None), 12)
    assert _draws(make_sampler(name, 0, None), 12) == first
    assert _draws(resumed_sampler(name, 0, 12, None), 12) != first


def test_gp_is_a_study_file_choice_with_its_own_startup() -> None:
    study = parse_study({"name": "g", "target": 0.2, "sampler": "gp", "startup_trials": 4})
    assert (study.sampler, study.startup_trials) == ("gp", 4)
    sampler = make_sampler("gp", 0, 4)
    assert isinstance(sampler, optuna.samplers.GPSampler)
    with pytest.raises(StudyFileError, match="startup_trials applies to sampler: tpe or gp only"):
        parse_study({"name": "r", "target": 0.2, "sampler": "random", "startup_trials": 4})
