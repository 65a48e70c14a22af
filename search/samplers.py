"""The Optuna samplers a study file's ``sampler:`` names, seeded, fresh or resumed.

``tpe`` (default), ``random``, ``nsga2``, ``qmc`` (scrambled Sobol: unscrambled, Optuna ignores
the seed) and ``gp`` (Optuna's Gaussian-process sampler: the only one that beat random over 20
seeds on the 5x tabular benchmark, BENCHMARKS.md section 7). ``startup_trials`` sets the random
start-up trials of ``tpe`` and ``gp`` (Optuna's default 10).
"""

from __future__ import annotations

import warnings

import optuna

from ladasearch.errors import StudyFileError

__all__ = ["make_sampler", "resumed_sampler"]


def make_sampler(name: str, seed: int, startup: int | None = None) -> optuna.samplers.BaseSampler:
    """The sampler ``name``, seeded ``seed``; ``startup``: the random start-up trials of
    ``tpe`` / ``gp`` (the study file's ``startup_trials``; None keeps Optuna's 10)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # experimental-feature warnings
        if name == "tpe":
            return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup or 10)
        if name == "gp":
            return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup or 10)
        if name == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if name == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed, population_size=8)
        if name == "qmc":
            return optuna.samplers.QMCSampler(seed=seed, scramble=True)  # unscrambled: no seed
    raise StudyFileError(f"unknown sampler {name!r}")


def resumed_sampler(
    name: str, seed: int, existing: int, startup: int | None = None
) -> optuna.samplers.BaseSampler:
    """The sampler for a study that already holds ``existing`` trials.

    A sampler re-created with the study's seed would replay the first run's random draws and
    propose the trials already run again; offsetting the seed by the number of stored trials
    keeps a resumed search both new and reproducible (a fresh study keeps ``seed``).
    """
    return make_sampler(name, seed + existing, startup)
