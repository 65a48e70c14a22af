"""The demo's closing table: which trials were seed points, which the sampler chose, and whether
the sampler's choices improved on the seeds.

A trial is a seed when it was enqueued (user attribute ``enqueued``; a stale trial's retry keeps
its origin through ``retry_of``), else the sampler chose it. In a Pareto study (accuracy up,
size down) a sampler trial *improves on the seeds* when no seed trial is at most its size and at
least as accurate (it lies on or beyond the seeds' front); in a fixed-target study when its dev
accuracy beats every seed's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["SummaryRow", "study_summary", "summary_lines", "summary_rows"]


@dataclass(frozen=True)
class SummaryRow:
    """One finished trial of the demo."""

    number: int
    chosen_by: str  # "seed" or "sampler"
    ratio: float  # nonzero parameters / the teacher's
    accuracy: float  # dev
    improves: bool | None  # a sampler trial beyond the seeds (None for a seed)


def _is_seed(trial: Any, by_number: dict[int, Any]) -> bool:
    seen: set[int] = set()
    while True:
        if trial.user_attrs.get("enqueued"):
            return True
        origin = trial.user_attrs.get("retry_of")
        if origin is None or origin in seen or origin not in by_number:
            return False
        seen.add(origin)
        trial = by_number[origin]


def summary_rows(trials: Sequence[Any], teacher_params: float, pareto: bool) -> list[SummaryRow]:
    """The finished trials (``TrialRecord``s) as rows, in trial order."""
    by_number = {trial.number: trial for trial in trials}
    done = [trial for trial in trials if trial.finished]
    points = [
        (trial.number, _is_seed(trial, by_number), trial.nonzero_params / teacher_params,
         float(trial.accuracy))
        for trial in sorted(done, key=lambda t: t.number)
    ]  # fmt: skip
    seeds = [(ratio, accuracy) for _, seed, ratio, accuracy in points if seed]
    rows = []
    for number, seed, ratio, accuracy in points:
        improves: bool | None = None
        if not seed:
            if pareto:
                improves = not any(r <= ratio and a >= accuracy for r, a in seeds)
            else:
                improves = all(accuracy > a for _, a in seeds)
        rows.append(SummaryRow(number, "seed" if seed else "sampler", ratio, accuracy, improves))
    return rows


def summary_lines(rows: Sequence[SummaryRow], pareto: bool, majority: float | None) -> list[str]:
    """The table and a one-line verdict, as printed at the end of ``ladasearch demo``."""
    beyond = "beyond the seeds' front" if pareto else "better than every seed"
    lines = [
        "trial  chosen by  compression  dev accuracy  improves on the seeds",
        *(
            f"{row.number:>5}  {row.chosen_by:<9}  {1 / row.ratio:>10.2f}x  {row.accuracy:>12.4f}  "
            + ("-" if row.improves is None else f"yes ({beyond})" if row.improves else "no")
            for row in rows
        ),
    ]
    chosen = [row for row in rows if row.chosen_by == "sampler"]
    better = sum(bool(row.improves) for row in chosen)
    seeds = len(rows) - len(chosen)
    lines.append(
        f"{seeds} seed trials, {len(chosen)} chosen by the sampler, {better} of which improved on "
        f"the seeds ({beyond})"
        + (f"; majority class: dev {majority:.4f}" if majority is not None else "")
    )
    return lines


def study_summary(record: Any) -> list[str]:
    """:func:`summary_lines` of a ``StudyRecord`` (the demo's study, read from its database)."""
    pareto = len(record.directions) > 1 or record.user_attrs.get("mode") == "pareto"
    teacher = record.teacher_params
    if not teacher:
        return ["no finished trial to summarize"]
    majority = next(
        (m for t in record.trials if (m := t.metric("majority_accuracy")) is not None), None
    )
    return summary_lines(summary_rows(record.trials, teacher, pareto), pareto, majority)
