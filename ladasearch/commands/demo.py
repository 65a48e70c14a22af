"""``ladasearch demo``: a small real search, its Pareto plot and the best model, in one command."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``demo`` sub-command."""
    demo = subparsers.add_parser(
        "demo",
        help="a small real search on the offline model and task, its plot and best model",
        description="Searches studies/demo.yaml (minilm on rt, SQLite and Ray on this machine): "
        "seed points at the paper's ratios, then as many trials the TPE sampler chooses; prints "
        "which improved on the seeds, writes pareto.html and exports the best trial. Prints its "
        "budget and estimated time when it starts (the goal: 15 minutes on a 2-core CPU; "
        "measured time: README).",
    )
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("ladasearch-demo"),
        metavar="DIR",
        help="folder for the database, models and outputs (default: ./ladasearch-demo)",
    )
    demo.add_argument("--trials", type=int, default=None, metavar="N", help="trials (default: the study file's)")
    demo.add_argument("--steps", type=int, default=None, help="distillation steps per iteration")
    demo.add_argument("--iterations", type=int, default=None, help="compress-distill iterations")
    demo.set_defaults(func=run_demo_command)


def run_demo_command(args: argparse.Namespace) -> int:
    """Run the demo and print where each file is and how to open the dashboard."""
    from ladasearch.demo import run_demo
    from ladasearch.errors import LadaError

    for name in ("trials", "steps", "iterations"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise LadaError(f"--{name} must be a positive integer, got {value}")
    result = run_demo(args.out, trials=args.trials, steps=args.steps, iterations=args.iterations)
    retrained = " (retrained: the trial's model was not kept)" if result.retrained else ""
    print()
    print("Done. Your files:")
    print(f"  Pareto plot (offline HTML): {result.html}")
    print(f"  best model, trial {result.best_trial}{retrained}: {result.export_dir}/")
    print(f"    model card: {result.export_dir / 'README.md'}")
    print(f"    configuration: {result.export_dir / 'ladasearch-config.yaml'}")
    print(f"  study database: {result.storage_url}")
    print("Next:")
    print(f"  open {result.html.as_uri()}")
    print(f"  ladasearch dashboard --storage {result.storage_url}")
    print(f'  ladasearch predict {result.export_dir} --text "a gripping, beautifully acted film"')
    return 0
