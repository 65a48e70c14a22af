"""BENCHMARKS.md and its plots, written from stored results only.

Every table row carries a source mark ``[n]``; the list of sources under each part names the
command, the machine and the date the numbers came from (trial user attributes). Sentences about
results are templates filled from the numbers; nothing about a result is typed in by hand.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.costs import CostResult
from benchmarks.curves import LABELS as CURVE_LABELS
from benchmarks.curves import Curve
from benchmarks.efficiency import SEARCHES, EfficiencyResult
from benchmarks.latency_report import latency_lines
from benchmarks.pair_report import majority_line, pair_section
from benchmarks.profiles import Profile
from benchmarks.quality import PAPER_TEACHER_SST2, VARIANTS, QualityRow
from benchmarks.runs import ratio_label
from benchmarks.seeded_report import seeded_section

__all__ = ["Report", "Sources", "render", "write_figures"]

Source = tuple[str, str, str]


@dataclass
class Sources:
    """Numbered provenance (command, machine, date) of the numbers of one part."""

    items: list[Source] = field(default_factory=list)

    def mark(self, source: Source) -> str:
        """``[n]`` for ``source`` (numbered on first use)."""
        if source not in self.items:
            self.items.append(source)
        return f"[{self.items.index(source) + 1}]"

    def lines(self) -> list[str]:
        """The source list in Markdown."""
        return [
            f"- [{i}] `{command}` on {machine}, {date}"
            for i, (command, machine, date) in enumerate(self.items, start=1)
        ]


@dataclass(frozen=True)
class Report:
    """Everything BENCHMARKS.md shows, as collected from the study database."""

    profile: Profile
    storage: str
    quality: list[QualityRow]
    curves: list[Curve]
    efficiency: EfficiencyResult
    costs: CostResult
    train_size: int
    figures: dict[str, str]
    wall_seconds: float = 0.0
    latency: dict[str, Any] | None = None  # results/<profile>/export_latency.json (part 5)
    last_run: dt.date | None = None  # when the newest stored run of parts 1 to 4 finished


ENGINE_CHANGED = dt.date(2026, 12, 4)
"""The engine's last change that moves parts 1 to 4's numbers (issue 12: gradual geometric
schedule, whitened SVD by default, layer-averaged losses with T^2, the label-balanced rt split,
teacher recipe 3): runs stored before it describe the earlier engine."""


def _pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{100 * value:.{digits}f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _quality(report: Report) -> list[str]:
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
    lines += ["", *_gap_text(report), "", "Sources:", "", *sources.lines()]
    return lines


def _gap_text(report: Report) -> list[str]:
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


def _curves(report: Report) -> list[str]:
    sources = Sources()
    profile = report.profile
    lines = [
        f"## 2. Learning curves at {ratio_label(profile.curve_ratio)} (the paper's Figure 3)",
        "",
        f"Dev accuracy every {profile.eval_every} training steps. Plot: {report.figures.get('curves', '-')}",
        "",
        "| run | "
        + " | ".join(f"step {s}" for s in _steps(report.curves))
        + " | test acc. % | source |",
        "| --- | " + " | ".join("---" for _ in _steps(report.curves)) + " | --- | --- |",
    ]
    for curve in report.curves:
        values = dict(curve.points)
        cells = " | ".join(_pct(values.get(step)) for step in _steps(report.curves))
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
    lines += _compression_dips(report)
    lines += ["", "Sources:", "", *sources.lines()]
    return lines


def _compression_dips(report: Report) -> list[str]:
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


def _steps(curves: Iterable[Curve]) -> list[int]:
    return sorted({step for curve in curves for step, _ in curve.points})


def _efficiency(report: Report) -> list[str]:
    result = report.efficiency
    profile = report.profile
    sources = Sources()
    counts = range(1, profile.efficiency_trials + 1)
    lines = [
        f"## 3. Search efficiency at {ratio_label(result.target_factor)}",
        "",
        f"Best dev accuracy (%) after n trials, mean [min, max] over seeds "
        f"{', '.join(map(str, profile.efficiency_seeds))}; only trials whose measured ratio is "
        f"within 1% of the target count. Plot: {report.figures.get('efficiency', '-')}",
        "",
        "| search | "
        + " | ".join(f"n = {n}" for n in counts)
        + " | trials on target | wasted draws | source |",
        "| --- | " + " | ".join("---" for _ in counts) + " | --- | --- | --- |",
    ]
    for curve in result.curves:
        cells = []
        for n in counts:
            summary = curve.summary(n)
            cells.append(
                "none on target"
                if summary is None
                else f"{_pct(summary[0])} [{_pct(summary[1])}, {_pct(summary[2])}]"
            )
        marks = " ".join(sources.mark(s) for s in curve.sources)
        wasted = (
            "-"
            if curve.wasted is None
            else f"{_pct(curve.wasted)}% ({curve.rejected:,} rejected, {curve.trials} kept)"
        )
        lines.append(
            f"| {SEARCHES[curve.space][1]} | {' | '.join(cells)} | {curve.on_target}/{curve.trials} "
            f"| {wasted} | {marks} |"
        )
    if result.paper_accuracy is not None and result.paper_source is not None:
        lines += [
            "",
            f"Reference: the paper's Table 2 ratios at {ratio_label(result.target_factor)} "
            f"(moved onto this model's eq. 7) reached {_pct(result.paper_accuracy)}% dev accuracy "
            f"in one trial {sources.mark(result.paper_source)}.",
        ]
    if profile.efficiency_trials <= 10:
        lines += [
            "",
            f"With {profile.efficiency_trials} trials per search, TPE is still in its random "
            "start-up phase (10 trials by default): the constrained and independent searches "
            "differ by their space, not yet by the sampler.",
        ]
    lines += ["", "Sources:", "", *sources.lines()]
    return lines


def _costs(report: Report) -> list[str]:
    costs = report.costs
    sources = Sources()
    lines = [
        "## 4. Costs",
        "",
        "Wall time of one trial (the efficiency budget, the balanced ratios), seconds:",
        "",
        "| stage | seconds | source |",
        "| --- | --- | --- |",
    ]
    mark = sources.mark(costs.source) if costs.source else "-"
    ray_mark = sources.mark(costs.ray_source) if costs.ray_source else "-"
    for stage, seconds in costs.breakdown.items():
        both = " ".join(dict.fromkeys((mark, ray_mark))) if "overhead" in stage else mark
        lines.append(f"| {stage} | {seconds:.1f} | {both} |")
    if costs.ray_trial_s is not None:
        lines.append(
            f"| trial wall time under Ray Tune (driver's view) | {costs.ray_trial_s:.1f} | {mark} |"
        )
    if costs.study_wall_s is not None:
        lines.append(
            f"| whole Ray study (start-up, teacher task, trials) | {float(costs.study_wall_s):.1f} | {ray_mark} |"
        )
    lines += [
        "",
        "The overhead row is the Ray trial's wall time minus the in-process engine total of the "
        "same configuration (two runs: noise of a few seconds either way).",
        "",
        "Latency (median ms of a forward pass, 64 tokens) and bytes on disk of the exported "
        "models of part 1, against the teacher's. Each trial times its student and the teacher "
        "back to back, so the speed-up columns compare like with like; absolute milliseconds "
        "move with the machine's load. Unstructured sparsity is stored compactly but multiplied "
        "densely: only the factorized (lower-rank) matrices and the smaller students get faster. "
        "`python benchmarks/inference_latency.py` times the students without training on an "
        "idle machine, with the forward pass of the current code:",
        "",
        "| ratio | variant | device | batch 1 ms | teacher batch 1 ms | speed-up b1 "
        "| batch 32 ms | teacher batch 32 ms | speed-up b32 | MB on disk | teacher MB | source |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in costs.latency:
        lines.append(
            f"| {ratio_label(row.factor)} | {VARIANTS[row.variant]} | {row.device} "
            f"| {row.latency_ms:.1f} | {row.teacher_latency_ms:.1f} "
            f"| {row.teacher_latency_ms / row.latency_ms:.2f}x | {row.latency_ms_b32:.1f} "
            f"| {row.teacher_latency_ms_b32:.1f} "
            f"| {row.teacher_latency_ms_b32 / row.latency_ms_b32:.2f}x "
            f"| {row.bytes_on_disk / 1e6:.2f} | {row.teacher_bytes_on_disk / 1e6:.2f} "
            f"| {sources.mark(row.source)} |"
        )
    lines += ["", "Sources:", "", *sources.lines()]
    return lines


def _wall_line(report: Report) -> str:
    """The profile's compute time, summed from the stored trials, against its limit."""
    ray = float(report.costs.study_wall_s or 0.0)
    minutes = (report.wall_seconds + ray) / 60
    limit = report.profile.limit_minutes
    bound = f" (the profile's limit: {limit:g} min)" if limit else ""
    return (
        f"Compute time of the stored runs: {minutes:.0f} min{bound}, the sum of every "
        "in-process trial's wall time and the Ray study's; a run interrupted and resumed adds "
        "only what it ran."
    )


