"""BENCHMARKS.md parts 3 and 4: what the search buys per trial (efficiency) and where a run's
time goes (costs), filled from the numbers."""

from __future__ import annotations

from benchmarks.efficiency import SEARCHES
from benchmarks.quality import VARIANTS
from benchmarks.report_data import Report, Sources
from benchmarks.report_data import pct as _pct
from benchmarks.runs import ratio_label

__all__ = ["costs_section", "efficiency_section", "wall_line"]


def efficiency_section(report: Report) -> list[str]:
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


def costs_section(report: Report) -> list[str]:
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


def wall_line(report: Report) -> str:
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
