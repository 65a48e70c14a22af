"""Re-run a tabular benchmark's dev-best point with every seed, beside the balanced point.

    python -m benchmarks.gpu_searched --table-glob 'results/tabular/5x_*.csv' --target 5 \\
        --json results/json/methods_5x_searched.json [recipes.py options]

The point is chosen on dev accuracy only (the table's test column is never read for it); it then
runs as the variant "LadaBERT, searched ratios" of the ``methods`` comparison at the same target,
so :mod:`benchmarks.seeded_tables` puts it in the same table as the balanced point and the
baselines, with its paired test against the balanced LadaBERT.
"""

from __future__ import annotations

import argparse
import glob
from pathlib import Path

from benchmarks import recipes
from benchmarks.tabular import read_rows

__all__ = ["dev_best", "main"]

LABEL = "LadaBERT, searched ratios"


def dev_best(rows: list[dict[str, str]]) -> dict[str, str]:
    """The row with the highest dev accuracy (the first of equals); test is never read."""
    return max(rows, key=lambda row: float(row["dev_accuracy"]))


def main(argv: list[str] | None = None) -> int:
    """Pick the dev-best row and run it; return recipes' exit code."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--table-glob", required=True)
    known, rest = parser.parse_known_args(argv)
    rows = [row for path in sorted(glob.glob(known.table_glob)) for row in read_rows(Path(path))]
    if not rows:
        print(f"no rows in {known.table_glob}: nothing to re-run")
        return 2
    best = dev_best(rows)
    point = f"{best['p_embd']},{best['p_svd']},{best['p_weight']}"
    print(f"dev-best of {len(rows)} points: {point} (dev {best['dev_accuracy']})", flush=True)
    target = 1 / float(best["target"])
    return recipes.main(
        [
            *rest,
            "--compare",
            "methods",
            "--target",
            f"{target:g}",
            "--point",
            point,
            "--label",
            LABEL,
            "--only",
            LABEL,
        ]
    )


if __name__ == "__main__":
    raise SystemExit(main())
