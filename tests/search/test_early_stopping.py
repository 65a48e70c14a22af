"""MOASHA early stopping: non-dominated ranking, the rung rule, rung records shared through a
real study database, the study-file keys, the Spearman report, and a tiny Pareto search whose
stopped trials are stored PRUNED with their last values and kept off the front."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState, create_trial
from search_helpers import ladasearch, last_json, write_study

from ladasearch.errors import StudyFileError
from ladasearch.search.early_stopping import EarlyStopping, RungGate, RungStopped
from ladasearch.search.pareto_rank import (
    epsilon_net_order,
    hypervolume_2d,
    non_dominated_ranks,
    priority_order,
    promote,
)
from ladasearch.search.rung_report import curve_report, earliest_good_step, rung_report, spearman
from ladasearch.search.rung_report import main as report_main
from ladasearch.search.study_file import parse_study
from ladasearch.search.studydb.connect import open_storage

optuna.logging.set_verbosity(optuna.logging.WARNING)

PARETO = {"name": "x", "mode": "pareto", "target_range": ["2.5x", "10x"]}


def test_non_dominated_ranks_of_known_points() -> None:
    #          0       1       2       3       4       5 (a copy of 0)
    points = [(0, 0), (1, 1), (0, 1), (2, 0), (2, 2), (0, 0)]
    assert non_dominated_ranks(points) == [0, 2, 1, 1, 3, 0]
    # a staircase is one front; three objectives: (1,1,1) dominates (1,2,1) only
    assert non_dominated_ranks([(0, 3), (1, 2), (2, 1), (3, 0)]) == [0, 0, 0, 0]
    assert non_dominated_ranks([(1, 1, 1), (1, 2, 1), (0, 5, 5)]) == [0, 1, 0]


def test_promote_is_moashas_rule() -> None:
    assert promote((5, 5), [], 3)  # the first trial at a rung always continues
    # one of two points strictly better: 1/2 > 1/3 -> stop; at reduction 2, 1/2 <= 1/2 -> go on
    assert not promote((1, 1), [(0, 0)], 3)
    assert promote((1, 1), [(0, 0)], 2)
    assert promote((0, 1), [(1, 0), (2, 2)], 3)  # on the front with (1, 0): nobody better
    assert not promote((3, 3), [(0, 0), (1, 1), (2, 2)], 3)  # 3 of 4 better
    assert promote((3, 3), [(0, 0)], 3, min_trials=3)  # too few at the rung to stop anyone
    with pytest.raises(ValueError):
        promote((0, 0), [], 1)


def test_priority_order_is_fronts_then_an_epsilon_net() -> None:
    # one front, a staircase: the most accurate (first objective) first, then the far end,
    # then the middle; a point next to one already taken comes last
    staircase = [(0.0, 1.0), (0.5, 0.5), (1.0, 0.0), (0.05, 0.95)]
    assert epsilon_net_order(staircase) == [0, 2, 1, 3]
    # objectives are scaled to their range: a size axis 100 times smaller weighs the same
    assert epsilon_net_order([(0, 0.01), (0.5, 0.005), (1, 0), (0.05, 0.0095)]) == [0, 2, 1, 3]
    # (2, 2) is dominated: after the whole front, whatever its distance
    assert priority_order([(2, 2), (0, 1), (1, 0)]) == [1, 2, 0]
    assert epsilon_net_order([]) == [] and priority_order([(3, 3)]) == [0]


def test_eps_net_ranking_stops_a_crowded_trial_on_the_front() -> None:
    # (0.49, 0.49) is non-dominated, but the front's two ends come before it in the order:
    # place 2 of 3 > 1/3 -> stop; the "front" rule lets every non-dominated trial go on
    recorded = [(0.0, 1.0), (1.0, 0.0)]
    assert not promote((0.49, 0.49), recorded, 3)
    assert promote((0.49, 0.49), recorded, 3, ranking="front")
    assert promote((-1.0, 0.5), recorded, 3)  # the most accurate leads the order
    assert promote((0.49, 0.49), recorded, 1.5)  # 2/3 <= 1/1.5
    with pytest.raises(ValueError, match="ranking must be one of eps_net, front"):
        promote((0, 0), recorded, 3, ranking="crowding")


def test_hypervolume_of_a_known_front() -> None:
    assert hypervolume_2d([(1, 2), (2, 1)], (3, 3)) == pytest.approx(3.0)
    assert hypervolume_2d([(1, 2), (2, 1), (2.5, 2.5)], (3, 3)) == pytest.approx(3.0)
    assert hypervolume_2d([(4, 0)], (3, 3)) == 0.0


def test_spearman() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486832980505138)
    assert math.isnan(spearman([1, 2], [1, 2]))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"method": "hyperband"}, "early_stopping.method must be one of moasha, record"),
        ({"rung": 0}, "early_stopping.rung must be a distillation step in [1, 199]"),
        ({"rung": 200}, "early_stopping.rung must be a distillation step in [1, 199]"),
        ({"reduction_factor": 1}, "early_stopping.reduction_factor must be a number > 1"),
        ({"min_trials": 0}, "early_stopping.min_trials must be a positive integer"),
        ({"grace": 1}, "early_stopping.grace is not a key of early_stopping"),
        ({"ranking": "nsga"}, "early_stopping.ranking must be one of eps_net, front"),
        ({"metric": "f1"}, "early_stopping.metric must be one of accuracy, nll, got 'f1'"),
        (3, "early_stopping must be moasha, record, none or a mapping, got 3"),
    ],
)
def test_bad_early_stopping_is_one_line(value: object, message: str) -> None:
    data = {**PARETO, "trial": {"iterations": 2, "steps": 100}, "early_stopping": value}
    with pytest.raises(StudyFileError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_study(data)


def test_early_stopping_parses_and_replaces_the_default_asha() -> None:
    trial = {"iterations": 3, "steps": 100}
    study = parse_study({**PARETO, "trial": trial, "early_stopping": "moasha"})
    assert study.early_stopping == EarlyStopping("moasha", 75, 3.0, 2, "eps_net")  # 3 x 100 / 4
    loose = parse_study({**PARETO, "trial": trial, "early_stopping": {"ranking": "front"}})
    assert loose.early_stopping is not None and loose.early_stopping.ranking == "front"
    fixed = parse_study(
        {"name": "f", "target": "5x", "trial": trial, "early_stopping": {"rung": 100}}
    )
    assert fixed.scheduler == "none" and fixed.early_stopping is not None
    assert fixed.early_stopping.iteration_of(100) == 1
    by_nll = parse_study(
        {
            "name": "f",
            "target": "5x",
            "trial": trial,
            "early_stopping": {"rung": 100, "metric": "nll"},
        }
    ).early_stopping
    assert by_nll is not None and by_nll.metric == "nll"
    assert by_nll.iteration_of(100) is None  # the iteration's dev pass scores no nll: own pass
    with pytest.raises(StudyFileError, match="and scheduler: asha exclude each other"):
        parse_study({"name": "f", "target": "5x", "scheduler": "asha", "early_stopping": "moasha"})
    assert parse_study({**PARETO, "early_stopping": "none"}).early_stopping is None


def _rung_study(tmp_path: Path) -> tuple[optuna.Study, object]:
    storage = open_storage(f"sqlite:///{tmp_path / 'rung.db'}")
    study = optuna.create_study(
        study_name="rungs", storage=storage, directions=["maximize", "minimize"]
    )
    for accuracy, size in [(0.90, 0.10), (0.80, 0.20), (0.70, 0.30)]:  # finished, one each
        study.add_trial(
            create_trial(
                values=[accuracy, size * 1000],
                user_attrs={
                    "accuracy": accuracy,
                    "rung": {"step": 5, "accuracy": accuracy - 0.1, "size": size},
                },
            )
        )
    return study, storage


def test_rung_gate_ranks_against_the_records_in_the_database(tmp_path: Path) -> None:
    study, storage = _rung_study(tmp_path)
    settings = EarlyStopping("moasha", rung=5, reduction_factor=3, min_trials=2)

    def gate_for(size: float) -> tuple[RungGate, optuna.trial.Trial]:
        trial = study.ask()
        return RungGate(settings, storage, "rungs", trial.number, size, trial.set_user_attr), trial

    # records at the rung: (0.8, 0.1) front 0, (0.7, 0.2) front 1, (0.6, 0.3) front 2
    second, trial = gate_for(0.25)  # (0.75, 0.25): front 1, 1 of 4 better <= 1/3: continues
    second.check(5, {"accuracy": 0.75})
    assert storage.get_trial(trial._trial_id).user_attrs["rung_decision"] == "continue"
    gate, trial = gate_for(0.35)  # (0.55, 0.35): all 4 others better (4/5 > 1/3): stops
    gate.check(4, {"accuracy": 0.55})  # not the rung's step: nothing happens
    with pytest.raises(RungStopped) as stopped:
        gate.check(5, {"accuracy": 0.55})
    assert stopped.value.step == 5 and stopped.value.accuracy == 0.55
    stored = storage.get_trial(trial._trial_id).user_attrs
    assert stored["rung"] == {"step": 5, "accuracy": 0.55, "size": 0.35}
    assert stored["rung_decision"] == "stop"
    gate.check(5, {"accuracy": 0.55})  # a gate decides once

    winner, trial = gate_for(0.05)  # the smallest of all: on the front, continues
    winner.check(5, {"accuracy": 0.5})
    assert storage.get_trial(trial._trial_id).user_attrs["rung_decision"] == "continue"

    recorder = RungGate(
        EarlyStopping("record", 5, 3, 2), storage, "rungs", study.ask().number, 0.9, lambda *a: None
    )
    recorder.check(5, {"accuracy": 0.0})  # dominated by everything, but "record" stops nobody


def test_rung_report_and_its_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study, _ = _rung_study(tmp_path)
    report = rung_report(study.get_trials(), "rungs")
    assert (report.n, report.rung_step, report.verdict) == (3, 5, "ok")
    assert report.spearman == pytest.approx(1.0)
    url = f"sqlite:///{tmp_path / 'rung.db'}"
    assert report_main(["rungs", "--storage", url]) == 0
    assert "Spearman rho(rung, final dev accuracy) = 1.000: ok" in capsys.readouterr().out
    assert report_main(["nope", "--storage", url]) == 2
    assert "no study named 'nope'" in capsys.readouterr().err


def test_rung_report_says_when_its_rho_is_over_the_survivors_only(tmp_path: Path) -> None:
    study, _ = _rung_study(tmp_path)
    for accuracy in (0.95, 0.60):  # finals out of step with their rungs: rho falls below 0.6
        study.add_trial(
            create_trial(
                values=[accuracy, 150.0],
                user_attrs={
                    "accuracy": accuracy,
                    "rung": {"step": 5, "accuracy": 1.0 - accuracy, "size": 0.15},
                },
            )
        )
    assert rung_report(study.get_trials()).verdict == "move the rung later"
    study.add_trial(create_trial(state=TrialState.PRUNED))  # stopped elsewhere, not at the rung
    assert rung_report(study.get_trials()).verdict == "move the rung later"
    study.add_trial(
        create_trial(
            state=TrialState.PRUNED,
            user_attrs={"rung": {"step": 5, "accuracy": 0.1, "size": 0.3}},
        )
    )
    report = rung_report(study.get_trials())
    assert report.stopped == 1 and report.spearman < 0.6
    assert "over the rung's survivors only (1 stopped)" in report.verdict
    assert "record" in report.line()


def test_tiny_pareto_search_stores_stopped_trials_pruned(
    tmp_path: Path, tiny_model_dir: Path, tiny_csv: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """End to end under Ray: a rung record that dominates everything stops every new trial."""
    url = f"sqlite:///{tmp_path / 'ladasearch.db'}"
    study = write_study(
        tmp_path,
        tiny_model_dir,
        tiny_csv,
        mode="pareto",
        target=None,
        target_range=[0.3, 0.7],
        objectives=["accuracy", "params"],
        trials=3,
        trial={"iterations": 1, "steps": 4},
        early_stopping={"method": "moasha", "rung": 2, "reduction_factor": 3, "min_trials": 1},
    )
    cache = tmp_path_factory.mktemp("teacher-cache")
    first = ladasearch(["search", str(study), "--quiet", "--trials", "1"], tmp_path, cache)
    assert first.returncode == 0, first.stderr[-2000:]
    loaded = optuna.load_study(study_name="tiny", storage=url)
    (ran,) = loaded.get_trials()
    assert ran.state == TrialState.COMPLETE and ran.user_attrs["rung"]["step"] == 2
    loaded.add_trial(  # a record no trial can beat at the rung
        create_trial(values=[1.0, 1], user_attrs={"rung": {"step": 2, "accuracy": 1.0, "size": 0}})
    )
    done = ladasearch(["search", str(study), "--quiet"], tmp_path, cache)
    assert done.returncode == 0, done.stderr[-2000:]
    pruned = [t for t in loaded.get_trials() if t.state == TrialState.PRUNED]
    assert len(pruned) == 1
    attrs = pruned[0].user_attrs
    assert attrs["pruned_at_step"] == 2 and attrs["rung_decision"] == "stop"
    assert attrs["last_values"]["accuracy"] == attrs["rung"]["accuracy"]
    assert "accuracy" not in attrs  # no final metrics: it never finished
    shown = last_json(ladasearch(["show", "tiny", "--json"], tmp_path, cache).stdout)["trials"]
    row = next(t for t in shown if t["number"] == pruned[0].number)
    assert row["state"] == "PRUNED" and row["stopped_at_step"] == 2
    assert pruned[0].number not in {t.number for t in loaded.best_trials}
    table = ladasearch(["show", "tiny"], tmp_path, cache).stdout
    assert f"trial {pruned[0].number}: stopped early at its rung, step 2" in table


def test_a_record_study_places_the_rung_on_its_dev_curve(tmp_path: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 'curve.db'}")
    study = optuna.create_study(study_name="c", storage=storage, directions=["maximize"])
    finals = [0.60, 0.70, 0.80, 0.90]
    early = [0.80, 0.60, 0.90, 0.70]  # step 10 ranks them unlike the end; step 20 like it
    for final, first in zip(finals, early, strict=True):
        trial = study.ask()
        gate = RungGate(
            EarlyStopping("record", 10, 3, 2), storage, "c", trial.number, 0.2, trial.set_user_attr
        )
        gate.check(10, {"accuracy": first})
        gate.observe(10, {"accuracy": first})
        gate.observe(20, {"accuracy": final - 0.1})
        trial.set_user_attr("accuracy", final)
        study.tell(trial, final)
    curve = curve_report(study.get_trials())
    assert curve[10][0] == 4 and curve[10][1] == pytest.approx(0.0)
    assert curve[20] == (4, pytest.approx(1.0))
    assert earliest_good_step(curve) == 20
    assert earliest_good_step({10: (4, 0.2)}) is None


def test_rung_ranked_by_nll_breaks_what_accuracy_ties(tmp_path: Path) -> None:
    """Three earlier trials all at the majority class at the rung, same size: accuracy cannot
    tell a new one from them; by dev nll the one below them all goes on, the one above stops."""
    storage = open_storage(f"sqlite:///{tmp_path / 'nll.db'}")
    study = optuna.create_study(study_name="n", storage=storage, directions=["maximize"])
    for nll in (0.60, 0.65, 0.70):
        record = {"step": 5, "accuracy": 0.58, "nll": nll, "size": 0.2}
        study.add_trial(create_trial(value=0.7, user_attrs={"rung": record}))
    settings = EarlyStopping("moasha", 5, 3, 2, metric="nll")
    for nll, stops in ((0.55, False), (0.80, True)):
        trial = study.ask()
        gate = RungGate(settings, storage, "n", trial.number, 0.2, trial.set_user_attr)
        scores = {"accuracy": 0.58, "nll": nll}
        if stops:
            with pytest.raises(RungStopped):
                gate.check(5, scores)
        else:
            gate.check(5, scores)
        stored = storage.get_trial(trial._trial_id).user_attrs
        assert stored["rung"] == {"step": 5, "accuracy": 0.58, "nll": nll, "size": 0.2}
        assert stored["rung_decision"] == ("stop" if stops else "continue")
        study.tell(trial, state=TrialState.FAIL)
    with pytest.raises(ValueError, match="the rung ranks by nll"):
        trial = study.ask()
        RungGate(settings, storage, "n", trial.number, 0.2, trial.set_user_attr).check(
            5, {"accuracy": 0.58}
        )


def test_the_nll_curve_is_ranked_lower_is_better(tmp_path: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 'nllcurve.db'}")
    study = optuna.create_study(study_name="c", storage=storage, directions=["maximize"])
    for final, nll in zip([0.60, 0.70, 0.80, 0.90], [0.69, 0.65, 0.60, 0.50], strict=True):
        trial = study.ask()
        gate = RungGate(
            EarlyStopping("record", 10, 3, 2), storage, "c", trial.number, 0.2, trial.set_user_attr
        )
        gate.observe(10, {"accuracy": 0.58, "nll": nll})  # accuracy tied, nll not
        trial.set_user_attr("accuracy", final)
        study.tell(trial, final)
    assert math.isnan(curve_report(study.get_trials())[10][1])  # no spread in accuracy
    assert curve_report(study.get_trials(), "nll")[10] == (4, pytest.approx(1.0))
