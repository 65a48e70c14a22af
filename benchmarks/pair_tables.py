"""Markdown tables of issue 17's relation-task runs (``benchmarks/results/pair/relation/``).

Rendered by :func:`benchmarks.pair_report.pair_section` into BENCHMARKS.md; each table reads the
JSON lines that :mod:`benchmarks.pair_learnable` (``learnable.jsonl``) and
:mod:`benchmarks.pair_teacher` (``teachers.jsonl``, ``bench.jsonl``) write.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from ladasearch.stats import ALPHA, mcnemar_exact, mcnemar_one_sided

__all__ = [
    "learnable_table",
    "recipe_comparison",
    "retention_table",
    "students_majority_p",
    "truncation_table",
]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def learnable_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Per task: the word-feature logistic regression's test accuracy against the majority."""
    lines = [
        "| task | word-feature LR test % | majority % | p (one-sided McNemar) | LR beats the majority class |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        test = row["test"]
        lines.append(
            f"| {row['task']} | {_pct(test['accuracy'])} | {_pct(test['majority_accuracy'])} | "
            f"{test['p_value']:.2g} | {'yes' if test['p_value'] < 0.05 else 'no'} |"
        )
    return lines


def _correct(row: dict[str, Any]) -> list[bool]:
    return [p == y for p, y in zip(row["test_predictions"], row["test_labels"], strict=True)]


def recipe_comparison(rows: Sequence[dict[str, Any]], reference: str = "epochs") -> list[str]:
    """Each other recipe against ``reference`` on the seeds both ran: mean test accuracy and
    a two-sided exact McNemar test on the same test examples (seed s against seed s, pooled)."""
    by_key = {
        (r["task"], r["recipe"], r["seed"]): r
        for r in rows
        if "test_predictions" in r and "test_labels" in r
    }
    lines = [
        f"| task | recipe | seeds | recipe test % (mean) | `{reference}` test % (mean) "
        "| recipe right, reference wrong | reverse | p (two-sided, pooled) | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    pairs = sorted({(t, r) for t, r, _ in by_key if r != reference})
    for task, recipe in pairs:
        seeds = sorted(
            s for t, r, s in by_key if (t, r) == (task, recipe) and (t, reference, s) in by_key
        )
        if not seeds:
            continue
        a: list[bool] = []
        b: list[bool] = []
        for seed in seeds:
            a += _correct(by_key[(task, recipe, seed)])
            b += _correct(by_key[(task, reference, seed)])
        wins = sum(x and not y for x, y in zip(a, b, strict=True))
        losses = sum(y and not x for x, y in zip(a, b, strict=True))
        p = mcnemar_exact(a, b)
        verdict = "tie" if p >= 0.05 else ("better" if wins > losses else "worse")
        mean_a = statistics.mean(by_key[(task, recipe, s)]["test"]["accuracy"] for s in seeds)
        mean_b = statistics.mean(by_key[(task, reference, s)]["test"]["accuracy"] for s in seeds)
        lines.append(
            f"| {task} | {recipe} | {len(seeds)} | {_pct(mean_a)} | {_pct(mean_b)} | {wins} | "
            f"{losses} | {p:.2g} | {verdict} |"
        )
    return lines


def students_majority_p(runs: Sequence[dict[str, Any]]) -> float | None:
    """One-sided exact McNemar p that the runs' students beat the majority class on test,
    pooled over the runs (seeds); ``None`` when a run did not record the check."""
    checks = [r["student_majority"] for r in runs if "student_majority" in r]
    if not checks or len(checks) < len(runs):
        return None
    return mcnemar_one_sided(sum(c["wins"] for c in checks), sum(c["losses"] for c in checks))


def retention_table(
    rows: Sequence[dict[str, Any]], reference: Mapping[float, float] | None = None
) -> list[str]:
    """Per task and ratio (mean over the seeds that ran): student, teacher and majority class
    on dev and test, the retained share of the teacher's test accuracy, and whether the students
    beat the majority class (one-sided exact McNemar on the same test examples, pooled over
    seeds); a student that scores exactly the majority shares on both splits is marked
    ``(= majority)``. ``reference`` maps a factor to rt's retained share at the same points and
    budget, shown beside (BENCHMARKS.md's quality table)."""
    groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["task"], float(row["factor"])), []).append(row)
    rt_head = " | rt retained (test) %" if reference is not None else ""
    lines = [
        "| task | ratio | seeds | student dev % | teacher dev % | majority dev % "
        "| student test % | teacher test % | majority test % | student > majority (test) "
        f"| retained (test) %{rt_head} | measured ratio |",
        "| --- " * (12 + (reference is not None)) + "|",
    ]

    def mean(group: list[dict[str, Any]], key: str) -> float | None:
        values = [r[key] for r in group if r.get(key) is not None]
        return statistics.mean(values) if values else None

    def collapsed(group: list[dict[str, Any]]) -> bool:
        """Every run scores exactly the majority share on dev and test (it always predicts it)."""
        return all(
            r.get("majority_dev_accuracy") is not None
            and abs(r["dev_accuracy"] - r["majority_dev_accuracy"]) < 1e-6
            and abs(r["test_accuracy"] - r["majority_test_accuracy"]) < 1e-6
            for r in group
        )

    def above_majority(group: list[dict[str, Any]]) -> str:
        p = students_majority_p(group)
        return "-" if p is None else f"{'yes' if p < ALPHA else 'no'} (p={p:.2g})"

    for (task, factor), group in sorted(groups.items()):
        mark = " (= majority)" if collapsed(group) else ""
        rt = ""
        if reference is not None:
            rt = f" {_pct(reference.get(factor))} |"
        lines.append(
            f"| {task} | {factor:g}x | {len(group)} | {_pct(mean(group, 'dev_accuracy'))}{mark} | "
            f"{_pct(mean(group, 'teacher_dev_accuracy'))} | "
            f"{_pct(mean(group, 'majority_dev_accuracy'))} | "
            f"{_pct(mean(group, 'test_accuracy'))}{mark} | "
            f"{_pct(mean(group, 'teacher_test_accuracy'))} | "
            f"{_pct(mean(group, 'majority_test_accuracy'))} | {above_majority(group)} | "
            f"{_pct(mean(group, 'retained'))} |{rt} "
            f"{mean(group, 'measured_ratio') or 0:.4f} |"
        )
    return lines


def truncation_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Per task: how the pair encoding at the max length cuts the pairs."""
    lines = [
        "| task | median tokens, first / second | pairs cut at 64 % | second segment kept % |",
        "| --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(
            f"| {row['task']} | {row['tokens_first_median']:g} / {row['tokens_second_median']:g} "
            f"| {_pct(row['cut'])} | {_pct(row['second_kept'])} |"
        )
    return lines
