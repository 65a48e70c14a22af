"""The search service end to end on SQLite: tiny studies driven through ``python -m ladasearch``."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from search_helpers import cli_env, ladasearch, last_json, write_study

from ladasearch.search.searcher import STOPPED, StudySearcher
from ladasearch.search.summary import TRIAL_KEYS, format_trials, study_trials

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One teacher cache for the module: the tiny teacher is fine-tuned once."""
    return tmp_path_factory.mktemp("teacher-cache")


def _space(trial: optuna.Trial) -> dict[str, float]:
    share = trial.suggest_float("prune_share", 0.0, 1.0)
    return {"p_embd": 0.5, "p_svd": 0.5 ** (1 - share), "p_weight": 0.5**share, "target_ratio": 0.5}


def test_searcher_tells_honest_states() -> None:
    """ASHA-stopped -> PRUNED, failed -> FAIL with reason, final -> COMPLETE, interrupted -> requeued."""
    storage = optuna.storages.InMemoryStorage()
    searcher = StudySearcher(
        _space,
        objectives=("accuracy",),
        sampler=optuna.samplers.RandomSampler(seed=0),
        study_name="s",
        storage=storage,
    )
    configs = {name: searcher.suggest(name) for name in ("done", "pruned", "failed", "stopped")}
    assert [c["_trial_number"] for c in configs.values()] == [0, 1, 2, 3]
    first = {"accuracy": 0.6, "params": 10, "iteration": 1, "final": 0, "training_iteration": 1}
    for name in configs:
        searcher.on_trial_result(name, first)
    searcher.on_trial_complete(
        "done", {**first, "accuracy": 0.8, "iteration": 2, "final": 1, "training_iteration": 2}
    )
    searcher.on_trial_complete(
        "pruned", {**first, "accuracy": 0.5, "iteration": 2, "training_iteration": 2}
    )
    searcher.on_trial_complete(
        "failed", {"failed": 1, "fail_reason": "TrainingDiverged: nan", "final": 1}
    )
    searcher.on_trial_complete("stopped", first)
    study = optuna.load_study(study_name="s", storage=storage)
    trials = study.get_trials()
    assert [t.state for t in trials[:4]] == [
        TrialState.COMPLETE,
        TrialState.PRUNED,
        TrialState.FAIL,
        TrialState.FAIL,
    ]
    assert trials[0].value == 0.8 and trials[0].user_attrs["p_embd"] == 0.5
    assert trials[2].user_attrs["fail_reason"] == "TrainingDiverged: nan"
    assert trials[3].user_attrs["fail_reason"] == STOPPED
    assert trials[4].state == TrialState.WAITING  # tried again, with the same parameters
    assert trials[4].system_attrs["fixed_params"] == trials[3].params


def test_three_trial_search_on_sqlite(
    tmp_path: Path, tiny_model_dir: Path, tiny_csv: Path, cache: Path
) -> None:
    study = write_study(
        tmp_path, tiny_model_dir, tiny_csv, enqueue="paper_table2", keep_models=True
    )
    started = time.perf_counter()
    done = ladasearch(["search", str(study), "--quiet"], tmp_path, cache)
    assert done.returncode == 0, done.stderr[-2000:]
    assert time.perf_counter() - started < 240
    shown = ladasearch(["show", "tiny", "--json"], tmp_path, cache)
    assert shown.returncode == 0, shown.stderr
    trials = last_json(shown.stdout)["trials"]
    assert len(trials) == 3 and all(set(TRIAL_KEYS) <= set(t) for t in trials)
    finished = [t for t in trials if t["state"] in ("COMPLETE", "PRUNED")]
    assert len(finished) == 3
    complete = [t for t in trials if t["state"] == "COMPLETE"]
    assert complete, trials
    for trial in complete:
        assert abs(trial["ratio"] - 0.5) <= 0.005 and trial["target_ratio"] == 0.5
        assert 0 <= trial["accuracy"] <= 1 and trial["params"] > 0 and trial["latency_ms"] > 0
        assert len(trial["model_sha256"]) == 64 and Path(trial["model_dir"]).is_dir()
        assert "/runs/tiny/trial_" in trial["model_dir"]
    assert "accuracy" in shown.stdout.splitlines()[0]
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'ladasearch.db'}")
    loaded = optuna.load_study(study_name="tiny", storage=storage)
    assert loaded.user_attrs["mode"] == "fixed" and "teacher_accuracy" in loaded.user_attrs
    assert loaded.user_attrs["study_file"].startswith("enqueue: paper_table2")
    assert loaded.trials[0].user_attrs.get("enqueued") is True
    assert all(len(t.user_attrs["history"]) >= 1 for t in loaded.trials)
    listed = ladasearch(["studies", "--json"], tmp_path, cache)
    row = last_json(listed.stdout)["studies"][0]
    assert row["study"] == "tiny" and row["trials"] == 3 and row["best_values"] is not None
    again = ladasearch(["search", str(study), "--quiet"], tmp_path, cache)  # nothing left to do
    assert again.returncode == 0 and "already has 3 finished trials" in again.stdout


