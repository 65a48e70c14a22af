"""Many workers on one study, secrets, progress lines, and no Ray process left after kill -9.

Every worker is a real ``python -m ladasearch search`` process with its own local Ray; the study
database is the real PostgreSQL of DATA.md or a SQLite file.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from search_helpers import cli_env, write_study

from ladasearch.search.procs import descendants, holding

optuna.logging.set_verbosity(optuna.logging.WARNING)

SECRET = "s3cret-pw-4711"


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One teacher cache for the module: the tiny teacher is fine-tuned once."""
    return tmp_path_factory.mktemp("teacher-cache")


def _search(study: Path, cwd: Path, cache: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ladasearch", "search", str(study), *args],
        cwd=cwd,
        env=cli_env(cache),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _check_study(url: str, name: str, total: int) -> list[optuna.trial.FrozenTrial]:
    trials = optuna.load_study(study_name=name, storage=url).trials
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == total, [
        (t.number, t.state, t.user_attrs.get("fail_reason")) for t in trials
    ]
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    params = [tuple(sorted(t.params.items())) for t in complete]
    assert len(set(params)) == len(params)  # no trial ran twice
    return trials


def _no_secret_under(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def _workers(
    study: Path, tmp: Path, cache: Path, url: str, n: int, *first: str
) -> list[tuple[int, str]]:
    processes = [
        _search(study, tmp, cache, "--storage", url, *(first if i == 0 else ())) for i in range(n)
    ]
    outs = []
    for process in processes:
        _, err = process.communicate(timeout=900)
        outs.append((process.returncode, err))
    return outs


@pytest.mark.postgres
def test_three_workers_share_one_postgres_study(
    tmp_path: Path, tiny_model_dir: Path, tiny_csv: Path, cache: Path, postgres_url: str
) -> None:
    """Started at the same instant on a fresh database: all run, the study ends with exactly N."""
    study = write_study(
        tmp_path, tiny_model_dir, tiny_csv, name="shared", trials=4, scheduler="none",
        trial={"iterations": 1, "steps": 2},
    )  # fmt: skip
    secret_url = postgres_url.replace("postgres@", f"postgres:{SECRET}@")
    results = _workers(study, tmp_path, cache, secret_url, 3)
    for code, err in results:
        assert code == 0, err[-3000:]
        assert SECRET not in err
    _check_study(postgres_url, "shared", 4)
    # progress: one line per trial start and end, on stderr that is not a terminal
    errs = "\n".join(err for _, err in results)
    assert "started: p_embd=" in errs and "/4 done, ETA" in errs
    run_dir = tmp_path / "runs" / "shared"
    assert (run_dir.stat().st_mode & 0o777) == 0o700
    _no_secret_under(run_dir)
    assert (run_dir / "ray").is_dir()


def test_three_workers_share_one_sqlite_study(
    tmp_path: Path, tiny_model_dir: Path, tiny_csv: Path, cache: Path
) -> None:
    study = write_study(
        tmp_path, tiny_model_dir, tiny_csv, name="shared", trials=3, scheduler="none",
        trial={"iterations": 1, "steps": 2},
    )  # fmt: skip
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    results = _workers(study, tmp_path, cache, url, 3, "--log-level", "WARNING")
    for code, err in results:
        assert code == 0, err[-3000:]
    _check_study(url, "shared", 3)
    assert "started:" not in results[0][1]  # --log-level WARNING: no progress lines


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    alive = pids
    while time.monotonic() < deadline:
        alive = [p for p in pids if Path(f"/proc/{p}").exists() and not _zombie(p)]
        if not alive:
            break
        time.sleep(0.25)
    return alive


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.slow
def test_kill_9_at_random_points_then_resume(
    tmp_path: Path, tiny_model_dir: Path, tiny_csv: Path, cache: Path
) -> None:
    """Five kill -9 of the search process alone: its Ray dies with it; resume ends with exactly N."""
    study = write_study(
        tmp_path, tiny_model_dir, tiny_csv, name="faults", trials=6, scheduler="none",
        trial={"iterations": 2, "steps": 30},
    )  # fmt: skip  # enough work that an idle machine cannot finish it between 5 kills
    url = f"sqlite:///{tmp_path / 'faults.db'}"
    rng = random.Random(13)
    for kill in range(5):
        process = _search(study, tmp_path, cache, "--storage", url)
        time.sleep(rng.uniform(3.0, 12.0))
        started = descendants(process.pid)
        assert process.poll() is None, "the study finished before 5 kills: give it more trials"
        record = tmp_path / "runs" / "faults" / f"ray-processes-{process.pid}.json"
        token = json.loads(record.read_text())["token"] if record.exists() else None
        os.kill(process.pid, signal.SIGKILL)
        process.communicate()
        left = _wait_gone(started, 15.0)
        assert not left, f"kill {kill}: processes left behind: {left}"
        assert token is None or not holding(token)  # nor any Ray started (raylet's workers)
    final = _search(study, tmp_path, cache, "--storage", url)
    _, err = final.communicate(timeout=900)
    assert final.returncode == 0, err[-3000:]
    trials = _check_study(url, "faults", 6)
    assert not any(
        t.state == TrialState.WAITING and t.user_attrs.get("retry_of") is None for t in trials
    )


def _history_len(url: str, name: str) -> int:
    try:
        trials = optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)
    except Exception:
        return 0
    running = [t for t in trials if t.state == TrialState.RUNNING]
    return max((len(t.user_attrs.get("history") or []) for t in running), default=0)


def test_a_killed_trial_continues_from_its_last_finished_iteration(
    tmp_path: Path, tiny_model_dir: Path, tiny_csv: Path, cache: Path
) -> None:
    study = write_study(
        tmp_path, tiny_model_dir, tiny_csv, name="longtrial", trials=1, scheduler="none",
        trial={"iterations": 3, "steps": 25},
    )  # fmt: skip
    url = f"sqlite:///{tmp_path / 'long.db'}"
    process = _search(study, tmp_path, cache, "--storage", url)
    deadline = time.monotonic() + 300
    while _history_len(url, "longtrial") < 1 and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1][-3000:]
        time.sleep(0.3)
    os.kill(process.pid, signal.SIGKILL)  # the search alone, mid-trial
    process.communicate()
    assert list((tmp_path / "runs" / "longtrial" / "trial_0" / "checkpoint").glob("*.json"))
    resumed = _search(study, tmp_path, cache, "--storage", url)
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err[-3000:]
    trials = optuna.load_study(study_name="longtrial", storage=url).trials
    assert trials[0].state == TrialState.FAIL and trials[1].user_attrs["retry_of"] == 0
    assert trials[1].state == TrialState.COMPLETE
    assert trials[1].user_attrs["resumed_at_iteration"] >= 2  # not from the start
    assert [h["iteration"] for h in trials[1].user_attrs["history"]] == [1, 2, 3]
    assert not (tmp_path / "runs" / "longtrial" / "trial_1" / "checkpoint").exists()
