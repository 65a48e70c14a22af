"""The study database's contract, run over every backend (SQLite and the real PostgreSQL).

Like Optuna's storage tests, one suite parametrized by the ``storage_url`` fixture (a fresh SQLite
file, then a fresh database of its own on PostgreSQL): opening creates the schema (also when
several processes race to), what a search writes reads back as the same records, a reader never
creates a database, and every failure is one line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from search_helpers import ladasearch, last_json, write_study

from ladasearch.compression.ratios import Ratios
from ladasearch.errors import StorageError
from ladasearch.search.studydb.connect import open_storage
from ladasearch.search.studydb.records import list_study_names, load_studies, load_study

REPO = Path(__file__).resolve().parents[2]


def _write_study(url: str) -> None:
    storage = open_storage(url, heartbeat=True)
    study = optuna.create_study(study_name="s", storage=storage, directions=["maximize"])
    study.set_user_attr("mode", "fixed")
    study.set_user_attr("teacher_accuracy", 0.9)
    done = study.ask()
    for key, value in {**Ratios(0.5, 0.4, 0.3).to_dict(), "accuracy": 0.8, "params": 1000}.items():
        done.set_user_attr(key, value)
    study.tell(done, 0.8)
    pruned = study.ask({"p_embd": optuna.distributions.FloatDistribution(0.05, 1.0)})
    study.tell(pruned, state=TrialState.PRUNED)
    failed = study.ask()
    failed.set_user_attr("fail_reason", "TrainingDiverged: loss is nan")
    study.tell(failed, state=TrialState.FAIL)
    optuna.create_study(study_name="a-second", storage=storage)


def test_what_a_search_writes_reads_back_as_records(storage_url: str) -> None:
    _write_study(storage_url)
    storage = open_storage(storage_url, existing=True)
    assert list_study_names(storage) == ["a-second", "s"]
    (study,) = load_studies(["s"], storage_url)
    assert study.directions == ("maximize",) and study.teacher_accuracy == 0.9
    assert [t.state for t in study.trials] == ["COMPLETE", "PRUNED", "FAIL"]
    complete, pruned, failed = study.trials
    assert complete.ratios() == Ratios(0.5, 0.4, 0.3) and complete.finished
    assert complete.values == (0.8,) and complete.nonzero_params == 1000
    assert pruned.ratio("p_embd") is not None and pruned.ratios() is None
    assert failed.fail_reason == "TrainingDiverged: loss is nan" and not failed.finished
    assert study.trial(0) == complete


def test_a_missing_study_is_one_line_naming_those_that_exist(storage_url: str) -> None:
    _write_study(storage_url)
    with pytest.raises(StorageError) as caught:
        load_study("nope", open_storage(storage_url, existing=True))
    assert str(caught.value) == "no study named 'nope' in the database (studies: a-second, s)"


def test_schema_creation_races_on_a_fresh_database(storage_url: str) -> None:
    """Four processes open (and create the tables of) one new database at the same instant."""
    code = (
        "import sys; from ladasearch.search.studydb.connect import open_storage; "
        "open_storage(sys.argv[1]); print('ok')"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runs = [
        subprocess.Popen([sys.executable, "-c", code, storage_url], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]  # fmt: skip
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0 and out.strip() == "ok", err[-2000:]
    assert list_study_names(open_storage(storage_url, existing=True)) == []


def test_an_unreachable_database_is_one_line(storage_url: str, tmp_path: Path) -> None:
    if storage_url.startswith("sqlite"):
        dead = f"sqlite:///{tmp_path / 'no-folder' / 'x.db'}"
        expected = "cannot open the study database sqlite:///"
    else:
        dead = "postgresql+psycopg://postgres@127.0.0.1:1/none"
        expected = "cannot open the study database postgresql+psycopg://"
    with pytest.raises(StorageError) as caught:
        open_storage(dead)
    assert str(caught.value).startswith(expected) and "\n" not in str(caught.value)


def test_a_reader_never_creates_a_sqlite_file(tmp_path: Path) -> None:
    """SQLite only: a PostgreSQL database is never created by opening it."""
    missing = tmp_path / "missing.db"
    with pytest.raises(StorageError, match="no study database at"):
        open_storage(f"sqlite:///{missing}", existing=True)
    assert not missing.exists()


# ---------------------------------------------------------------------------------------------
# end to end: the CLI's search and show on PostgreSQL, and a dead database on each backend


@pytest.mark.postgres
def test_three_trial_search_then_show_on_postgresql(
    postgres_url: str,
    tmp_path: Path,
    tiny_model_dir: Path,
    tiny_csv: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The CLI's search and show on PostgreSQL (on SQLite: test_search's three-trial search)."""
    storage_url = postgres_url
    cache = tmp_path_factory.mktemp("cache")
    study = write_study(tmp_path, tiny_model_dir, tiny_csv, name="e2e")
    done = ladasearch(["search", str(study), "--quiet", "--storage", storage_url], tmp_path, cache)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not (tmp_path / "ladasearch.db").exists()  # nothing went to the default SQLite file
    trials = optuna.load_study(study_name="e2e", storage=storage_url).trials
    assert len(trials) == 3 and all(
        t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials
    )
    assert all(abs(t.user_attrs["predicted_ratio"] - 0.5) <= 0.005 for t in trials)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert complete and all(
        "accuracy" in t.user_attrs and "params" in t.user_attrs for t in complete
    )
    shown = ladasearch(
        ["show", "e2e", "--json"], tmp_path, cache, extra_env={"LADASEARCH_STORAGE": storage_url}
    )
    assert shown.returncode == 0 and len(last_json(shown.stdout)["trials"]) == 3


def test_the_cli_says_a_dead_database_in_one_line(
    storage_url: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    cache = tmp_path_factory.mktemp("cache-dead")
    if storage_url.startswith("sqlite"):  # a reader: the missing file is refused, not created
        dead, said = f"sqlite:///{tmp_path / 'x.db'}", "no study database at "
    else:
        dead = "postgresql+psycopg://postgres@127.0.0.1:1/none"
        said = "cannot open the study database postgresql+psycopg://"
    done = ladasearch(["studies", "--storage", dead], tmp_path, cache)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"ladasearch: error: {said}")
    assert not (tmp_path / "x.db").exists()
