"""Render the tables of comparisons that ran split over several processes.

    python -m benchmarks.seeded_tables results/*.json [--out FILE]

Each file is one ``benchmarks/recipes.py --json`` run (a subset of a comparison's variants, every
seed). Files of the same comparison (same ``compare``, target, task, model and budget) are merged;
variants come in the comparison's own order, so the reference of the paired tests is the same as
in a single-process run. A file whose gold labels differ from its group's is refused (it was run
on another split).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from benchmarks.seeded import VariantResult, load_results, render
from ladasearch.errors import LadaError

__all__ = ["Comparison", "group", "main"]


class Comparison:
    """The merged results of one comparison."""

    def __init__(self, meta: dict[str, Any], dev_labels: list[int], test_labels: list[int]):
        self.meta = meta
        self.dev_labels = dev_labels
        self.test_labels = test_labels
        self.results: dict[str, VariantResult] = {}

    def add(self, results: list[VariantResult]) -> None:
        """Add variants; seeds of a variant seen before are appended (a seed once)."""
        for result in results:
            known = self.results.get(result.variant.name)
            if known is None:
                self.results[result.variant.name] = result
                continue
            seen = {run.get("seed") for run in known.runs}
            known.runs.extend(run for run in result.runs if run.get("seed") not in seen)

    def ordered(self) -> list[VariantResult]:
        """The variants in the comparison's order (its reference first)."""
        order = list(self.meta.get("order") or [])
        rank = {name: i for i, name in enumerate(order)}
        return sorted(self.results.values(), key=lambda r: rank.get(r.variant.name, len(rank)))

    def title(self) -> str:
        """One line naming the comparison and its budget."""
        meta, budget = self.meta, self.meta.get("budget", {})
        return (
            f"`{meta['compare']}` at {meta['target']:g}x, {meta['model']} on {meta['task']}: "
            f"{budget.get('iterations')} iterations x {budget.get('steps')} steps, batch "
            f"{budget.get('batch_size')}, lr {budget.get('learning_rate')}, factorization "
            f"{budget.get('factorization')}, device {meta.get('device')}"
        )


def _key(meta: dict[str, Any]) -> str:
    return json.dumps(
        [meta["compare"], meta["target"], meta["model"], meta["task"], meta.get("budget")],
        sort_keys=True,
    )


def group(paths: list[Path]) -> list[Comparison]:
    """Merge the files into comparisons, in the order their first file was given."""
    comparisons: dict[str, Comparison] = {}
    for path in paths:
        results, dev_labels, test_labels, meta = load_results(path)
        key = _key(meta)
        comparison = comparisons.get(key)
        if comparison is None:
            comparison = comparisons[key] = Comparison(meta, dev_labels, test_labels)
        elif (dev_labels, test_labels) != (comparison.dev_labels, comparison.test_labels):
            raise LadaError(f"{path}: its labels differ from its comparison's (another split?)")
        if meta.get("order") and not comparison.meta.get("order"):
            comparison.meta["order"] = meta["order"]
        comparison.add(results)
    return list(comparisons.values())


def main(argv: list[str] | None = None) -> int:
    """Print (and with ``--out`` write) every comparison's table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        comparisons = group(sorted(args.files))
    except (LadaError, OSError, ValueError, KeyError) as error:
        parser.exit(2, f"error: {error}\n")
    blocks = [
        f"{c.title()}\n\n{render(c.ordered(), c.dev_labels, c.test_labels)}" for c in comparisons
    ]
    text = "\n\n".join(blocks)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
