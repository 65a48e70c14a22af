"""BENCHMARKS.md parts 1 and 2: quality against the baselines and the paper, and the dev
curves through each compression (filled from the numbers, never typed in)."""

from __future__ import annotations

from collections.abc import Iterable

from benchmarks.curves import LABELS as CURVE_LABELS
from benchmarks.curves import Curve
from benchmarks.pair_report import majority_line
from benchmarks.profiles import Profile
from benchmarks.quality import PAPER_TEACHER_SST2, VARIANTS
from benchmarks.report_data import Report, Sources
from benchmarks.report_data import pct as _pct
from benchmarks.report_data import ratio_text as _ratio
from benchmarks.runs import ratio_label

__all__ = ["compression_dips", "curves_section", "gap_text", "quality_section", "steps_of"]


def quality_section(report: Report) -> list[str]:
    sources = Sources()
    lines = [
        "## 1. Quality against baselines (the paper's Table 3)",
        "",
        "Test accuracy on the task's test split; retention = test accuracy / the teacher's test "
        "accuracy. Variant (a) is the dev-best trial of a constrained-TPE search at that ratio; "
        "(b) and (c) take its P_embd and solve the other ratio by eq. 7 (P_svd = 1, resp. "
        "P_weight = 1); (b), (c) and (d) are trained on the labels without distillation, as the "
        "paper's baselines; (e) is a randomly initialised student of the same size distilled "
        "with the same four losses. The paper's column is SST-2 with BERT-base "
        f"({PAPER_TEACHER_SST2}% test accuracy).",
        "",
        "| ratio | variant | test acc. % | teacher test acc. % | retained % | paper SST-2 retained % "
        "| measured ratio | P_embd | P_svd | P_weight | source |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in report.quality:
        lines.append(
            f"| {ratio_label(row.factor)} | {VARIANTS[row.variant]} | {_pct(row.test_accuracy)} "
            f"| {_pct(row.teacher_test_accuracy)} | {_pct(row.retained)} "
            f"| {_pct(row.paper_retained)} | {row.ratio:.4f} | {_ratio(row.p_embd)} "
            f"| {_ratio(row.p_svd)} | {_ratio(row.p_weight)} | {sources.mark(row.source)} |"
        )
    if not report.quality:
        lines.append("| - | no finished runs yet | | | | | | | | | |")
    profile = report.profile
    lines += ["", majority_line(profile.task, profile.text_column, profile.label_column)]
    lines += ["", *gap_text(report), "", "Sources:", "", *sources.lines()]
    return lines


def gap_text(report: Report) -> list[str]:
    """Sentences comparing our retention with the paper's, filled from the numbers."""
    ours = [row for row in report.quality if row.variant == "search" and row.paper_retained]
    if not ours:
        return ["No ratio of this profile has a paper figure to compare with."]
    lines = []
    short = []
    for row in ours:
        assert row.paper_retained is not None
        gap = 100 * (row.paper_retained - row.retained)
        verdict = f"{gap:.1f} points short of it" if gap > 0 else f"{-gap:.1f} points above it"
        lines.append(
            f"- At {ratio_label(row.factor)} the searched configuration kept "
            f"{_pct(row.retained)}% of the teacher's test accuracy; the paper's LadaBERT kept "
            f"{_pct(row.paper_retained)}% on SST-2: {verdict}."
        )
        if gap > 0:
            short.append(row)
    baselines = {row.factor: row for row in report.quality if row.variant != "search"}
    best_other = [
        (
            row.factor,
            max(
                (r for r in report.quality if r.factor == row.factor and r.variant != "search"),
                key=lambda r: r.retained,
                default=None,
            ),
        )
        for row in ours
    ]
    for factor, other in best_other:
        if other is not None:
            mine = next(r for r in ours if r.factor == factor)
            relation = "above" if mine.retained > other.retained else "at or below"
            lines.append(
                f"- At {ratio_label(factor)} the searched configuration is {relation} the best "
                f"baseline ({VARIANTS[other.variant]}, {_pct(other.retained)}% retained)."
            )
    del baselines
    if short:
        profile = report.profile
        budget = profile.quality
        sentences = budget.total_steps * budget.batch_size
        epochs = sentences / max(1, report.train_size)
        factors = ", ".join(ratio_label(row.factor) for row in short)
        lines += [
            "",
            f"We fall short of the paper at {factors}. What would close the gap, from this "
            "profile's budget:",
            f"- More distillation: each run trained {budget.total_steps} steps of batch "
            f"{budget.batch_size} ({sentences:,} sentences, {epochs:.2f} epochs of the "
            f"{report.train_size:,} training sentences); the paper distils for epochs, not "
            f"fractions of one. {_more_steps_hint(profile)}",
            f"- A better teacher: it was fine-tuned for {profile.teacher_steps} steps; more steps "
            "raise the accuracy the students are measured against and learn from.",
            f"- A longer search: {profile.quality_search_trials} trials per ratio (TPE's first "
            "10 trials are random); the paper tuned its ratios by random search on SST-2.",
            "- A GPU budget (`--full`): the same code with 10 to 50 times the steps.",
            "- Data augmentation (TinyBERT's), which the paper used for neither LadaBERT nor its "
            "TinyBERT baseline, would add training signal for all distilled variants.",
            "- The setting differs: MiniLM-L6 (22.7M parameters, half of them in the word "
            "embedding) has less redundancy to remove than BERT-base (110M), and `rt` is not "
            "SST-2.",
        ]
    return lines


def _more_steps_hint(profile: Profile) -> str:
    """Which profile raises the distillation budget beyond ``profile``'s."""
    if profile.name == "full":
        return "More epochs than `--full` gives (set a larger `RunBudget`) would raise it further."
    if profile.name == "cpu":
        return "The `full` profile (a GPU) trains 15 times as many steps."
    return "The `cpu` and `full` profiles raise this."


def curves_section(report: Report) -> list[str]:
    sources = Sources()
    profile = report.profile
    lines = [
        f"## 2. Learning curves at {ratio_label(profile.curve_ratio)} (the paper's Figure 3)",
        "",
        f"Dev accuracy every {profile.eval_every} training steps. Plot: {report.figures.get('curves', '-')}",
        "",
        "| run | "
        + " | ".join(f"step {s}" for s in steps_of(report.curves))
        + " | test acc. % | source |",
        "| --- | " + " | ".join("---" for _ in steps_of(report.curves)) + " | --- | --- |",
    ]
    for curve in report.curves:
        values = dict(curve.points)
        cells = " | ".join(_pct(values.get(step)) for step in steps_of(report.curves))
        lines.append(
            f"| {CURVE_LABELS[curve.variant]} | {cells} | {_pct(curve.test_accuracy)} "
            f"| {sources.mark(curve.source)} |"
        )
    if len(report.curves) == 2 and report.curves[0].points and report.curves[1].points:
        first, second = (dict(c.points) for c in report.curves)
        step = min(max(first), max(second))
        ahead = first[step] - second[step]
        lines += [
            "",
            f"At step {step} the LadaBERT run's dev accuracy is {abs(100 * ahead):.1f} points "
            f"{'above' if ahead >= 0 else 'below'} the from-scratch student's.",
        ]
    lines += compression_dips(report)
    lines += ["", "Sources:", "", *sources.lines()]
    return lines


def compression_dips(report: Report) -> list[str]:
    """A sentence on where the compressed run's dev accuracy fell at an iteration boundary."""
    budget = report.profile.curve
    ladabert = next((c for c in report.curves if c.variant == "ladabert"), None)
    if ladabert is None or not ladabert.points or budget.iterations < 2:
        return []
    points = dict(ladabert.points)
    dips = []
    for boundary in range(budget.steps, budget.total_steps, budget.steps):
        before = max((s for s in points if s <= boundary), default=None)
        after = min((s for s in points if s > boundary), default=None)
        if before is not None and after is not None and points[before] - points[after] >= 0.01:
            dips.append(
                f"{_pct(points[before])}% dev at step {before}, the end of an iteration, "
                f"{_pct(points[after])}% at step {after} after the next compression"
            )
    if not dips:
        return []
    end = max(points)
    return [
        "",
        f"Each of the {budget.iterations} iterations compresses the student further before "
        f"distilling it (the paper's iterative schedule): the LadaBERT run read "
        f"{'; '.join(dips)}, and {_pct(points[end])}% at step {end}.",
    ]


def steps_of(curves: Iterable[Curve]) -> list[int]:
    return sorted({step for curve in curves for step, _ in curve.points})