def _engine_line(report: Report) -> list[str]:
    """A warning when parts 1 to 4 were run by an engine older than the current one."""
    if report.last_run is None or report.last_run >= ENGINE_CHANGED:
        return []
    return [
        f"**Parts 1 to 4 describe the engine as it was when they ran (last run "
        f"{report.last_run.isoformat()})**: the engine changed on {ENGINE_CHANGED.isoformat()} "
        "(gradual geometric schedule, whitened SVD by default, layer-averaged losses with T^2, "
        "label-balanced rt split, teacher recipe 3; see docs/ARCHITECTURE.md). Their numbers "
        "are those of the old engine and old split until the profile is run again with a fresh "
        "`--storage`.",
        "",
    ]


def render(report: Report, command: str) -> str:
    """The whole of BENCHMARKS.md."""
    profile = report.profile
    head = [
        "# Benchmarks",
        "",
        f"Generated by `{command}` from the study database `{report.storage}` (profile "
        f"`{profile.name}`: {profile.description}). Regenerate with the same command: finished "
        "runs are studies in the database and are not run again.",
        *(
            []
            if profile.headline
            else [
                "",
                "This profile's budgets are not those of the reported numbers: the repo's "
                "`BENCHMARKS.md` holds the `cpu` profile's results.",
            ]
        ),
        "",
        "Budgets of this profile:",
        "",
        *[f"- {line}" for line in profile.budget_lines()],
        "",
        _wall_line(report),
        "",
        *_engine_line(report),
    ]
    parts = [seeded_section()] if profile.headline else []
    parts += [_quality(report), _curves(report), _efficiency(report), _costs(report)]
    parts.append(latency_lines(report.latency))
    parts += [pair_section()] if profile.headline else []
    body = [line for part in parts for line in [*part, ""]]
    return "\n".join(head + body).rstrip() + "\n"