def test_nan_trial_is_failed_and_the_search_goes_on(
    tmp_path: Path, tiny_model_dir: Path, tiny_csv: Path, cache: Path
) -> None:
    study = write_study(
        tmp_path, tiny_model_dir, tiny_csv, name="nan", trials=2, trial={"learning_rate": 1e30}
    )
    done = ladasearch(
        ["search", str(study), "--quiet", "--storage", f"sqlite:///{tmp_path / 'nan.db'}"],
        tmp_path,
        cache,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    shown = ladasearch(
        ["show", "nan", "--json", "--storage", f"sqlite:///{tmp_path / 'nan.db'}"], tmp_path, cache
    )
    trials = last_json(shown.stdout)["trials"]
    assert [t["state"] for t in trials] == [
        "FAIL",
        "FAIL",
    ]  # both ran: the first failure did not stop the search
    assert all(
        "TrainingDiverged" in t["fail_reason"] and "\n" not in t["fail_reason"] for t in trials
    )


def test_infeasible_target_is_refused_before_any_trial(
    tmp_path: Path, tiny_model_dir: Path, tiny_csv: Path, cache: Path
) -> None:
    study = write_study(tmp_path, tiny_model_dir, tiny_csv, name="tight", target=0.01)
    done = ladasearch(["search", str(study)], tmp_path, cache, timeout=120)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(
        "ladasearch: error: target ratio 0.0100"
    )
    assert "infeasible" in done.stderr and not (tmp_path / "runs").exists()
    assert optuna.get_all_study_summaries(f"sqlite:///{tmp_path / 'ladasearch.db'}") == []
    broken = ladasearch(["search", str(study), "--steps", "0"], tmp_path, cache, timeout=120)
    assert broken.returncode == 2 and "--steps must be a positive integer" in broken.stderr
    missing = ladasearch(["show", "nope"], tmp_path, cache, timeout=120)
    assert (
        missing.returncode == 2
        and missing.stderr.count("\n") == 1
        and "no study named 'nope'" in missing.stderr
    )


def _running(db: Path) -> int:
    """RUNNING trials whose trainable has started (it writes a heartbeat when it does)."""
    try:
        with sqlite3.connect(db, timeout=1) as con:
            return con.execute(
                "select count(*) from trials t join trial_user_attributes a"
                " on a.trial_id = t.trial_id"
                " where t.state = 'RUNNING' and a.key = 'heartbeat'"
            ).fetchone()[0]
    except sqlite3.Error:
        return 0


def test_resume_after_the_search_process_is_killed(
    tmp_path: Path, tiny_model_dir: Path, tiny_csv: Path, cache: Path
) -> None:
    study = write_study(
        tmp_path, tiny_model_dir, tiny_csv, name="resume", trials=2, trial={"steps": 30}
    )
    db = tmp_path / "ladasearch.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "ladasearch", "search", str(study), "--quiet"],
        cwd=tmp_path,
        env=cli_env(cache),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while _running(db) == 0 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _running(db) == 1, "no trial was RUNNING"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    resumed = ladasearch(["search", str(study), "--quiet"], tmp_path, cache)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "marked stale (FAIL, enqueued again): trials 0" in resumed.stdout
    trials = optuna.load_study(study_name="resume", storage=f"sqlite:///{db}").trials
    assert trials[0].state == TrialState.FAIL
    assert trials[0].user_attrs["fail_reason"] == "stale: the process running it died"
    assert trials[1].user_attrs.get("retry_of") == 0 and trials[1].params == trials[0].params
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 2 and len(trials) == 3
    assert trials[2].params != trials[0].params  # the resumed sampler does not replay its draws


def test_gpu_trial_is_scheduled_on_a_declared_gpu(
    tmp_path: Path, tiny_model_dir: Path, tiny_csv: Path, cache: Path
) -> None:
    """A gpu: 1 trial asks Ray for a GPU; with one declared on this CPU machine it runs on it."""
    study = write_study(
        tmp_path, tiny_model_dir, tiny_csv, name="gpu", trials=1, resources={"gpu": 1}
    )
    done = ladasearch(
        ["search", str(study), "--quiet"],
        tmp_path,
        cache,
        extra_env={"LADASEARCH_RAY_NUM_GPUS": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (trial,) = optuna.load_study(
        study_name="gpu", storage=f"sqlite:///{tmp_path / 'ladasearch.db'}"
    ).trials
    assert trial.state == TrialState.COMPLETE
    assert trial.user_attrs["cuda_visible_devices"] == "0"
    import torch

    assert trial.user_attrs["device"] == ("cuda" if torch.cuda.is_available() else "cpu")


def test_show_gives_a_pruned_trial_the_metrics_of_its_last_iteration() -> None:
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(study_name="asha", storage=storage)
    history = [{"iteration": 1, "accuracy": 0.77, "params": 12_000_000, "ratio": 0.55}]
    study.add_trial(
        optuna.trial.create_trial(
            state=TrialState.PRUNED,
            user_attrs={"p_embd": 0.2, "p_svd": 0.5, "p_weight": 0.4, "history": history},
        )
    )
    (row,) = study_trials("asha", storage)["trials"]
    assert (row["accuracy"], row["params"], row["ratio"]) == (0.77, 12_000_000, 0.55)
    assert row["stopped_after_iteration"] == 1
    assert format_trials([row])[-1] == (
        "trial 0: stopped early after iteration 1 (its metrics are that iteration's)"
    )


def test_a_search_over_the_factorization_trains_each_trial_with_its_own(
    tmp_path: Path, tiny_model_dir: Path, tiny_csv: Path, cache: Path
) -> None:
    """``trial.factorization: [svd, whiten]``: a categorical parameter the engine obeys."""
    study = write_study(
        tmp_path,
        tiny_model_dir,
        tiny_csv,
        trials=4,
        sampler="random",
        scheduler="none",
        trial={"factorization": ["svd", "whiten"]},
    )
    done = ladasearch(["search", str(study), "--quiet"], tmp_path, cache)
    assert done.returncode == 0, done.stderr[-2000:]
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'ladasearch.db'}")
    complete = [
        t
        for t in optuna.load_study(study_name="tiny", storage=storage).trials
        if t.state == TrialState.COMPLETE
    ]
    assert len(complete) == 4
    searched = [t.params["factorization"] for t in complete]
    assert set(searched) == {"svd", "whiten"}  # the random sampler drew both (seed 0)
    # what the engine reports it factorized with is what the trial's parameter said
    assert [t.user_attrs["factorization"] for t in complete] == searched
    shown = ladasearch(["show", "tiny", "--json"], tmp_path, cache)
    assert {t["factorization"] for t in last_json(shown.stdout)["trials"]} == {"svd", "whiten"}
