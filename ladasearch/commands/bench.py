"""``ladasearch bench DIR``: interleaved teacher/student latency of an export."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ladasearch.errors import LadaError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``bench`` sub-command."""
    bench = subparsers.add_parser(
        "bench",
        help="time an export against its teacher (interleaved; torch and onnxruntime)",
        description="Teacher (the dense base architecture) and student run in one process, "
        "interleaved round by round after a warm-up; prints the median and interquartile range "
        "of each, batch 1 and 32, 64 tokens, in torch and in onnxruntime.",
    )
    bench.add_argument("model_dir", type=Path, metavar="DIR", help="folder written by export")
    bench.add_argument("--runs", type=int, default=20, help="timed rounds (at least 20)")
    bench.add_argument("--warmup", type=int, default=3, help="untimed rounds first")
    bench.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch and onnxruntime threads (default 1: fair ratios on a shared machine)",
    )
    bench.add_argument(
        "--batch", type=int, action="append", default=None, help="batch size (default 1 and 32)"
    )
    bench.add_argument("--seq-len", type=int, default=64, help="tokens per input")
    bench.add_argument("--no-onnx", dest="onnx", action="store_false", help="torch only")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.set_defaults(func=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    """Print the table (or JSON) of :func:`ladasearch.compression.bench.bench_export`."""
    import torch

    from ladasearch.compression.bench import bench_export, format_rows

    if args.runs < 20:
        raise LadaError(f"--runs must be at least 20 for a median and spread, got {args.runs}")
    if args.threads < 1 or args.seq_len < 1:
        raise LadaError("--threads and --seq-len must be at least 1")
    torch.set_num_threads(args.threads)
    batches = tuple(args.batch or (1, 32))
    if not args.json:
        print(
            f"# {args.model_dir}: {args.runs} interleaved runs after {args.warmup} warm-up, "
            f"{args.seq_len} tokens, {torch.get_num_threads()} threads (torch and onnxruntime)"
        )
        print(format_rows([])[0])
    rows = bench_export(
        args.model_dir,
        batch_sizes=batches,
        seq_len=args.seq_len,
        runs=args.runs,
        warmup=args.warmup,
        onnx=args.onnx,
        echo=None if args.json else print,
    )
    if args.json:
        print(json.dumps({"threads": args.threads, "rows": [r.to_dict() for r in rows]}))
    return 0
