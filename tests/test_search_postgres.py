"""The same 3-trial search on the real PostgreSQL server (a fresh database per test)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from search_helpers import ladasearch, last_json, write_study

pytestmark = pytest.mark.postgres


def test_three_trial_search_on_postgres(
    tmp_path: Path,
    tiny_model_dir: Path,
    tiny_csv: Path,
    postgres_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    cache = tmp_path_factory.mktemp("pg-cache")
    study = write_study(tmp_path, tiny_model_dir, tiny_csv, name="pg")
    done = ladasearch(["search", str(study), "--quiet", "--storage", postgres_url], tmp_path, cache)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not (tmp_path / "ladasearch.db").exists()  # nothing went to the default SQLite file
    trials = optuna.load_study(study_name="pg", storage=postgres_url).trials
    assert len(trials) == 3 and all(
        t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials
    )
    assert all(abs(t.user_attrs["predicted_ratio"] - 0.5) <= 0.005 for t in trials)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert complete and all(
        "accuracy" in t.user_attrs and "params" in t.user_attrs for t in complete
    )
    shown = ladasearch(
        ["show", "pg", "--json"], tmp_path, cache, extra_env={"LADASEARCH_STORAGE": postgres_url}
    )
    assert shown.returncode == 0 and len(last_json(shown.stdout)["trials"]) == 3


def test_dead_database_is_one_line(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    cache = tmp_path_factory.mktemp("pg-cache-dead")
    done = ladasearch(
        ["studies", "--storage", "postgresql+psycopg://postgres@127.0.0.1:1/none"], tmp_path, cache
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert done.stderr.startswith(
        "ladasearch: error: cannot open the study database postgresql+psycopg://"
    )
