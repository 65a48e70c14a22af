"""Multi-seed comparisons on the tiny model: mean +- std, majority class, paired verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import recipes


def test_recipes_table_has_three_seeds_majority_and_paired_verdicts(
    tiny_model_dir: Path, tiny_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "table.md"
    code = recipes.main(
        [
            "--compare", "recipes", "--model", str(tiny_model_dir), "--task", f"csv:{tiny_csv}",
            "--text-column", "sentence", "--label-column", "sentiment", "--target", "2",
            "--seeds", "3", "--iterations", "2", "--steps", "2", "--batch-size", "16",
            "--teacher-steps", "20", "--teacher-batch-size", "16",
            "--teacher-learning-rate", "1e-3", "--cache-dir", str(tmp_path / "cache"),
            "--out", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    table = out.read_text(encoding="utf-8")
    assert "3 seeds; majority class: dev" in table
    rows = [line for line in table.splitlines() if line.startswith("| ") and "variant" not in line]
    assert [row.split(" | ")[0] for row in rows] == [
        "| new recipe",
        "| old recipe",
        "| new recipe + label CE",
    ]
    for row in rows:
        cells = row.split(" | ")
        assert "+-" in cells[2] or "did not converge" in cells[2]
        assert cells[5] in ("reference", "tie", "beats", "loses to", "-")
    assert "seed 2" in capsys.readouterr().out


def test_fewer_than_three_seeds_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        recipes.main(["--seeds", "2"])
    assert info.value.code == 2
    assert "at least 3" in capsys.readouterr().err
