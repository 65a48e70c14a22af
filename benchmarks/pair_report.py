"""BENCHMARKS.md's majority-class line and its sentence-pair section (issue 17).

The pair section is rendered from the JSON lines that :mod:`benchmarks.pair_teacher` writes
(``benchmarks/results/pair/teachers.jsonl`` and ``bench.jsonl``, committed: a few kB); it is left
out when they are missing.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from benchmarks.pair_tables import (
    learnable_table,
    recipe_comparison,
    retention_table,
    students_majority_p,
    truncation_table,
)
from benchmarks.pair_teacher import bench_table, teacher_table
from benchmarks.seeded_report import ladabert_retention
from ladasearch.stats import ALPHA

__all__ = ["majority_line", "pair_section", "relation_section"]

PAIR_RESULTS = Path(__file__).resolve().parent / "results" / "pair"
RELATION = "relation"  # the learnable relation tasks' runs (issue 17, CPU), under PAIR_RESULTS


def majority_line(task: str, text_column: str | None, label_column: str | None) -> str:
    """One line: the test accuracy of always predicting the training split's majority label."""
    try:
        from ladasearch.stats import majority_label
        from ladasearch.tasks import TaskSpec, load_task

        data = load_task(TaskSpec(task, text_column=text_column, label_column=label_column))
        label = majority_label([e.label for e in data.train])
        share = sum(e.label == label for e in data.test) / len(data.test)
    except Exception as exc:  # a task that cannot load here (hub data offline): say so
        return f"Majority-class baseline: not computed ({type(exc).__name__})."
    return (
        f"Majority-class baseline: always predicting `{data.label_names[label]}` (the training "
        f"split's most frequent label) scores {100 * share:.1f}% on the test split; every "
        "teacher and student accuracy above is to be read against it."
    )


