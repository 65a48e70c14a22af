"""The Pareto front as numbers: dominance, ties, unfinished trials, teacher, compression ticks."""

from __future__ import annotations

import itertools
import random

import pytest

from ladasearch.dashboards.front import compression_ticks, compute_front, pareto_indices
from ladasearch.search.studydb.records import StudyRecord, TrialRecord


def trial(
    number: int,
    accuracy: float | None,
    params: float | None,
    state: str = "COMPLETE",
    **extra: object,
) -> TrialRecord:
    attrs: dict[str, object] = {"p_embd": 0.5, "p_svd": 0.4, "p_weight": 0.6, **extra}
    if accuracy is not None:
        attrs["accuracy"] = accuracy
    if params is not None:
        attrs["params"] = params
    return TrialRecord(
        study="s", number=number, trial_id=number + 100, state=state, user_attrs=attrs
    )


def brute_force(xs: list[float], ys: list[float]) -> set[int]:
    """Points no other point dominates (x no larger, y no smaller, one strictly better)."""
    return {
        i
        for i in range(len(xs))
        if not any(
            xs[j] <= xs[i] and ys[j] >= ys[i] and (xs[j] < xs[i] or ys[j] > ys[i])
            for j in range(len(xs))
        )
    }


def test_pareto_indices_small_example() -> None:
    assert pareto_indices([1, 2, 3, 2], [0.5, 0.7, 0.6, 0.4]) == (0, 1)
    assert pareto_indices([], []) == ()


def test_pareto_indices_keep_exact_ties_and_drop_equal_x_lower_y() -> None:
    # two identical best points stay; the same size with less accuracy is dominated
    assert set(pareto_indices([5, 5, 5, 9], [0.8, 0.8, 0.7, 0.9])) == {0, 1, 3}


@pytest.mark.parametrize("seed", range(20))
def test_pareto_indices_match_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(1, 30)
    xs = [float(rng.randint(1, 10)) for _ in range(n)]  # repeated values: ties on purpose
    ys = [rng.randint(50, 60) / 100 for _ in range(n)]
    front = pareto_indices(xs, ys)
    assert set(front) == brute_force(xs, ys)
    assert [xs[i] for i in front] == sorted(xs[i] for i in front)  # increasing size
    for a, b in itertools.pairwise(front):  # a step line: accuracy never drops along the front
        assert ys[b] >= ys[a]


def test_pareto_indices_length_mismatch() -> None:
    with pytest.raises(ValueError):
        pareto_indices([1.0], [])


def test_compute_front_separates_finished_unfinished_and_omitted() -> None:
    study = StudyRecord(
        name="s",
        user_attrs={"teacher_accuracy": 0.82, "teacher_params": 1_000_000},
        trials=(
            trial(0, 0.70, 200_000),
            trial(1, 0.78, 400_000),
            trial(2, 0.74, 500_000),  # dominated by trial 1
            trial(3, 0.80, 600_000),
            trial(4, 0.60, 100_000, state="PRUNED"),  # partial metrics: greyed, never on the front
            trial(5, 0.90, 100_000, fail_reason="TrainingDiverged: nan"),  # COMPLETE but failed
            trial(6, None, None, state="FAIL"),  # nothing to draw
            trial(7, None, None, state="RUNNING"),
        ),
    )
    front = compute_front(study)
    assert [t.number for t in front.points] == [0, 1, 2, 3]
    assert front.xs == (200_000, 400_000, 500_000, 600_000)
    assert [t.number for t in front.front_trials] == [0, 1, 3]
    assert [front.points[i].number for i in front.dominated] == [2]
    assert {t.number for t in front.unfinished} == {4, 5}
    assert front.omitted == 2
    assert front.teacher is not None
    assert front.teacher.x == 1_000_000 and front.teacher.accuracy == pytest.approx(0.82)


def test_latency_axis_uses_only_measured_trials() -> None:
    study = StudyRecord(
        name="s",
        user_attrs={"teacher_accuracy": 0.8, "teacher_params": 10},
        trials=(
            trial(0, 0.7, 5, latency_ms=3.0),
            trial(1, 0.75, 6, latency_ms=2.0),
            trial(2, 0.76, 7),
        ),
    )
    front = compute_front(study, "latency_ms")
    assert [t.number for t in front.points] == [1, 0]
    assert [t.number for t in front.front_trials] == [1]
    assert front.teacher is None  # no teacher latency recorded


def test_teacher_metrics_fall_back_to_trial_attributes() -> None:
    study = StudyRecord(
        name="s", trials=(trial(0, 0.7, 5, teacher_accuracy=0.81, teacher_params=50),)
    )
    front = compute_front(study)
    assert front.teacher is not None and front.teacher.x == 50


def test_compression_ticks_are_teacher_over_factor_within_range() -> None:
    ticks = compression_ticks(1_000_000, 90_000, 450_000)
    assert ticks == [
        (100_000.0, 10.0),
        (1_000_000 / 7.5, 7.5),
        (200_000.0, 5.0),
        (250_000.0, 4.0),
        (1_000_000 / 3, 3.0),
        (400_000.0, 2.5),
    ]
    assert compression_ticks(0, 1, 2) == []
