"""The demo searches: seed points first, then at least as many sampler-chosen trials, and a
closing table that says which is which and whether the sampler's improved on the seeds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ladasearch.demo import budget_summary, demo_study, run_demo, seed_count
from ladasearch.demo_summary import SummaryRow, summary_lines, summary_rows
from ladasearch.search.studydb.records import TrialRecord


def test_the_shipped_demo_runs_as_many_sampler_trials_as_seeds(tmp_path: Path) -> None:
    study = demo_study(tmp_path)
    seeds = seed_count(study)
    assert seeds == 3 and study.trials >= 2 * seeds
    assert study.sampler == "tpe" and study.startup_trials == seeds  # TPE models the seeds
    assert "6 trials (3 seed points, then the tpe sampler's choices)" in budget_summary(study)


def _trial(number: int, ratio: float, accuracy: float, **attrs: object) -> TrialRecord:
    return TrialRecord(
        "demo", number, number, "COMPLETE",
        user_attrs={"accuracy": accuracy, "params": ratio * 1000, **attrs},
    )  # fmt: skip


def test_improvement_means_beyond_the_seeds_front() -> None:
    trials = [
        _trial(0, 0.4, 0.80, enqueued=True),
        _trial(1, 0.2, 0.70, enqueued=True),
        _trial(2, 0.3, 0.75),  # between the seeds, above their front: improves
        _trial(3, 0.3, 0.69),  # the 5x seed is smaller and more accurate: no
        _trial(4, 0.45, 0.70, retry_of=1),  # a seed's retry is a seed
        TrialRecord("demo", 5, 5, "FAIL", user_attrs={"fail_reason": "duplicate: trial 2"}),
    ]
    rows = summary_rows(trials, 1000, pareto=True)
    assert [(r.number, r.chosen_by, r.improves) for r in rows] == [
        (0, "seed", None), (1, "seed", None), (2, "sampler", True), (3, "sampler", False),
        (4, "seed", None),
    ]  # fmt: skip
    fixed = summary_rows(trials, 1000, pareto=False)
    assert [r.improves for r in fixed if r.chosen_by == "sampler"] == [False, False]
    lines = summary_lines(rows, True, 0.55)
    assert lines[-1].startswith("3 seed trials, 2 chosen by the sampler, 1 of which improved")
    assert "majority class: dev 0.5500" in lines[-1]
    assert any(line.split()[:2] == ["2", "sampler"] and "yes" in line for line in lines)


def test_demo_on_a_tiny_model_runs_sampler_trials_and_prints_the_summary(
    tmp_path: Path, tiny_model_dir: Path, tiny_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LADASEARCH_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "demo"
    shipped = demo_study(out)
    study = dataclasses.replace(
        shipped,
        model=str(tiny_model_dir),
        task=f"csv:{tiny_csv}",
        text_column="sentence",
        label_column="sentiment",
        target_range=(0.2, 0.5),  # the tiny model's fixed part rules out 10x: 2 seeds (2.5x, 5x)
        trials=4,
        startup_trials=2,
        trial=dataclasses.replace(
            shipped.trial, iterations=1, steps=2, batch_size=16, max_length=16
        ),
        teacher=dataclasses.replace(shipped.teacher, steps=3, batch_size=16, allow_weak=True),
        resources=dataclasses.replace(shipped.resources, cpu=1),
    )
    lines: list[str] = []
    result = run_demo(out, study=study, echo=lines.append)
    assert result.export_dir.is_dir() and result.html.is_file()
    header = lines.index("trial  chosen by  compression  dev accuracy  improves on the seeds")
    table = [line.split() for line in lines[header + 1 : header + 5]]
    assert [row[1] for row in table] == ["seed", "seed", "sampler", "sampler"]
    assert all(row[-1] == "-" for row in table[:2])
    assert all(row[4] in ("yes", "no") for row in table[2:])
    assert lines[-1].startswith("2 seed trials, 2 chosen by the sampler, ")


def test_summary_row_is_plain_data() -> None:
    row = SummaryRow(0, "seed", 0.2, 0.7, None)
    assert dataclasses.asdict(row)["chosen_by"] == "seed"


def test_startup_trials_is_tpe_only_and_reaches_the_sampler(tmp_path: Path) -> None:
    import optuna

    from ladasearch.errors import StudyFileError
    from ladasearch.search.samplers import make_sampler, resumed_sampler
    from ladasearch.search.study_file import parse_study

    base = {"name": "s", "mode": "fixed", "target": 0.2}
    assert parse_study(base).startup_trials is None
    assert parse_study({**base, "startup_trials": 3}).startup_trials == 3
    with pytest.raises(StudyFileError, match="startup_trials applies to sampler: tpe or gp only"):
        parse_study({**base, "sampler": "random", "startup_trials": 3})
    with pytest.raises(StudyFileError, match="startup_trials must be a positive integer"):
        parse_study({**base, "startup_trials": 0})

    def xs(sampler: optuna.samplers.BaseSampler) -> list[float]:
        study = optuna.create_study(sampler=sampler)
        study.optimize(lambda t: (t.suggest_float("x", 0, 1) - 0.3) ** 2, n_trials=5)
        return [t.params["x"] for t in study.trials]

    for ours, default in (
        (make_sampler("tpe", 0, 3), make_sampler("tpe", 0)),
        (resumed_sampler("tpe", 0, 5, 3), resumed_sampler("tpe", 0, 5)),
    ):
        short, usual = xs(ours), xs(default)
        assert short[:3] == usual[:3]  # the same random start-up draws...
        assert short[3:] != usual[3:]  # ...then TPE models them from trial 4, not trial 11


def test_qmc_seeds_give_different_sequences() -> None:
    import optuna

    from ladasearch.search.samplers import make_sampler

    def first(seed: int) -> list[float]:
        study = optuna.create_study(sampler=make_sampler("qmc", seed))
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
        return [t.params["x"] for t in study.trials]

    assert first(0) == first(0) and first(0) != first(1)  # unscrambled Sobol ignores the seed