def _read(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _verdicts(teachers: list[dict[str, Any]]) -> list[str]:
    """Per task: the recipes whose teacher beat the majority class (p < 0.05) in every seed."""
    runs: dict[str, dict[str, list[bool]]] = {}
    for row in teachers:
        runs.setdefault(row["task"], {}).setdefault(row["recipe"], []).append(
            row["test"]["p_value"] < 0.05
        )
    lines = []
    for task, recipes in sorted(runs.items()):
        good = [recipe for recipe, seeds in recipes.items() if all(seeds)]
        lines.append(
            f"- `{task}`: significantly above the majority class in every seed with "
            + (", ".join(f"`{r}`" for r in good) if good else "no recipe tried")
            + "."
        )
    return lines


def _reading(teachers: list[dict[str, Any]]) -> list[str]:
    """The verdicts, and where the reasons are."""
    lines = _verdicts(teachers)
    return [
        *lines,
        "",
        "Why, and what the check does about it: docs/TEACHER.md (a teacher below significance "
        "gets a WARNING line in `compress` and `show`, and `search` refuses it).",
        "",
    ]


def relation_section(folder: Path) -> list[str]:
    """The learnable relation tasks: learnability, teachers, recipes compared, retention."""
    learnable = _read(folder / "learnable.jsonl")
    teachers, bench = _read(folder / "teachers.jsonl"), _read(folder / "bench.jsonl")
    if not (learnable or teachers or bench):
        return []
    devices = sorted({str(r.get("device", "cpu")) for r in teachers + bench})
    lines = [
        "### Relation tasks: learnable pairs, the teacher recipe, retention",
        "",
        "`python -m benchmarks.pair_tasks --out DIR` also writes three tasks whose label is a "
        "relation between the two segments, with the issue's mix (35.5 % the minority label; "
        "4,400 / 550 / 550 pairs, split by film): `negation` (a review and a copy with 1-2 words "
        "deleted, or also negated: entailment / contradiction), `claim` (a review and one of 16 "
        "claims about its polarity: agree / disagree), `paraphrase` (a review and a noisy copy "
        "of it or of another review of the same film). Before any teacher, a word-feature "
        "logistic regression (words of each segment, shared and one-sided words, every "
        "cross-segment word pair; L2 chosen on dev) asks whether the training split can teach "
        "the label (`python -m benchmarks.pair_learnable --data DIR`). A pass proves that it "
        "can; a fail proves nothing: `claim` fails it and every teacher below learns it "
        "(its label is a review-polarity x claim-polarity interaction, too sparse for word "
        "pairs from 4,400 examples):",
        "",
        *(
            learnable_table(learnable)
            if learnable
            else ["(not run yet: `learnable.jsonl` is missing)"]
        ),
        "",
    ]
    cuts = _read(folder / "truncation.jsonl")
    if cuts:
        lines += [
            "How the pair encoding (`[CLS] a [SEP] b [SEP]`, `longest_first` truncation) cuts "
            "1,000 training pairs of each task at max length 64 (`python -m "
            "benchmarks.pair_learnable --data DIR --truncation minilm`):",
            "",
            *truncation_table(cuts),
            "",
        ]
    if teachers:
        lines += [
            "Teachers (`minilm`, max length 64, the default recipe `epochs` = 3 epochs, lr "
            "5e-5, best of 3 dev checks; `balanced` = the same with the class-balanced loss, "
            "`--teacher-balance-classes`), each against the majority class on its 550 test "
            "pairs (one-sided exact McNemar), on "
            f"{', '.join(devices)} (2 shared cores, one thread):",
            "",
            *teacher_table(teachers),
            "",
            *_verdicts(teachers),
            "",
        ]
        comparison = recipe_comparison(teachers)
        lines += (
            ["Recipes against the default on the same test pairs:", "", *comparison, ""]
            if len(comparison) > 2
            else ["No other recipe ran on the seeds of the default (CPU time).", ""]
        )
    if bench:
        lines += _retention_lines(bench)
    for extra in sorted(folder.glob("bench-*.jsonl")):  # other budgets or ratios, kept apart
        runs = _read(extra)
        if runs:
            lines += [
                f"Also (`{extra.name}`): {runs[0]['budget']}, ratios: "
                f"{runs[0].get('ratio_source', 'search')}, on {runs[0]['device']}:",
                "",
                *retention_table(runs),
                "",
            ]
    return [*lines, *_COMMANDS]


def _retention_lines(bench: list[dict[str, Any]]) -> list[str]:
    """The retention paragraph and table; rt's retention beside when the runs used the balanced
    points at the quality table's budget (the same points, budget and model)."""
    first = bench[0]
    balanced = all(r.get("ratio_source") == "balanced" for r in bench)
    where = (
        "at each factor's balanced point (P_embd = H, P_svd = P_weight = sqrt(H), eq. 7), as rt's "
        "quality table (section 'Current engine') runs LadaBERT"
        if balanced
        else "at the ratios the search found on rt (section 1)"
    )
    # rt's retention is put beside only at the same points and the same training budget (a row
    # from before the budget was stored in full, ``training``, is not compared)
    training = first.get("training")
    same_budget = balanced and isinstance(training, dict)
    reference = ladabert_retention(training=training) if same_budget else None
    seeds = sorted({int(r["seed"]) for r in bench})
    lines = [
        f"Retention on `{first['task']}` (teacher recipe `{first.get('teacher_recipe')}`, its "
        f"seed 0; student seeds {', '.join(map(str, seeds))}) {where}, {first['budget']}, on "
        f"{first['device']}; the majority class beside teacher and student"
        + (
            "; rt's retention at the same points and budget beside (its 3 seeds, from "
            "`benchmarks/results/seeded/`):"
            if reference
            else ":"
        ),
        "",
        *retention_table(bench, reference or None),
        "",
    ]
    if reference:
        shared = sorted({float(r["factor"]) for r in bench} & set(reference))
        gaps = [
            f"{f:g}x {100 * (statistics.fmean(r['retained'] for r in bench if r['factor'] == f) - reference[f]):+.1f}"
            + (_AT_MAJORITY if _below(bench, f) else "")
            for f in shared
        ]
        lines += [
            f"Retained share, `{first['task']}` minus rt, in points (positive: `{first['task']}` "
            f"keeps more of its teacher): {', '.join(gaps)}.",
            "",
        ]
    return lines


def _below(bench: list[dict[str, Any]], factor: float) -> bool:
    """The students at ``factor`` are not significantly above the majority class (pooled)."""
    p = students_majority_p([r for r in bench if r["factor"] == factor])
    return p is not None and p >= ALPHA


_AT_MAJORITY = " (its students are not above the majority class: nothing retained to compare)"


_COMMANDS = [
    "Commands (each with `OMP_NUM_THREADS=1 nice -n 10`; `R` = "
    "`benchmarks/results/pair/relation`; the CSVs are rebuilt, not committed):",
    "",
    "```",
    "python -m benchmarks.pair_tasks --out DIR",
    "python -m benchmarks.pair_learnable --data DIR --out R/learnable.jsonl "
    "--tasks claim continuation negation polarity paraphrase film",
    "python -m benchmarks.pair_teacher --data DIR --out R --device cpu --workers 1 "
    "--tasks claim negation --recipes epochs --seeds S --bench-tasks   # S = 0, 1, 2; balanced likewise",
    "python -m benchmarks.pair_teacher --data DIR --out R --device cpu --workers 2 --tasks "
    "--bench-tasks claim --bench-recipe epochs --bench-steps 100 --bench-ratios balanced "
    "--bench-seeds 0 1 2",
    "python -m benchmarks.run --cpu --report-only   # renders this section",
    "```",
    "",
]


def pair_section(folder: Path = PAIR_RESULTS) -> list[str]:
    """Section 6 of BENCHMARKS.md, or no lines when the pair results are not there."""
    teachers, bench = _read(folder / "teachers.jsonl"), _read(folder / "bench.jsonl")
    relation = relation_section(folder / RELATION)
    if not teachers and not bench:
        return ["## 6. Sentence-pair tasks", "", *relation] if relation else []
    devices = sorted({str(r.get("device", "?")) for r in teachers + bench})
    lines = [
        "## 6. Sentence-pair tasks",
        "",
        "Three pair tasks built from the rt corpus by `python -m benchmarks.pair_tasks --out DIR` "
        "(4,400 / 550 / 550 pairs, split by film): `polarity` (do two reviews share a polarity? "
        "about half and half), `film` (is this review about the film of this plot synopsis? "
        "64.5 % `other`), `continuation` (is this the same review's second half? 64.5 % "
        "`other`). Teachers: `minilm`, max length 64 (the issue's), seeds 0, 1, 2; each compared "
        "with the majority class on the same 550 test pairs by an exact one-sided McNemar test. "
        f"Measured by `python -m benchmarks.pair_teacher` on: {', '.join(devices)}.",
        "",
        "Recipes: `old` = 300 steps at lr 5e-5, last checkpoint (before issue 17); `old_lr` = the "
        "same at lr 1e-4; `epochs` = 3 epochs (at least 300 steps) at lr 5e-5, best of 3 dev "
        "checks (the new default); `epochs_lr` = the same at lr 1e-4; `long` = at least 1,000 "
        "steps at lr 1e-4, best of 5 dev checks.",
        "",
        *teacher_table(teachers),
        "",
        *_reading(teachers),
    ]
    if bench:
        recipe = bench[0].get("teacher_recipe", "epochs")
        lines += [
            f"Retention on a pair task (teacher recipe `{recipe}`, seed 0) at the ratios the "
            f"search found on rt (section 1), {bench[0]['budget']}, on {bench[0]['device']}; the "
            "majority class beside teacher and student:",
            "",
            *bench_table(bench),
            "",
        ]
    elif not relation:
        lines += [
            "No retention runs of a pair task are stored yet: the device run measured the "
            "teachers first and its time ran out before the compression runs; on this 2-core "
            "CPU they did not fit either. `python -m benchmarks.pair_teacher --data DIR --out "
            "benchmarks/results/pair --cache /tmp/pair-cache --tasks "
            "--bench-tasks polarity film` adds them (a GPU: about a minute), and this section "
            "shows them.",
            "",
        ]
    return lines + relation
