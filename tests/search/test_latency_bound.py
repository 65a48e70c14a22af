"""A latency-bounded study: the study-file keys, the constraint Optuna stores, the front and the
plot leaving infeasible trials out, and one tiny end-to-end search with an unreachable bound."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from search_helpers import ladasearch, last_json, write_study

from ladasearch.cli import main
from ladasearch.dashboards.figures import figure_for_studies
from ladasearch.dashboards.front import compute_front
from ladasearch.errors import StudyFileError
from ladasearch.search.latency_bound import CONSTRAINT, UNMEASURED, LatencyBound
from ladasearch.search.searcher import StudySearcher
from ladasearch.search.study_file import parse_study
from ladasearch.search.studydb.connect import open_storage
from ladasearch.search.studydb.records import load_studies
from ladasearch.search.summary import format_trials, list_studies, study_trials

optuna.logging.set_verbosity(optuna.logging.WARNING)

BASE = {"name": "x", "mode": "pareto", "target_range": ["2.5x", "10x"]}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"target_latency_ms": 0}, "target_latency_ms must be a positive number of milliseconds"),
        ({"target_latency_ms": "fast"}, "target_latency_ms must be a positive number"),
        ({"target_latency_ms": True}, "target_latency_ms must be a positive number"),
        ({"target_latency_ms": float("inf")}, "target_latency_ms must be a positive number"),
        ({"latency_batch": 1}, "latency_batch needs target_latency_ms"),
        ({"target_latency_ms": 5, "latency_batch": 8}, "latency_batch must be one of 1, 32"),
    ],
)
def test_bad_latency_keys_are_one_line(extra: dict[str, object], message: str) -> None:
    with pytest.raises(StudyFileError) as caught:
        parse_study({**BASE, **extra}, source="s.yaml")
    text = str(caught.value)
    assert text.startswith("s.yaml: ") and message in text and "\n" not in text


def test_latency_keys_parse() -> None:
    assert parse_study(BASE).latency is None
    study = parse_study({**BASE, "target_latency_ms": 12.5, "latency_batch": 32})
    assert study.latency == LatencyBound(12.5, 32) and study.latency.metric == "latency_ms_b32"
    assert study.to_dict()["latency"] == {"target_ms": 12.5, "batch": 32}
    assert parse_study({**BASE, "target_latency_ms": 3}).latency == LatencyBound(3.0, 1)


def _space(trial: optuna.Trial) -> dict[str, float]:
    share = trial.suggest_float("prune_share", 0.0, 1.0)
    return {"p_embd": 0.5, "p_svd": 0.5 ** (1 - share), "p_weight": 0.5**share, "target_ratio": 0.5}


def _final(accuracy: float, params: int, latency: float | None) -> dict[str, float]:
    result = {"accuracy": accuracy, "params": params, "final": 1, "training_iteration": 1}
    if latency is not None:
        result["latency_ms"] = latency
    return result


@pytest.mark.parametrize("sampler", ["tpe", "nsga2", "random"])
def test_constraint_is_stored_and_infeasible_trials_leave_the_front(
    tmp_path: Path, sampler: str
) -> None:
    """The most accurate trial is over the bound: Optuna, show, the front and the plot all
    leave it out."""
    from ladasearch.search.samplers import make_sampler

    url = f"sqlite:///{tmp_path / 'study.db'}"
    searcher = StudySearcher(
        _space,
        objectives=("accuracy", "params"),
        sampler=make_sampler(sampler, 0),
        study_name="bounded",
        storage=optuna.storages.RDBStorage(url),
        latency=LatencyBound(5.0),
    )
    outcomes = {
        "fast": _final(0.70, 100, 3.0),
        "slow": _final(0.90, 100, 8.0),  # dominates "fast", but violates the bound
        "unmeasured": _final(0.95, 50, None),
        "edge": _final(0.60, 80, 5.0),  # exactly on the bound: feasible
    }
    storage = optuna.storages.RDBStorage(url)

    def run(name: str, result: dict[str, float]) -> None:
        config = searcher.suggest(name)
        assert isinstance(config, dict)
        study_id = storage.get_study_id_from_name("bounded")
        trial_id = storage.get_trial_id_from_study_id_trial_number(
            study_id, config["_trial_number"]
        )
        for key in ("accuracy", "params", "latency_ms"):  # as the trainable writes them
            if key in result:
                storage.set_trial_user_attr(trial_id, key, result[key])
        searcher.on_trial_complete(name, result)

    for name, result in outcomes.items():
        run(name, result)
        for more in range(3):  # the samplers' constrained paths run on the stored constraints
            run(f"{name}-more{more}", _final(0.5, 200, 1.0))

    study = optuna.load_study(study_name="bounded", storage=url)
    by_latency = {t.user_attrs.get("latency_violation_ms"): t for t in study.trials[:13:4]}
    assert set(by_latency) == {-2.0, 3.0, UNMEASURED, 0.0}
    slow = by_latency[3.0]
    assert slow.constraints == {CONSTRAINT: 3.0}
    assert slow.user_attrs["infeasible"].startswith(
        "infeasible: latency_ms 8.00 > target_latency_ms 5"
    )
    assert "infeasible" not in by_latency[0.0].user_attrs
    infeasible = {slow.number, by_latency[UNMEASURED].number}
    assert not infeasible & {t.number for t in study.best_trials}  # Optuna's own front

    stored = open_storage(url, existing=True)
    shown = study_trials("bounded", stored)
    lines = format_trials(shown["trials"])
    assert f"trial {slow.number}: infeasible: latency_ms 8.00" in "\n".join(lines)
    assert sum("COMPLETE (infeasible)" in line for line in lines) == 2
    assert not infeasible & set(list_studies(stored)[0]["best_trials"])

    record = load_studies(["bounded"], url)[0]
    for axis in ("params", "latency_ms"):
        front = compute_front(record, axis)  # type: ignore[arg-type]
        assert not infeasible & {t.number for t in front.front_trials}
        assert not infeasible & {t.number for t in front.points}
    assert by_latency[-2.0].number in {t.number for t in compute_front(record).front_trials}
    traces = {trace.uid: trace for trace in figure_for_studies([record]).data}
    marked = traces["s0-params-infeasible"]
    assert sorted(marked.y) == [0.90, 0.95]
    assert list(traces["s0-latencyms-infeasible"].y) == [0.90]  # the unmeasured has no latency
    assert "infeasible (" in marked.name and marked.marker.color == "#a0a0a0"
    assert any("infeasible: latency_ms 8.00" in text for text in marked.text)
    html = tmp_path / "plot.html"
    assert main(["plot", "bounded", "--storage", url, "-o", str(html)]) == 0
    assert "s0-params-infeasible" in html.read_text(encoding="utf-8")


def test_tiny_search_with_an_unreachable_bound(
    tmp_path: Path, tiny_model_dir: Path, tiny_csv: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """End to end: every trial measures its deployed latency and is stored infeasible."""
    study = write_study(
        tmp_path,
        tiny_model_dir,
        tiny_csv,
        trials=2,
        target_latency_ms=1e-6,
        trial={"iterations": 1},
    )
    cache = tmp_path_factory.mktemp("teacher-cache")
    done = ladasearch(["search", str(study), "--quiet"], tmp_path, cache)
    assert done.returncode == 0, done.stderr[-2000:]
    shown = ladasearch(["show", "tiny", "--json"], tmp_path, cache)
    trials = last_json(shown.stdout)["trials"]
    complete = [t for t in trials if t["state"] == "COMPLETE"]
    assert len(complete) == 2
    assert all(t["infeasible"].startswith("infeasible: latency_ms ") for t in complete)
    loaded = optuna.load_study(study_name="tiny", storage=f"sqlite:///{tmp_path / 'ladasearch.db'}")
    for trial in loaded.trials:
        if trial.state == optuna.trial.TrialState.COMPLETE:
            assert trial.constraints[CONSTRAINT] == pytest.approx(
                trial.user_attrs["latency_ms"] - 1e-6
            )
    table = ladasearch(["show", "tiny"], tmp_path, cache)
    assert "COMPLETE (infeasible)" in table.stdout
