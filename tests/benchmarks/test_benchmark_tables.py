"""The GPU batch's tables: Sobol points on the target, shard merging, partial seeds, dev-only pick."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import BertForSequenceClassification

from benchmarks.gpu_searched import dev_best
from benchmarks.seeded import Variant, VariantResult, render
from benchmarks.tabular import COLUMNS, merge, points, read_rows
from ladasearch.compression.accounting import parameter_groups
from ladasearch.compression.ratios import Ratios
from ladasearch.compression.schedule import TrainingSettings
from ladasearch.search.space import ConstrainedSpace, GroupSizes


def _space(model: BertForSequenceClassification, **where: object) -> ConstrainedSpace:
    return ConstrainedSpace(GroupSizes.of(parameter_groups(model)), **where)  # type: ignore[arg-type]


def test_tabular_points_sit_on_the_target_and_differ(
    tiny_bert: BertForSequenceClassification,
) -> None:
    space = _space(tiny_bert, target=0.4)
    drawn = points(space, 8)
    assert len(drawn) == 8
    for ratios, params in drawn:
        assert ratios["predicted_ratio"] == pytest.approx(0.4, rel=0.02)
        assert set(params) == {"p_embd", "prune_share"}
    assert len({round(r["p_embd"], 6) for r, _ in drawn}) == 8
    assert points(space, 8) == drawn  # deterministic


def test_tabular_pareto_points_span_the_range(tiny_bert: BertForSequenceClassification) -> None:
    space = _space(tiny_bert, target_range=(0.3, 0.6))
    drawn = points(space, 16)
    targets = [r["target_ratio"] for r, _ in drawn]
    assert min(targets) < 0.4 and max(targets) > 0.5
    for ratios, _ in drawn:
        assert ratios["predicted_ratio"] == pytest.approx(ratios["target_ratio"], rel=0.03)


def _write(path: Path, rows: list[dict[str, object]]) -> None:
    header = ",".join(COLUMNS)
    lines = [header] + [",".join(str(row.get(c, "")) for c in COLUMNS) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_merge_keeps_each_point_once_in_order(tmp_path: Path) -> None:
    _write(
        tmp_path / "a.csv", [{"point": 2, "dev_accuracy": 0.7}, {"point": 0, "dev_accuracy": 0.6}]
    )
    _write(
        tmp_path / "b.csv", [{"point": 1, "dev_accuracy": 0.8}, {"point": 2, "dev_accuracy": 0.1}]
    )
    assert merge([tmp_path / "a.csv", tmp_path / "b.csv"], tmp_path / "all.csv") == 3
    rows = read_rows(tmp_path / "all.csv")
    assert [row["point"] for row in rows] == ["0", "1", "2"]
    assert rows[2]["dev_accuracy"] == "0.7"


def test_the_searched_point_is_chosen_on_dev_only() -> None:
    rows = [
        {"point": "0", "dev_accuracy": "0.70", "test_accuracy": "0.99"},
        {"point": "1", "dev_accuracy": "0.80", "test_accuracy": "0.50"},
    ]
    assert dev_best(rows)["point"] == "1"


def _result(name: str, runs: list[tuple[int, list[int]]]) -> VariantResult:
    return VariantResult(
        Variant(name, Ratios(0.5, 0.5, 0.5), TrainingSettings()),
        [
            {
                "seed": seed,
                "accuracy": 0.9,
                "test_accuracy": sum(p == y for p, y in zip(preds, LABELS, strict=True))
                / len(LABELS),
                "ratio": 0.2,
                "test_predictions": preds,
                "history": [{"accuracy": 0.9}],
            }
            for seed, preds in runs
        ],
    )


LABELS = [0, 1] * 20


def test_partial_seeds_are_paired_on_the_seeds_both_ran() -> None:
    right, wrong = list(LABELS), [1 - y for y in LABELS]
    reference = _result("ref", [(0, right), (1, right), (2, right)])
    cut = _result("cut", [(0, wrong)])  # one seed: paired with the reference's seed 0 only
    table = render([reference, cut], [0, 1] * 10, LABELS)
    row = next(line for line in table.splitlines() if line.startswith("| cut"))
    assert "(1 seed)" in row
    assert "loses to" in row
    # 40 discordant pairs on one seed: p = 2 * 0.5**40
    assert f"{2 * 0.5**40:.3g}" in row
