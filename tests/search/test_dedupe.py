"""No repeated trials: resumed studies and workers sharing a study never rerun a point.

Real SQLite storage and the tiny model's eq. 7 groups; the searcher is driven directly (no Ray):
``suggest`` is where a trial's point is chosen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState
from transformers import BertForSequenceClassification

from ladasearch.compression.accounting import parameter_groups
from ladasearch.search.dedupe import DUPLICATE, engine_key, find_twin
from ladasearch.search.resume import counted
from ladasearch.search.searcher import StudySearcher
from ladasearch.search.space import ConstrainedSpace, GroupSizes, enqueue_points

optuna.logging.set_verbosity(optuna.logging.WARNING)

FINAL = {"accuracy": 0.7, "params": 10, "iteration": 1, "final": 1, "training_iteration": 1}


@pytest.fixture
def space(tiny_bert: BertForSequenceClassification) -> ConstrainedSpace:
    return ConstrainedSpace(GroupSizes.of(parameter_groups(tiny_bert)), target=0.5)


def _searcher(space: ConstrainedSpace, url: str, seed: int = 0) -> StudySearcher:
    """A searcher as a (re)started driver makes it: the study's seed, the model's groups."""
    return StudySearcher(
        space,
        objectives=("accuracy",),
        sampler=optuna.samplers.TPESampler(seed=seed),
        study_name="dedupe",
        storage=optuna.storages.RDBStorage(url),
        groups=space.sizes.groups,
    )


def _keys_run(url: str, space: ConstrainedSpace) -> list[Any]:
    study = optuna.load_study(study_name="dedupe", storage=url)
    return [
        engine_key(t.user_attrs, space.sizes.groups)
        for t in study.get_trials()
        if t.state in (TrialState.COMPLETE, TrialState.RUNNING)
    ]


def test_resumed_study_does_not_rerun_the_interrupted_point(
    tmp_path: Path, space: ConstrainedSpace
) -> None:
    """The 2.5x benchmark's history: seed point, a sampled trial interrupted and requeued, then a
    resume whose sampler replays the first run's draws (and the seed point enqueued again)."""
    url = f"sqlite:///{tmp_path / 'study.db'}"
    first = _searcher(space, url)
    first.suggest("x")  # creates the study
    study = optuna.load_study(study_name="dedupe", storage=url)
    first.on_trial_complete("x", FINAL)
    for params in enqueue_points(space, "balanced"):
        study.enqueue_trial(params, user_attrs={"enqueued": True})
    first.suggest("seed")
    first.on_trial_complete("seed", FINAL)
    first.suggest("sampled")
    first.on_trial_complete("sampled", None)  # the run ends mid-trial: FAIL stopped:, requeued

    resumed = _searcher(space, url)  # a driver restarted with the study's seed
    for params in enqueue_points(space, "balanced"):  # a restart that enqueues its seeds again
        study.enqueue_trial(params, user_attrs={"enqueued": True})
    for name in ("retry", "next", "more"):
        assert isinstance(resumed.suggest(name), dict)
        resumed.on_trial_complete(name, FINAL)

    keys = _keys_run(url, space)
    assert len(keys) == 5 and len(set(keys)) == 5, "a point ran twice"
    trials = {t.number: t for t in study.get_trials()}
    refused = [
        t for t in trials.values() if str(t.user_attrs.get("fail_reason", "")).startswith(DUPLICATE)
    ]
    assert len(refused) == len(resumed.duplicates) >= 2  # the re-enqueued seed and the replay
    for trial in refused:
        twin = trials[trial.user_attrs["duplicate_of"]]
        assert twin.state == TrialState.COMPLETE
        assert engine_key(trial.user_attrs, space.sizes.groups) == engine_key(
            twin.user_attrs, space.sizes.groups
        )
        assert not counted(trial)
    assert any(t.user_attrs.get("resampled_duplicates") for t in trials.values())


def test_workers_with_the_same_seed_never_run_one_point_twice(
    tmp_path: Path, space: ConstrainedSpace
) -> None:
    """Two drivers on one study whose samplers draw alike: the second refuses the RUNNING point."""
    url = f"sqlite:///{tmp_path / 'study.db'}"
    one, two = _searcher(space, url), _searcher(space, url)
    for step in range(3):
        assert isinstance(one.suggest(f"a{step}"), dict)
        assert isinstance(two.suggest(f"b{step}"), dict)  # while a{step} is RUNNING
        one.on_trial_complete(f"a{step}", FINAL)
        two.on_trial_complete(f"b{step}", FINAL)
    keys = _keys_run(url, space)
    assert len(keys) == 6 and len(set(keys)) == 6
    assert two.duplicates


def test_distinct_samples_can_build_the_same_model(space: ConstrainedSpace) -> None:
    """The re-solved P_weight and clamped P_svd map distinct prune shares to one model: the key
    is the engine's rounding, not the floats."""
    low, high = space.sizes.p_embd_range(0.5)
    p_embd = (low + high) / 2
    a, b = space.point_at(0.5, p_embd, 0.0), space.point_at(0.5, p_embd, 0.001)
    assert (a["p_svd"], a["p_weight"]) != (b["p_svd"], b["p_weight"])
    groups = space.sizes.groups
    assert engine_key(a, groups) == engine_key(b, groups)
    study = optuna.create_study()
    trial = study.ask()
    for key, value in a.items():
        trial.set_user_attr(key, value)
    study.tell(trial, 0.5)
    assert find_twin(b, study.get_trials(), groups) == 0
    assert find_twin(space.point_at(0.5, p_embd, 0.9), study.get_trials(), groups) is None


def test_one_point_with_two_factorizations_is_two_models(space: ConstrainedSpace) -> None:
    low, high = space.sizes.p_embd_range(0.5)
    point = space.point_at(0.5, (low + high) / 2, 0.5)
    groups = space.sizes.groups
    svd, whiten = {**point, "factorization": "svd"}, {**point, "factorization": "whiten"}
    assert engine_key(svd, groups) != engine_key(whiten, groups)
    assert engine_key(svd, None) != engine_key(whiten, None)
    assert engine_key(svd, groups) == engine_key(dict(svd), groups)
