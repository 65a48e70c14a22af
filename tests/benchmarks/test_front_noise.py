"""The front-noise replicate of a record study (benchmarks.front_noise)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.front_noise import Replicate, compare, load_record, main, ratios_of
from ladasearch.compression.accounting import parameter_groups
from ladasearch.models import load_classifier
from ladasearch.search.pareto_rank import hypervolume_2d
from ladasearch.search.space import ConstrainedSpace, GroupSizes, enqueue_points
from ladasearch.testing import make_tiny

MAJORITY = 0.58


def test_compare_pairs_trials_and_divides_the_fronts() -> None:
    record = [(0.80, 0.40), (0.70, 0.10), (0.60, 0.20)]
    again = [(0.78, 0.40), (0.72, 0.10), (0.58, 0.20)]
    numbers = compare(Replicate(record, again, (MAJORITY, 0.40)))
    ref = (-MAJORITY, 0.40)
    base = hypervolume_2d([(-a, r) for a, r in record], ref)
    other = hypervolume_2d([(-a, r) for a, r in again], ref)
    assert numbers["trials"] == 3
    assert numbers["hypervolume_ratio"] == pytest.approx(other / base)
    assert numbers["mean_difference"] == pytest.approx(-0.02 / 3)
    assert numbers["largest_difference"] == pytest.approx(-0.02)  # the first of the largest
    assert numbers["sd_difference"] > 0


def test_a_file_without_a_record_study_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_text("no json here\n")
    with pytest.raises(SystemExit, match="holds no JSON line"):
        load_record(path)
    path.write_text(json.dumps({"moasha": {}, "settings": {}}) + "\n")
    with pytest.raises(SystemExit, match="holds no record study"):
        load_record(path)


def _tiny_space(tmp_path: Path) -> ConstrainedSpace:
    model_dir, _ = make_tiny(tmp_path / "tiny")
    net, _ = load_classifier(str(model_dir), ["0", "1"])
    return ConstrainedSpace(GroupSizes.of(parameter_groups(net)), target_range=(0.25, 0.5))


def test_ratios_enqueue_back_to_the_recorded_point(tmp_path: Path) -> None:
    space = _tiny_space(tmp_path)
    params = {"target": 0.41, "embd_position": 0.3, "prune_share": 0.6}
    (ratios,) = ratios_of([{"number": 0, "params": params}], space)
    point = space.point_at(0.41, *_p_embd_and_share(space, params))
    assert ratios == {k: pytest.approx(point[k]) for k in ("p_embd", "p_svd", "p_weight")}
    (again,) = enqueue_points(space, (ratios,))
    assert again["prune_share"] == pytest.approx(params["prune_share"], abs=0.02)
    with pytest.raises(SystemExit, match="trial 3 has no target"):
        ratios_of([{"number": 3, "params": {"p_embd": 0.5, "prune_share": 0.5}}], space)


def _p_embd_and_share(space: ConstrainedSpace, params: dict[str, float]) -> tuple[float, float]:
    low, high = space.sizes.p_embd_range(params["target"])
    return low + params["embd_position"] * (high - low), params["prune_share"]


def _record_output(path: Path) -> None:
    """A record study's output as benchmarks.early_stopping prints it (smoke settings)."""
    settings = {
        "trials": 2, "iterations": 1, "steps": 4, "rung": "2", "rung_every": 10,
        "reduction_factor": 3.0, "learning_rate": 2e-4, "latency": False, "min_trials": 2,
        "ranking": "eps_net", "metric": "accuracy", "target_range": ["2x", "4x"],
        "sampler": "tpe", "seed": 0, "model": "minilm", "task": "rt", "smoke": True,
        "name": "noise", "folder": str(path.parent), "cache": None, "arms": ["record"],
    }  # fmt: skip
    rows = [
        {
            "number": n,
            "state": "COMPLETE",
            "params": {"target": t, "embd_position": 0.5, "prune_share": s},
            "accuracy": 0.5,
            "ratio": t,
        }
        for n, (t, s) in enumerate([(0.4, 0.3), (0.3, 0.7)])
    ]
    record = {"trials": rows, "reference": [0.5, 0.5]}
    path.write_text("log line\n" + json.dumps({"record": record, "settings": settings}) + "\n")


def test_replicate_trains_the_same_points_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = tmp_path / "record.txt"
    _record_output(record)
    with pytest.raises(SystemExit):  # the record's own seed replicates nothing
        main([str(record), "--seed", "0", "--folder", str(tmp_path / "same")])
    assert "the record study's own seed" in capsys.readouterr().err
    assert main([str(record), "--seed", "1", "--folder", str(tmp_path / "work")]) == 0
    out = capsys.readouterr().out
    numbers = json.loads(out.strip().splitlines()[-1])
    assert numbers["trials"] == 2 and numbers["seed"] == 1 and numbers["record_seed"] == 0
    assert numbers["ratio_drift"] < 0.02  # the same points, up to rank rounding on a tiny model
    assert "| 0 | 0.4" in out and "| 1 | 0.3" in out
