"""A tabular benchmark of the search space: many points evaluated once at a fixed budget, as CSV.

    python -m benchmarks.tabular --target 0.2 --points 64 --out benchmarks/results/tabular_5x.csv
    python -m benchmarks.tabular --target-range 0.1,0.4 --points 64 \\
        --out benchmarks/results/tabular_pareto.csv

The points are a scrambled Sobol sequence (seed 0) over the parameters the service's
:class:`~ladasearch.search.space.ConstrainedSpace` samples: (P_embd, prune share) at a fixed
target, (target, P_embd position, prune share) over a target range; each is mapped to ratios by
the space itself (eq. 7 solved on rounded ranks), so every row is a point a study could sample.
Each point runs one ``compress_job`` (same teacher, same seed, same budget) and appends a row; a
rerun skips the points already in the file, and ``--shard I/N`` evaluates every N-th point, so
several processes can fill one table (``--merge`` joins their files). ``benchmarks.samplers``
replays samplers on such a table.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ladasearch.commands.common import add_model_argument, add_task_arguments, task_spec_from_args
from ladasearch.compression.accounting import parameter_groups
from ladasearch.compression.pipeline import compress_job
from ladasearch.compression.ratios import RATIO_KEYS, Ratios
from ladasearch.compression.schedule import TrainingSettings
from ladasearch.compression.teacher import TeacherConfig
from ladasearch.models import load_classifier
from ladasearch.search.space import ConstrainedSpace, GroupSizes
from ladasearch.search.study_sections import TeacherSettings, TrialSettings
from ladasearch.search.study_settings import teacher_config, training_settings
from ladasearch.tasks import load_task

__all__ = ["COLUMNS", "main", "points", "read_rows"]

COLUMNS = (
    "point",
    "p_embd",
    "p_svd",
    "p_weight",
    "target",
    "embd_position",
    "prune_share",
    "ratio",
    "params",
    "dev_accuracy",
    "test_accuracy",
    "seed",
    "steps",
    "iterations",
    "wall_s",
)
"""The table's columns; ``target`` is the size fraction asked, ``ratio`` the measured one,
``params`` the nonzero parameter count; ``embd_position`` is empty at a fixed target."""



def settings_from_args(args: argparse.Namespace) -> tuple[TrainingSettings, TeacherConfig]:
    """The runs' training and teacher settings from the shared flags, built as a study's are
    (:mod:`ladasearch.search.study_settings`); the teacher is seeded 0 for every point."""
    trial = TrialSettings(
        iterations=args.iterations,
        steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        max_length=args.max_length,
    )
    teacher = TeacherSettings(steps=args.teacher_steps or None)
    return training_settings(trial), teacher_config(teacher, study_seed=0, max_length=args.max_length)

def points(
    space: ConstrainedSpace, count: int, seed: int = 0
) -> list[tuple[dict[str, Any], dict[str, float]]]:
    """``count`` Sobol points of ``space``: (ratios with ``target_ratio``, the space's params)."""
    from torch.quasirandom import SobolEngine

    fixed = space.target is not None
    sobol = SobolEngine(2 if fixed else 3, scramble=True, seed=seed)
    out = []
    for row in sobol.draw(count).tolist():
        if fixed:
            assert space.target is not None
            low, high = space.sizes.p_embd_range(space.target)
            target, position, share = space.target, row[0], row[1]
        else:
            assert space.target_range is not None
            low_t, high_t = space.target_range
            target = low_t + row[0] * (high_t - low_t)
            low, high = space.sizes.p_embd_range(target)
            position, share = row[1], row[2]
        p_embd = low + position * (high - low)
        params = {"prune_share": share}
        params["p_embd" if fixed else "embd_position"] = p_embd if fixed else position
        if not fixed:
            params["target"] = target
        out.append((space.point_at(target, p_embd, share), params))
    return out


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a table file (empty when it does not exist)."""
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _append(path: Path, row: dict[str, Any]) -> None:
    new = not path.is_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow(row)


def merge(parts: Sequence[Path], out: Path) -> int:
    """Join shard files into ``out``, sorted by point, each point once; return the row count."""
    rows: dict[int, dict[str, str]] = {}
    for part in parts:
        for row in read_rows(part):
            rows.setdefault(int(row["point"]), row)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for index in sorted(rows):
            writer.writerow(rows[index])
    return len(rows)


def _parse_range(text: str) -> tuple[float, float]:
    low, high = (float(v) for v in text.split(","))
    if not 0 < low < high <= 1:
        raise ValueError(f"need 0 < LOW < HIGH <= 1, got {text}")
    return low, high


def main(argv: list[str] | None = None) -> int:
    """Evaluate the table's missing points (or ``--merge`` shard files); return 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_model_argument(parser, required=False)
    add_task_arguments(parser, required=False)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--target", type=float, default=None, help="size fraction, e.g. 0.2 (5x)")
    where.add_argument("--target-range", default=None, metavar="LOW,HIGH")
    parser.add_argument("--points", type=int, default=64)
    parser.add_argument("--shard", default="0/1", metavar="I/N")
    parser.add_argument("--seed", type=int, default=0, help="the runs' seed (the Sobol seed is 0)")
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-4)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--teacher-steps", type=int, default=300, help="0: the recipe's epochs")
    parser.add_argument("--no-test", action="store_true", help="skip the test set (dev only)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--deadline", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--merge", type=Path, nargs="*", default=None, help="shard files to join")
    args = parser.parse_args(argv)
    if args.merge is not None:
        print(f"{merge(args.merge, args.out)} points in {args.out}")
        return 0
    try:
        index, count = (int(v) for v in args.shard.split("/"))
        if not 0 <= index < count:
            raise ValueError("I must be in [0, N)")
        target_range = _parse_range(args.target_range) if args.target_range else None
    except ValueError as error:
        parser.exit(2, f"error: --shard / --target-range: {error}\n")
    target = args.target if target_range is None else None
    if target is None and target_range is None:
        target = 0.2
    spec = task_spec_from_args(args)
    task = load_task(spec)
    net, _ = load_classifier(args.model, task.label_names)
    space = ConstrainedSpace(GroupSizes.of(parameter_groups(net)), target, target_range)
    del net
    training, teacher = settings_from_args(args)
    done = {int(row["point"]) for row in read_rows(args.out)}
    started = time.monotonic()
    for number, (ratios, params) in enumerate(points(space, args.points)):
        if number % count != index or number in done:
            continue
        if args.deadline is not None and time.monotonic() - started > args.deadline:
            print(f"deadline: stopped before point {number}", flush=True)
            break
        metrics = compress_job(
            model=args.model,
            task=spec,
            ratios=Ratios.from_mapping(ratios),
            training=training,
            teacher_config=teacher,
            seed=args.seed,
            device=args.device,
            measure_latency=False,
            cache_dir=args.cache_dir,
            quiet=True,
            score_test=not args.no_test,
        )
        row = {
            "point": number,
            **{k: f"{ratios[k]:.6f}" for k in RATIO_KEYS},
            "target": f"{ratios['target_ratio']:.6f}",
            "embd_position": f"{params['embd_position']:.6f}" if "embd_position" in params else "",
            "prune_share": f"{params['prune_share']:.6f}",
            "ratio": f"{metrics['ratio']:.6f}",
            "params": metrics["params"],
            "dev_accuracy": f"{metrics['accuracy']:.6f}",
            "test_accuracy": f"{metrics['test_accuracy']:.6f}"
            if "test_accuracy" in metrics
            else "",
            "seed": args.seed,
            "steps": args.steps,
            "iterations": args.iterations,
            "wall_s": f"{metrics['timings']['total_s']:.2f}",
        }
        _append(args.out, row)
        print(
            f"point {number}: {row['p_embd']}/{row['p_svd']}/{row['p_weight']} -> dev "
            f"{row['dev_accuracy']}, {row['wall_s']} s",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
