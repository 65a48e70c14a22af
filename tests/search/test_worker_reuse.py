"""Reused search workers: the per-process memo (off outside search workers), one storage per
process, and a tiny search whose later trials run in the first trial's process and reuse its
teacher, task and tokens."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from search_helpers import ladasearch, write_study

from ladasearch.compression import process_memo
from ladasearch.search.worker import REUSE_ENV, reuse_actors, worker_storage


def test_memo_builds_every_time_unless_enabled() -> None:
    built: list[int] = []

    def build() -> int:
        built.append(1)
        return len(built)

    try:
        assert process_memo.remember("k", build) == 1
        assert process_memo.remember("k", build) == 2  # off: the CLI and tests read afresh
        process_memo.enable()
        assert process_memo.remember("k", build) == 3
        assert process_memo.remember("k", build) == 3
        assert process_memo.stats() == {"hits": 1, "builds": 1}
    finally:
        process_memo.enable(False)
    assert not process_memo.enabled() and process_memo.stats() == {"hits": 0, "builds": 0}


def test_one_storage_per_process_and_the_reuse_switch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    assert worker_storage(url) is worker_storage(url)
    monkeypatch.setenv(REUSE_ENV, "0")
    assert not reuse_actors()
    monkeypatch.delenv(REUSE_ENV)
    assert reuse_actors()


def test_later_trials_reuse_the_first_trials_worker(
    tmp_path: Path, tiny_model_dir: Path, tiny_csv: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    study = write_study(
        tmp_path, tiny_model_dir, tiny_csv, trials=3, scheduler="none", trial={"iterations": 1}
    )
    cache = tmp_path_factory.mktemp("teacher-cache")
    done = ladasearch(["search", str(study), "--quiet"], tmp_path, cache)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = optuna.load_study(study_name="tiny", storage=f"sqlite:///{tmp_path / 'ladasearch.db'}")
    trials = sorted(loaded.get_trials(), key=lambda t: t.number)
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3
    assert len({t.user_attrs["worker_pid"] for t in trials}) == 1  # one actor, three trials
    reused = [t.user_attrs["timings"]["worker_reused"] for t in trials]
    assert reused[0] == 0 and all(n >= 4 for n in reused[1:])  # teacher, task, tokens, factorizer
