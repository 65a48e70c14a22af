"""The benchmark harness: the smoke profile end to end on the tiny model, then a resume."""

from __future__ import annotations

import re
from pathlib import Path

import optuna
import pytest

from benchmarks.profiles import PROFILES, estimate_seconds
from benchmarks.run import default_storage, main, run, shown_storage

TABLE_ROW = re.compile(r"^\| (2\.5x|5x) \| ")


def _args(model: Path, csv: Path, tmp: Path) -> list[str]:
    return [
        "--smoke",
        "--model", str(model),
        "--task", f"csv:{csv}",
        "--text-column", "sentence",
        "--label-column", "sentiment",
        "--storage", f"sqlite:///{tmp / 'bench.db'}",
        "--out", str(tmp / "out"),
        "--cache", str(tmp / "cache"),
    ]  # fmt: skip


def _trial_count(tmp: Path) -> int:
    storage = f"sqlite:///{tmp / 'bench.db'}"
    return sum(
        summary.n_trials
        for summary in optuna.get_all_study_summaries(storage, include_best_trial=False)
    )


def test_smoke_runs_end_to_end_then_resumes(
    tiny_model_dir: Path, tiny_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _args(tiny_model_dir, tiny_csv, tmp_path)
    path = run(args)
    text = path.read_text(encoding="utf-8")
    assert path == tmp_path / "out" / "benchmarks" / "results" / "smoke" / "BENCHMARKS.md"
    assert "python -m benchmarks.run --smoke" in text  # the command
    assert "CPUs" in text and re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", text)  # machine, date
    quality = [line for line in text.splitlines() if TABLE_ROW.match(line)]
    assert len(quality) >= 10  # 5 variants x 2 ratios (the latency table repeats them)
    for line in quality[:10]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        test_acc, teacher_acc, retained = (float(cells[i]) for i in (2, 3, 4))
        assert 0.0 <= test_acc <= 100.0 and 0.0 < teacher_acc <= 100.0
        assert retained == pytest.approx(100 * test_acc / teacher_acc, abs=0.1)
        assert cells[-1].startswith("[")
    assert "rejection sampling" in text and "% (" in text  # wasted draws
    assert "Ray Tune + Optuna overhead" in text
    assert (tmp_path / "out" / "benchmarks" / "results" / "smoke" / "curves.html").is_file()
    assert "](efficiency.html)" in text
    first = _trial_count(tmp_path)
    capsys.readouterr()

    run(args)  # everything is stored: no run again
    output = capsys.readouterr().out
    assert _trial_count(tmp_path) == first
    assert not re.search(r"#\d+: dev", output)
    assert "wrote" in output

    other = tmp_path / "other.csv"  # another task against the same database: refused, nothing run
    other.write_bytes(tiny_csv.read_bytes())
    elsewhere = [*args[:3], "--task", f"csv:{other}", *args[5:]]
    assert main(elsewhere) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: study bench-smoke-") and "--storage" in err and "\n" not in err
    assert _trial_count(tmp_path) == first


def test_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):  # argparse: unknown flag
        main(["--nope"])
    capsys.readouterr()
    assert main(["--profile", "nope", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    dead = [
        "--smoke",
        "--storage",
        "postgresql+psycopg://nobody@127.0.0.1:1/none",
        "--out",
        str(tmp_path),
    ]
    assert main(dead) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err


def test_profiles_state_budgets_within_their_limits() -> None:
    for name in ("quick", "cpu"):
        profile = PROFILES[name]
        assert profile.limit_minutes is not None
        assert estimate_seconds(profile)["total"] <= 60 * profile.limit_minutes
        assert len(profile.efficiency_seeds) >= 3
        assert all(line for line in profile.budget_lines())
    assert set(PROFILES["cpu"].quality_ratios) == {2.5, 5.0, 7.5, 10.0}


def test_report_names_a_database_in_the_repo_by_a_relative_url(tmp_path: Path) -> None:
    inside = f"sqlite:///{tmp_path / 'benchmarks' / 'results' / 'benchmarks.db'}"
    assert shown_storage(inside, tmp_path) == "sqlite:///benchmarks/results/benchmarks.db"
    outside = f"sqlite:///{tmp_path.parent / 'other.db'}"
    assert shown_storage(outside, tmp_path) == outside
    server = "postgresql+psycopg://user:secret@db:5432/studies"
    assert "secret" not in shown_storage(server, tmp_path)


def test_only_the_reported_profile_on_its_own_subject_uses_the_committed_database() -> None:
    cpu = PROFILES["cpu"]
    assert default_storage(cpu).endswith("benchmarks/results/benchmarks.db")
    assert default_storage(PROFILES["quick"]).endswith("benchmarks/results/quick/benchmarks.db")
    assert cpu.with_overrides(model="minilm", task=None).headline  # the same subject
    theirs = cpu.with_overrides(model="/models/their-bert", task="csv:their.csv")
    assert not theirs.headline
    assert default_storage(theirs).endswith("benchmarks/results/cpu/benchmarks.db")
