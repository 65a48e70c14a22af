"""The multi-rung and plateau-guard replays of a record study (benchmarks.multi_rung_replay)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.multi_rung_replay import main, replay_guarded, replay_rungs
from ladasearch.search.pareto_rank import hypervolume_2d

MAJORITY = 0.58


def _row(number: int, size: float, curve: dict[int, float], final: float) -> dict[str, object]:
    return {
        "number": number,
        "state": "COMPLETE",
        "rung": {"size": size},
        "rung_curve": {str(k): v for k, v in curve.items()},
        "rung_curve_nll": {str(k): 1.0 - v for k, v in curve.items()},
        "accuracy": final,
        "ratio": size,
    }


# trial 3 sits on the majority class at step 10 and blooms by step 20; trial 4 never learns
ROWS = [
    _row(0, 0.30, {10: 0.70, 20: 0.75}, 0.78),
    _row(1, 0.08, {10: 0.62, 20: 0.60}, 0.61),
    _row(2, 0.40, {10: 0.72, 20: 0.78}, 0.80),
    _row(3, 0.10, {10: MAJORITY, 20: 0.74}, 0.76),
    _row(4, 0.15, {10: MAJORITY, 20: MAJORITY}, MAJORITY),
]


def _record() -> dict[str, object]:
    reference = (-MAJORITY, 0.40)
    points = [(-float(r["accuracy"]), float(r["ratio"])) for r in ROWS]  # type: ignore[arg-type]
    return {
        "trials": ROWS,
        "reference": [MAJORITY, 0.40],
        "hypervolume": hypervolume_2d(points, reference),
    }


def test_the_plateau_guard_spares_the_late_bloomer_and_stops_the_dead_trial() -> None:
    record = _record()
    stopped, saved, kept = replay_rungs(record, (10,), 2.0, "accuracy", 40)
    assert stopped == 2 and kept < 0.95  # the rung stops the bloomer with the dead trial
    stopped, saved, kept = replay_guarded(record, 10, 2.0, "accuracy", 40, 0.0)
    # the bloomer runs on; the dead trial stops at step 20 (20 of its 40 steps saved)
    assert (stopped, kept) == (1, pytest.approx(1.0))
    assert saved == pytest.approx(20 / 200)


def test_the_command_prints_both_tables_and_skips_unmeasured_rungs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = {"record": _record(), "settings": {"iterations": 1, "steps": 40}}
    output = tmp_path / "record.txt"
    output.write_text("a line of the run\n" + json.dumps(document) + "\n")
    assert main([str(output)]) == 0
    printed = capsys.readouterr().out
    assert "| 10, 20 | 2 | accuracy |" in printed
    assert "| 10, 15 |" not in printed  # step 15 was not measured
    stopped, saved, kept = replay_guarded(_record(), 10, 4.0, "accuracy", 40, 0.0)
    row = f"| 10 | 0 | 4 | accuracy | {stopped} | {100 * saved:.1f}% | {100 * kept:.1f}% |"
    assert row in printed and "| 20 |" not in printed.split("plateau guard")[1]  # no step 40
