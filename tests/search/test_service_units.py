"""Service pieces without Ray: the study-wide trial cap, secrets in URLs, the reaper, schema races."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from ladasearch.search.procs import TOKEN_ENV, alive, reap, start_time
from ladasearch.search.resume import counted
from ladasearch.search.searcher import SURPLUS, StudySearcher
from ladasearch.search.studydb.connect import open_storage
from ladasearch.search.studydb.urls import public_url

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _space(trial: optuna.Trial) -> dict[str, float]:
    share = trial.suggest_float("prune_share", 0.0, 1.0)
    return {"p_embd": 0.5, "p_svd": 0.5 ** (1 - share), "p_weight": 0.5**share, "target_ratio": 0.5}


def _searcher(storage: optuna.storages.BaseStorage, total: int) -> StudySearcher:
    return StudySearcher(
        _space,
        objectives=("accuracy",),
        sampler=optuna.samplers.RandomSampler(seed=0),
        study_name="s",
        storage=storage,
        total=total,
    )


def test_the_searcher_stops_at_the_study_total() -> None:
    storage = optuna.storages.InMemoryStorage()
    first, second = _searcher(storage, 2), _searcher(storage, 2)
    assert isinstance(first.suggest("a"), dict)
    assert isinstance(second.suggest("b"), dict)
    assert first.suggest("c") == "FINISHED"  # 2 RUNNING already: launch no more
    assert second.suggest("d") == "FINISHED"


def test_a_trial_asked_past_the_total_by_a_race_is_failed_surplus() -> None:
    storage = optuna.storages.InMemoryStorage()
    searcher = _searcher(storage, 1)
    assert isinstance(searcher.suggest("a"), dict)  # trial 0: the study's one trial
    searcher.total = None  # a second worker raced past the check ...
    assert isinstance(searcher.suggest("b"), dict)
    searcher.total = 1
    assert searcher._surplus(1) and not searcher._surplus(0)  # ... trial 1 started second
    study = optuna.load_study(study_name="s", storage=storage)
    searcher._refuse("b", searcher._ot_trials["b"])
    trial = study.trials[1]
    assert trial.state == TrialState.FAIL and trial.user_attrs["fail_reason"] == SURPLUS
    assert not counted(trial)


def test_the_password_leaves_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    url = public_url("postgresql+psycopg://postgres:pw%40x@127.0.0.1:5432/test")
    assert url == "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    assert os.environ["PGPASSWORD"] == "pw@x"
    assert public_url("sqlite:////tmp/a.db") == "sqlite:////tmp/a.db"


@pytest.mark.postgres
def test_a_password_free_url_connects_with_pgpassword(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = public_url(postgres_url.replace("postgres@", "postgres:any-pw@"))
    assert "any-pw" not in url
    storage = open_storage(url, heartbeat=True)
    optuna.create_study(storage=storage, study_name="x")
    assert [s.study_name for s in storage.get_all_studies()] == ["x"]


def test_the_reaper_kills_what_a_dead_driver_marked(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    token = "t" * 32
    marked = subprocess.Popen(["sleep", "300"], env={**os.environ, TOKEN_ENV: token})
    unmarked = subprocess.Popen(["sleep", "300"])
    try:
        path = tmp_path / "ray-processes-1.json"
        record = {"driver": {"pid": dead.pid, "start": None}, "token": token, "processes": []}
        path.write_text(json.dumps(record))
        alive_driver = {**record, "driver": {"pid": os.getpid(), "start": start_time(os.getpid())}}
        (tmp_path / "live.json").write_text(json.dumps(alive_driver))
        assert reap(tmp_path / "live.json") == 0  # its driver lives: nothing is touched
        assert reap(path) >= 1
        marked.wait(timeout=5)
        assert not path.exists()
        time.sleep(0.2)
        assert alive(unmarked.pid)
    finally:
        for process in (marked, unmarked):
            process.kill()
            process.wait()