def write_figures(report: Report, folder: Path, relative_to: Path) -> dict[str, str]:
    """Plotly HTML (and PNG when kaleido is installed) of parts 2 and 3; Markdown links."""
    import plotly.graph_objects as go

    folder.mkdir(parents=True, exist_ok=True)
    links: dict[str, str] = {}
    figures: dict[str, go.Figure] = {}
    if report.curves:
        fig = go.Figure()
        for curve in report.curves:
            fig.add_trace(
                go.Scatter(
                    x=[s for s, _ in curve.points],
                    y=[a for _, a in curve.points],
                    mode="lines+markers",
                    name=CURVE_LABELS[curve.variant],
                )
            )
        fig.update_layout(
            title=f"Dev accuracy against training steps at {ratio_label(report.profile.curve_ratio)}",
            xaxis_title="training steps",
            yaxis_title="dev accuracy",
        )
        figures["curves"] = fig
    if report.efficiency.curves:
        fig = go.Figure()
        for search in report.efficiency.curves:
            xs, means, lows, highs = [], [], [], []
            for n in range(1, report.profile.efficiency_trials + 1):
                summary = search.summary(n)
                if summary is not None:
                    xs.append(n)
                    means.append(summary[0])
                    lows.append(summary[0] - summary[1])
                    highs.append(summary[2] - summary[0])
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=means,
                    mode="lines+markers",
                    name=SEARCHES[search.space][1],
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": highs,
                        "arrayminus": lows,
                    },
                )
            )
        fig.update_layout(
            title=f"Best on-target dev accuracy against trials at {ratio_label(report.efficiency.target_factor)}",
            xaxis_title="trials",
            yaxis_title="best dev accuracy",
        )
        figures["efficiency"] = fig
    for name, fig in figures.items():
        html = folder / f"{name}.html"
        fig.write_html(html, include_plotlyjs="cdn", div_id=name)  # stable across re-renders
        link = Path(os.path.relpath(html, relative_to)).as_posix()
        links[name] = f"[{name}.html]({link})"
        try:
            import kaleido  # noqa: F401

            fig.write_image(folder / f"{name}.png")
        except Exception:  # kaleido missing or without a browser: HTML only
            pass
    return links
