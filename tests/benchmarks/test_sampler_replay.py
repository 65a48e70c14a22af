"""The sampler replay on a synthetic table: the optimum is reachable, replays are deterministic,
repeats are refused, the CLI's last line is one JSON object."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from transformers import BertForSequenceClassification

from benchmarks import samplers
from benchmarks.replay import hypervolume, load_table, replay
from benchmarks.tabular import COLUMNS, points
from ladasearch.compression.accounting import parameter_groups
from ladasearch.compression.ratios import Ratios
from ladasearch.search.samplers import make_sampler
from ladasearch.search.space import ConstrainedSpace, GroupSizes


def _bowl(unit: tuple[float, ...], peak: tuple[float, ...]) -> float:
    """A smooth synthetic accuracy, 0.9 at ``peak``, lower away from it."""
    return 0.9 - 0.3 * sum((a - b) ** 2 for a, b in zip(unit, peak, strict=True))


def _write_table(
    path: Path, sizes: GroupSizes, target: float | None, target_range: tuple[float, float] | None
) -> list[dict[str, str]]:
    space = ConstrainedSpace(sizes, target, target_range)
    rows = []
    for number, (ratios, params) in enumerate(points(space, 64)):
        if target is not None:
            low, high = sizes.p_embd_range(target)
            unit: tuple[float, ...] = (
                (params["p_embd"] - low) / (high - low),
                params["prune_share"],
            )
            peak: tuple[float, ...] = (0.3, 0.7)
        else:
            assert target_range is not None
            t_low, t_high = target_range
            unit = (
                (params["target"] - t_low) / (t_high - t_low),
                params["embd_position"],
                params["prune_share"],
            )
            peak = (1.0, 0.3, 0.7)  # the largest models are the most accurate
        ratio = ratios["target_ratio"]
        rows.append(
            {
                "point": str(number),
                **{k: f"{ratios[k]:.6f}" for k in ("p_embd", "p_svd", "p_weight")},
                "target": f"{ratio:.6f}",
                "embd_position": f"{params['embd_position']:.6f}"
                if "embd_position" in params
                else "",
                "prune_share": f"{params['prune_share']:.6f}",
                "ratio": f"{ratio:.6f}",
                "params": str(int(ratio * sizes.total)),
                "dev_accuracy": f"{_bowl(unit, peak):.6f}",
                "test_accuracy": "0.5",
                "seed": "0",
                "steps": "1",
                "iterations": "1",
                "wall_s": "0",
            }
        )
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return rows


@pytest.fixture
def sizes(tiny_bert: BertForSequenceClassification) -> GroupSizes:
    return GroupSizes.of(parameter_groups(tiny_bert))


def test_every_trial_is_a_distinct_point_and_exhaustion_finds_the_optimum(
    tmp_path: Path, sizes: GroupSizes
) -> None:
    rows = _write_table(tmp_path / "t.csv", sizes, 0.3, None)
    table = load_table(rows, sizes)
    for name in ("tpe", "random", "qmc", "nsga2"):
        chosen, refused = replay(table, sizes, make_sampler(name, 0), len(table))
        assert sorted(chosen) == list(range(len(table)))  # 64 trials: 64 distinct points
        assert max(table.dev[i] for i in chosen) == max(table.dev)
    assert refused > 0  # the last trials of a full table hit evaluated points and are refused


def test_tpe_finds_the_known_optimum_of_a_smooth_table_sooner_than_random(
    tmp_path: Path, sizes: GroupSizes
) -> None:
    table = load_table(_write_table(tmp_path / "t.csv", sizes, 0.3, None), sizes)
    top3 = sorted(table.dev)[-3]
    tpe = [
        max(table.dev[i] for i in replay(table, sizes, make_sampler("tpe", s), 30)[0])
        for s in range(8)
    ]
    rnd = [
        max(table.dev[i] for i in replay(table, sizes, make_sampler("random", s), 30)[0])
        for s in range(8)
    ]
    assert sum(v >= top3 for v in tpe) >= 6  # a bowl: TPE reaches the top 3 of 64 points
    assert sum(tpe) >= sum(rnd)


def test_replay_is_deterministic_given_the_seed(tmp_path: Path, sizes: GroupSizes) -> None:
    table = load_table(_write_table(tmp_path / "t.csv", sizes, 0.3, None), sizes)
    for name in ("tpe", "nsga2", "qmc"):
        first = replay(table, sizes, make_sampler(name, 3), 15)
        assert replay(table, sizes, make_sampler(name, 3), 15) == first
    assert replay(table, sizes, make_sampler("tpe", 4), 15) != first


def test_warm_start_points_are_the_first_trials(tmp_path: Path, sizes: GroupSizes) -> None:
    table = load_table(_write_table(tmp_path / "t.csv", sizes, None, (0.2, 0.5)), sizes, (0.2, 0.5))
    space = table.space(sizes)
    warm = [space.params_for(Ratios(0.3, 0.6, 0.6), 0.45)]
    chosen, _ = replay(table, sizes, make_sampler("random", 0), 5, warm)
    assert chosen[0] == table.nearest(
        (0.25 / 0.3 * 1.0, warm[0]["embd_position"], warm[0]["prune_share"])
    )


def test_hypervolume_of_a_known_front() -> None:
    # (accuracy up, size down), reference (0.5, 1.0): a dominated point adds nothing
    assert hypervolume([(0.7, 0.2), (0.6, 0.4)], (0.5, 1.0)) == pytest.approx(0.2 * 0.8)
    assert hypervolume([(0.6, 0.2), (0.7, 0.6)], (0.5, 1.0)) == pytest.approx(0.1 * 0.8 + 0.1 * 0.4)
    assert hypervolume([(0.4, 0.2)], (0.5, 1.0)) == 0.0


def test_cli_prints_one_json_object_last(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fixed = tmp_path / "fixed.csv"
    pareto = tmp_path / "pareto.csv"
    from ladasearch.models import load_classifier

    net, _ = load_classifier(str(tiny_model_dir), ["0", "1"])
    tiny = GroupSizes.of(parameter_groups(net))
    _write_table(fixed, tiny, 0.3, None)
    _write_table(pareto, tiny, None, (0.2, 0.5))
    argv = [
        "--table",
        str(fixed),
        "--table",
        str(pareto),
        "--target-range",
        "0.2,0.5",
        "--model",
        str(tiny_model_dir),
        "--seeds",
        "3",
        "--checkpoints",
        "5,10",
        "--json",
    ]
    assert samplers.main(argv) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    document = json.loads(last)
    assert document["seeds"] == 3 and document["checkpoints"] == [5, 10]
    fixed_result = document["tables"]["fixed"]["samplers"]
    assert set(fixed_result) == {"tpe", "random", "qmc", "nsga2"}
    assert set(fixed_result["tpe"]) >= {"best_dev@5", "best_dev@10"}
    pareto_result = document["tables"]["pareto"]
    assert pareto_result["mode"] == "pareto"
    hv = pareto_result["samplers"]["nsga2"]["hv@10"]
    assert 0 < hv["median"] <= 1 and len(hv["iqr"]) == 2
    assert pareto_result["vs_random"]["tpe"]["best_dev@10"]["verdict"] in {"beats", "loses", "tie"}
