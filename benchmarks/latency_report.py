"""Part 5 of BENCHMARKS.md: the deployed latency of exports, from the stored JSON only.

``benchmarks/export_latency.py`` writes ``results/<profile>/export_latency.json``; this module
reads it back (:func:`collect_latency`) and renders the table and the goal sentences
(:func:`latency_lines`). Nothing about a result is typed in by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.runs import ratio_label

__all__ = ["FILE", "GOALS", "collect_latency", "latency_lines"]

FILE = "export_latency.json"
GOALS = {32: 0.5, 1: 0.7}  # the goal at 5x: student time / teacher time at most this


def collect_latency(results: Path) -> dict[str, Any] | None:
    """The stored export-latency results of a profile, or None when there are none."""
    path = results / FILE
    if not path.is_file():
        return None
    document = json.loads(path.read_text(encoding="utf-8"))
    return document if isinstance(document, dict) and document.get("exports") else None


def _ms(median: float, iqr: list[float]) -> str:
    return f"{median:.1f} [{iqr[0]:.1f}-{iqr[1]:.1f}]"


def _mb(size: int | None) -> str:
    return "-" if size is None else f"{size / 1e6:.1f}"


def _goal_lines(document: dict[str, Any]) -> list[str]:
    at5 = next((e for e in document["exports"] if e["factor"] == 5.0), None)
    if at5 is None:
        return ["No 5x export is stored, so the 5x goal is not assessed."]
    lines = []
    for row in at5["rows"]:
        goal = GOALS.get(row["batch"])
        if goal is None or "int8" in row["engine"]:
            continue
        verdict = "meets" if row["ratio"] <= goal else "misses"
        low = row["student_iqr"][0] / row["teacher_iqr"][1]
        high = row["student_iqr"][1] / row["teacher_iqr"][0]
        noise = (
            f" (within the noise: the interquartile ranges allow {low:.2f}x to {high:.2f}x)"
            if low <= goal <= high
            else ""
        )
        lines.append(
            f"- 5x, {row['engine']}, batch {row['batch']}: the student takes {row['ratio']:.2f}x "
            f"the teacher's time; it {verdict} the goal of at most {goal}x{noise}."
        )
    return lines


def latency_lines(document: dict[str, Any] | None) -> list[str]:
    """The Markdown of part 5 (a placeholder line when nothing is stored)."""
    lines = ["## 5. Deployed latency of exports (2.5x, 5x, 7.5x, 10x)", ""]
    if document is None:
        return [*lines, "No export latency is stored: run `python -m benchmarks.export_latency`."]
    loads = document.get("load_average") or []
    busy = max(loads) if loads else None
    lines += [
        f"Students of {document['model']} compressed with the balanced ratios (the search's seed "
        "points) *without training*: latency depends on shapes, ranks, sparsity and layer kinds, "
        "not on the trained values, so untrained students time like trained ones. Each is "
        "exported as `ladasearch export` does (every layer's runtime form measured on this CPU; "
        "`model.onnx`, `model.int8.onnx`) and timed as `ladasearch bench DIR` does: teacher and "
        f"student interleaved in one process after a warm-up, median [interquartile range] of "
        f"{document['runs']} runs, {document['seq_len']} tokens, {document['threads']} thread(s) "
        "in torch and onnxruntime alike. The `onnxruntime int8` rows time the student's dynamic "
        "int8 quantization against the float32 teacher.",
        "",
    ]
    if busy is not None:
        lines += [
            f"The machine was shared with other work while this ran (load average up to "
            f"{busy:.1f} on {document['machine']}): absolute times are inflated and noisy; the "
            "ratios of interleaved runs are the fairer figure.",
            "",
        ]
    lines += [
        "| ratio | P_embd / P_svd / P_weight | runtime forms | engine | batch "
        "| teacher ms [IQR] | student ms [IQR] | student / teacher | source |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    sizes = [
        "| ratio | nonzero params | model.safetensors MB | model.onnx MB | model.int8.onnx MB |",
        "| --- | --- | --- | --- | --- |",
    ]
    for export in document["exports"]:
        r = export["ratios"]
        ratios = f"{r['p_embd']:.3f} / {r['p_svd']:.3f} / {r['p_weight']:.3f}"
        forms = ", ".join(f"{n} {form}" for form, n in sorted(export["forms"].items()))
        for row in export["rows"]:
            lines.append(
                f"| {ratio_label(export['factor'])} | {ratios} | {forms} | {row['engine']} "
                f"| {row['batch']} | {_ms(row['teacher_ms'], row['teacher_iqr'])} "
                f"| {_ms(row['student_ms'], row['student_iqr'])} | {row['ratio']:.3f} | [1] |"
            )
        size = export["bytes"]
        sizes.append(
            f"| {ratio_label(export['factor'])} | {export['params']:,} "
            f"| {_mb(size.get('model.safetensors'))} | {_mb(size.get('model.onnx'))} "
            f"| {_mb(size.get('model.int8.onnx'))} |"
        )
    lines += [
        "",
        "Against the goal at 5x (student at most 0.5x the teacher's time at batch 32, 0.7x at "
        "batch 1):",
        "",
        *_goal_lines(document),
        "",
        f"Sizes on disk (the teacher: {document['teacher_params']:,} parameters):",
        "",
        *sizes,
        "",
        "Sources:",
        "",
        f"- [1] `{document['command']}` on {document['machine']}, {document['date']} "
        f"(torch {document['torch']})",
    ]
    return lines
