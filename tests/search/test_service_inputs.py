"""Odd input is refused in one line, exit 2, with nothing written (docs/SEARCH.md's table)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from search_helpers import write_study

from ladasearch.cli import main

Case = Callable[[Path, Path, Path], list[str]]


def _two_row_csv(tmp: Path, model: Path, csv: Path) -> list[str]:
    data = tmp / "two.csv"
    data.write_text("sentence,sentiment\ngood film,pos\nbad film,neg\n", encoding="utf-8")
    return ["search", str(write_study(tmp, model, data)), "--storage", f"sqlite:///{tmp}/s.db"]


def _duplicate_key(tmp: Path, model: Path, csv: Path) -> list[str]:
    path = write_study(tmp, model, csv)
    path.write_text(path.read_text(encoding="utf-8") + "trials: 9\n", encoding="utf-8")
    return ["search", str(path), "--storage", f"sqlite:///{tmp}/s.db"]


def _pareto(tmp: Path, model: Path, csv: Path, target_range: list[object]) -> list[str]:
    path = write_study(tmp, model, csv, mode="pareto", target=None, target_range=target_range)
    return ["search", str(path), "--storage", f"sqlite:///{tmp}/s.db"]


def _cpus(tmp: Path, model: Path, csv: Path) -> list[str]:
    path = write_study(tmp, model, csv, resources={"cpu": 64})
    return ["search", str(path), "--storage", f"sqlite:///{tmp}/s.db"]


def _gpus(tmp: Path, model: Path, csv: Path) -> list[str]:
    path = write_study(tmp, model, csv, resources={"gpu": 8})
    return ["search", str(path), "--storage", f"sqlite:///{tmp}/s.db"]


def _unknown_model(tmp: Path, model: Path, csv: Path) -> list[str]:
    path = write_study(tmp, model, csv, model="nosuchorg/no-such-bert")
    return ["search", str(path), "--storage", f"sqlite:///{tmp}/s.db"]


CASES: list[tuple[str, Case, str]] = [
    ("2-row CSV", _two_row_csv, "has 1 example(s); every label needs at least 5"),
    ("duplicate YAML key", _duplicate_key, "key 'trials' is given twice"),
    ("reversed range", lambda t, m, c: _pareto(t, m, c, ["10x", "2x"]), "is reversed"),
    ("reversed ratios", lambda t, m, c: _pareto(t, m, c, [0.4, 0.1]), "is reversed"),
    ("empty range", lambda t, m, c: _pareto(t, m, c, ["4x", "4x"]), "must span a range"),
    ("too many CPUs", _cpus, "resources.cpu: 64 per trial, but the largest node"),
    ("too many GPUs", _gpus, "resources.gpu: 8 per trial, but the largest node"),
    ("unknown model", _unknown_model, "'nosuchorg/no-such-bert' is not a folder"),
    ("show, missing db", lambda t, m, c: ["show", "x", "--storage", f"sqlite:///{t}/s.db"], "no study database"),
    ("studies, missing db", lambda t, m, c: ["studies", "--storage", f"sqlite:///{t}/s.db"], "no study database"),
    ("export, missing db", lambda t, m, c: ["export", "x", "--best", "-o", str(t / "out"), "--storage", f"sqlite:///{t}/s.db"], "no study database"),
    ("plot, missing db", lambda t, m, c: ["plot", "x", "--storage", f"sqlite:///{t}/s.db", "-o", str(t / "p.html")], "no study database"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "case", "message"), CASES, ids=[c[0] for c in CASES])
def test_odd_input_is_one_line_and_writes_nothing(
    what: str,
    case: Case,
    message: str,
    tmp_path: Path,
    tiny_model_dir: Path,
    tiny_csv: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("LADASEARCH_STORAGE", raising=False)
    argv = case(tmp_path, tiny_model_dir, tiny_csv)
    before = time.monotonic()
    code = main(argv)
    elapsed = time.monotonic() - before
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    assert message in err, err
    assert elapsed < 30
    assert not (tmp_path / "s.db").exists()  # no study row, no empty database file
    assert not (tmp_path / "runs").exists()
