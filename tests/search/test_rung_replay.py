"""MOASHA replayed on a record study: what a rung would stop, save and cost the front, and the
rung report's lines that say it (a rung can rank well overall and still lose a late bloomer)."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from ladasearch.search.early_stopping import EarlyStopping, RungGate
from ladasearch.search.rung_replay import (
    earliest_safe_step,
    front_reference,
    replay_rung,
    replay_steps,
)
from ladasearch.search.rung_report import main as report_main
from ladasearch.search.studydb.connect import open_storage

optuna.logging.set_verbosity(optuna.logging.WARNING)

# (size, dev accuracy at steps 10 / 20, final accuracy): trial 3 is a late bloomer, still at the
# majority class (0.58) at step 10, where trial 1 (smaller, an early starter that ends low)
# dominates it, and on the final front at its size; trial 4 never learns
TRIALS = [
    (0.30, {10: 0.70, 20: 0.75}, 0.78),
    (0.08, {10: 0.62, 20: 0.60}, 0.61),
    (0.40, {10: 0.72, 20: 0.78}, 0.80),
    (0.10, {10: 0.58, 20: 0.74}, 0.76),
    (0.15, {10: 0.58, 20: 0.58}, 0.58),
]


def _record_study(tmp_path: Path) -> tuple[optuna.Study, str]:
    url = f"sqlite:///{tmp_path / 'record.db'}"
    storage = open_storage(url)
    study = optuna.create_study(study_name="rec", storage=storage, directions=["maximize"])
    study.set_user_attr("majority_accuracy", 0.58)
    study.set_user_attr(
        "settings",
        {
            "trial": {"iterations": 1, "steps": 40},
            "early_stopping": {"method": "record", "rung": 10, "reduction_factor": 2.0},
        },
    )
    settings = EarlyStopping("record", rung=10, reduction_factor=2, min_trials=2)
    for size, curve, final in TRIALS:
        trial = study.ask()
        gate = RungGate(settings, storage, "rec", trial.number, size, trial.set_user_attr)
        for step, accuracy in curve.items():
            gate.observe(step, {"accuracy": accuracy, "nll": 1.0 - accuracy})
        gate.check(10, {"accuracy": curve[10], "nll": 1.0 - curve[10]})
        trial.set_user_attr("accuracy", final)
        trial.set_user_attr("ratio", size)
        study.tell(trial, final)
    return study, url


def test_a_replay_stops_the_late_bloomer_early_and_not_later(tmp_path: Path) -> None:
    study, _ = _record_study(tmp_path)
    trials = study.get_trials()
    reference = front_reference(trials, 0.58)
    assert reference == (-0.58, 0.40)
    assert replay_steps(trials) == [10, 20]
    early = replay_rung(trials, 10, 2.0, 40, reference)
    # at step 10 the bloomer (3) is dominated and stopped with the dead trial (4)
    assert early.pruned == (3, 4)
    assert early.steps_used == 3 * 40 + 2 * 10 and early.steps_full == 5 * 40
    assert early.saved == pytest.approx(0.3)
    assert early.kept < 0.95  # the front lost its smallest point
    late = replay_rung(trials, 20, 2.0, 40, reference)
    assert late.pruned == (4,) and late.kept == pytest.approx(1.0)  # 4 adds nothing to the front
    assert earliest_safe_step([early, late]) == 20
    assert earliest_safe_step([early]) is None
    assert "stops 2, saves 30.0% of the steps" in early.line()


def test_the_rung_report_prints_the_replays_and_the_safe_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, url = _record_study(tmp_path)
    assert report_main(["rec", "--storage", url]) == 0
    out = capsys.readouterr().out
    assert "replay at step 10 by accuracy, reduction 2: stops 2, saves 30.0% of the steps" in out
    assert "earliest step whose replay keeps >= 98% of the front (metric: accuracy): 20" in out
    assert report_main(["rec", "--storage", url, "--json"]) == 0
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert data["earliest_safe_step"] == {"accuracy": 20, "nll": 20}
    assert data["replays"]["accuracy"][0]["pruned"] == [3, 4]


def test_a_bad_reduction_factor_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, url = _record_study(tmp_path)
    with pytest.raises(SystemExit) as exited:
        report_main(["rec", "--storage", url, "--reduction-factor", "1"])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("error: --reduction-factor must be > 1, got 1")
    assert "Traceback" not in "".join(err)
