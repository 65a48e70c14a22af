"""Latency of exported students (2.5x, 5x, 7.5x, 10x) against the teacher, stored for the report.

    python -m benchmarks.export_latency [--model minilm] [--runs 20] [--threads 1]

For each factor the teacher is compressed with the balanced ratios (``balanced_points``, as the
search's seed points) *without training*: latency depends on shapes, ranks, sparsity patterns
and layer kinds, not on the trained values, so ``--steps 0``-style students time like trained
ones. Each student is exported as ``ladasearch export`` does (runtime form per layer measured
on this CPU, ``model.onnx`` and ``model.int8.onnx``) and timed with ``bench_export`` (teacher and
student interleaved, median and IQR). Writes ``benchmarks/results/cpu/export_latency.json``,
which ``python -m benchmarks.run --cpu --report-only`` renders into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import platform
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

FACTORS = (2.5, 5.0, 7.5, 10.0)
RESULTS = Path(__file__).parent / "results" / "cpu" / "export_latency.json"


def _ratios(teacher: Any, factor: float) -> Any:
    from ladasearch.compression.accounting import parameter_groups
    from ladasearch.search.space import GroupSizes, balanced_points

    sizes = GroupSizes.of(parameter_groups(teacher))
    (_, ratios), *_ = balanced_points(sizes, 1 / factor, 1 / factor)
    return ratios


def measure_factor(
    teacher: Any, tokenizer: Any, factor: float, folder: Path, runs: int
) -> dict[str, Any]:
    """Compress, export (forms measured, ONNX + int8) and bench one factor; its JSON record."""
    from ladasearch.compression.accounting import count_nonzero_params
    from ladasearch.compression.bench import bench_export
    from ladasearch.compression.onnx_export import export_onnx
    from ladasearch.compression.plan import compress_
    from ladasearch.compression.runtime import write_export

    ratios = _ratios(teacher, factor)
    student = copy.deepcopy(teacher)
    compress_(student, ratios)
    student.eval()
    exported = write_export(student, tokenizer, folder, {}, measure=True)
    layout: Any = exported.config.runtime_layout
    forms: dict[str, int] = {}
    for spec in layout["modules"].values():
        if "kept" in spec:
            forms[spec["runtime"]] = forms.get(spec["runtime"], 0) + 1
    files = export_onnx(exported, folder / "model.onnx", quantize=True)
    rows = bench_export(folder, runs=runs, echo=lambda line: print(f"{factor:g}x {line}"))
    return {
        "factor": factor,
        "ratios": ratios.to_dict(),
        "params": count_nonzero_params(student),
        "forms": forms,
        "bytes": {p.name: p.stat().st_size for p in [folder / "model.safetensors", *files]},
        "rows": [row.to_dict() for row in rows],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--factors", type=float, nargs="+", default=list(FACTORS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    from ladasearch.compression.accounting import count_nonzero_params
    from ladasearch.models import load_classifier

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    teacher, tokenizer = load_classifier(args.model, ["negative", "positive"])
    teacher.eval()
    load_before = os.getloadavg()
    records = []
    with tempfile.TemporaryDirectory() as scratch:
        for factor in args.factors:
            folder = Path(scratch) / f"{factor:g}x"
            records.append(measure_factor(teacher, tokenizer, factor, folder, args.runs))
    document = {
        "command": shlex.join(["python", "-m", "benchmarks.export_latency", *sys.argv[1:]]),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "date": dt.date.today().isoformat(),
        "model": args.model,
        "teacher_params": count_nonzero_params(teacher),
        "threads": torch.get_num_threads(),
        "runs": args.runs,
        "seq_len": 64,
        "load_average": [round(x, 2) for x in (*load_before, *os.getloadavg())],
        "torch": torch.__version__,
        "exports": records,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
