"""``ladasearch budget``: eq. 7's parameter groups and the feasible ratio ranges for a target."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ladasearch.commands.common import add_model_argument
from ladasearch.units import format_factor, parse_target

__all__ = ["register"]

GROUP_NOTES = {
    "embedding": "P_embd (word-embedding matrix {shape})",
    "encoder": "P_svd x P_weight ({count} encoder weight matrices)",
    "fixed": "never (classifier, pooler, biases, LayerNorms, position/token-type embeddings)",
}


def register(subparsers: Any) -> None:
    """Add ``budget`` to the CLI."""
    parser = subparsers.add_parser(
        "budget",
        help="parameter groups of eq. 7 and the feasible range of each ratio for a target (no training)",
        description="Show eq. 7's parameter groups and the feasible (P_embd, P_svd, P_weight) ranges for a target.",
    )
    add_model_argument(parser)
    parser.add_argument(
        "--target", required=True, help="overall ratio P, e.g. 0.2, or a factor such as 5x"
    )
    parser.add_argument("--num-labels", type=int, default=2, help="classifier outputs (default 2)")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object as the last line"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the model (no training), compute the groups and ranges, print them."""
    from ladasearch.compression.accounting import (
        feasible_ranges,
        parameter_groups,
        smallest_reachable_ratio,
    )
    from ladasearch.errors import LadaError
    from ladasearch.models import load_classifier

    target = parse_target(args.target)
    if args.num_labels < 2:
        raise LadaError(f"--num-labels must be at least 2, got {args.num_labels}")
    model, _ = load_classifier(args.model, [f"LABEL_{i}" for i in range(args.num_labels)])
    groups = parameter_groups(model)
    smallest = smallest_reachable_ratio(groups)
    ranges = feasible_ranges(groups, target)
    report = {
        "model": args.model,
        "architecture": model.__class__.__name__,
        "groups": groups.to_dict(),
        "target": target,
        "target_factor": 1.0 / target,
        "target_params": round(target * groups.total),
        "smallest_reachable_ratio": smallest,
        "feasible": {
            "p_embd": list(ranges.p_embd),
            "p_svd": list(ranges.p_svd),
            "p_weight": list(ranges.p_weight),
        },
    }
    _print_table(report, groups.embedding_shape, len(groups.encoder_shapes))
    if args.json:
        print(json.dumps(report))
    return 0


def _print_table(report: dict[str, Any], embedding_shape: tuple[int, int], matrices: int) -> None:
    groups = report["groups"]
    total = groups["total"]
    print(f"{report['model']} ({report['architecture']}): {total:,} parameters")
    print(f"  {'group':<10} {'parameters':>12} {'share':>7}  compressed by")
    for name in ("embedding", "encoder", "fixed"):
        note = GROUP_NOTES[name].format(
            shape=f"{embedding_shape[0]} x {embedding_shape[1]}", count=matrices
        )
        print(f"  {name:<10} {groups[name]:>12,} {groups[name] / total:>7.1%}  {note}")
    target = report["target"]
    print(
        f"target P = {target:.4f} ({format_factor(target)}): {report['target_params']:,} parameters"
    )
    for name, (low, high) in report["feasible"].items():
        print(f"  feasible {name:<9} in [{low:.4g}, {high:.4g}]")
    smallest = report["smallest_reachable_ratio"]
    print(f"  smallest reachable ratio: {smallest:.4f} ({format_factor(smallest)})")
