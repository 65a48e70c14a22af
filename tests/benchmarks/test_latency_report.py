"""BENCHMARKS.md's deployed-latency part: the 5x goal stated from the stored numbers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def test_latency_report_states_the_5x_goal_from_the_numbers(tmp_path: Path) -> None:
    from benchmarks.latency_report import FILE, collect_latency, latency_lines

    def row(engine: str, batch: int, ratio: float) -> dict[str, Any]:
        return {
            "engine": engine,
            "batch": batch,
            "teacher_ms": 10.0,
            "teacher_iqr": [9, 11],
            "student_ms": 10.0 * ratio,
            "student_iqr": [1, 20],
            "ratio": ratio,
        }

    document = {
        "command": "python -m benchmarks.export_latency",
        "machine": "2 CPUs",
        "date": "2026-12-04",
        "model": "minilm",
        "teacher_params": 22_713_986,
        "threads": 1,
        "runs": 20,
        "seq_len": 64,
        "load_average": [3.5, 2.0],
        "torch": "2.13.0",
        "exports": [
            {
                "factor": 5.0,
                "ratios": {"p_embd": 0.2, "p_svd": 0.4, "p_weight": 0.5},
                "params": 4_500_000,
                "forms": {"factorized": 30, "dense": 6},
                "bytes": {"model.safetensors": 18_000_000},
                "rows": [row("torch", 1, 0.65), row("torch", 32, 0.62)],
            }
        ],
    }
    assert collect_latency(tmp_path) is None
    (tmp_path / FILE).write_text(json.dumps(document))
    text = "\n".join(latency_lines(collect_latency(tmp_path)))
    assert "5x, torch, batch 1: the student takes 0.65x the teacher's time; it meets" in text
    assert "5x, torch, batch 32: the student takes 0.62x the teacher's time; it misses" in text
    assert "load average up to 3.5" in text and "30 factorized, 6 dense" not in text
    assert "6 dense, 30 factorized" in text and "| 5x | 4,500,000 | 18.0 | - | - |" in text
